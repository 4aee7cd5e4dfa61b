# Generated from ../_async/trials.py by clients/python/generate.py. Do not edit.
"""Clinical-trial outreach (``/v1/trials``), with the source application's names."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from ..bodies import body, seg
from ..models.trials import (
    AgentReasoning,
    Appointment,
    AppointmentPatch,
    Conversation,
    ConversationPatch,
    Criteria,
    EnrollmentPatch,
    Handoff,
    HandoffResolution,
    NewAgentReasoning,
    NewAppointment,
    NewConversation,
    NewEnrollment,
    NewHandoff,
    NewOutbound,
    NewParticipant,
    NewReminder,
    NewRide,
    NewTrial,
    Outbound,
    Participant,
    ParticipantLookup,
    ParticipantPatch,
    ParticipantTrial,
    Ride,
    RidePatch,
    SignedUrl,
    Trial,
    TrialPatch,
)
from .base import Resource
from .pager import Pager

Order = str | Iterable[str] | None
Body = Mapping[str, Any] | None


class Trials(Resource):
    """Participants, enrollments, appointments, conversations, handoffs, rides, trials."""

    # Participants

    def create_participant(
        self, participant: NewParticipant | Body = None, /, *, idempotency_key: str | None = None, **fields: Any
    ) -> Participant:
        """Recruit someone; their ``mary_id`` is made server-side. The same person again is a ``Conflict``."""
        return self._t.call(
            "POST",
            "/v1/trials/participants",
            Participant,
            json=body(NewParticipant, participant, fields),
            idempotency_key=idempotency_key,
        )

    def get_participant(self, participant_id: UUID | str) -> Participant:
        return self._t.call("GET", f"/v1/trials/participants/{seg(participant_id)}", Participant)

    get_participant_by_id = get_participant

    def get_participant_by_mary_id(self, mary_id: str) -> Participant:
        return self._t.call("GET", f"/v1/trials/participants/by_mary_id/{seg(mary_id)}", Participant)

    def lookup_participant(
        self, lookup: ParticipantLookup | Body = None, /, *, idempotency_key: str | None = None, **fields: Any
    ) -> Participant:
        """Find a participant by name and date of birth (sent in the body, never in a URL)."""
        return self._t.call(
            "POST",
            "/v1/trials/participants/lookup",
            Participant,
            json=body(ParticipantLookup, lookup, fields),
            idempotency_key=idempotency_key,
        )

    def list_participants(
        self, *, order: Order = None, limit: int | None = None, count: bool = False, **filters: Any
    ) -> Pager[Participant]:
        return self._list("/v1/trials/participants", Participant, filters, order=order, limit=limit, count=count)

    def update_participant(
        self, participant_id: UUID | str, update: ParticipantPatch | Body = None, /, **fields: Any
    ) -> Participant:
        return self._t.call(
            "PATCH",
            f"/v1/trials/participants/{seg(participant_id)}",
            Participant,
            json=body(ParticipantPatch, update, fields),
        )

    def log_event(
        self,
        participant_id: UUID | str,
        event_type: str,
        *,
        channel: str,
        idempotency_key: str,
        payload: Mapping[str, Any] | None = None,
        provenance: str | None = None,
    ) -> Outbound:
        """Record an outbound action to a participant before taking it.

        The seed's ``log_event`` for outreach: the server checks contact
        consent (``Conflict`` once revoked) and records the event. The same
        ``idempotency_key`` again answers ``duplicate=True`` with the first
        event's id, so an action is taken once however often it is retried.
        """
        fields: dict[str, Any] = {"event_type": event_type, "channel": channel, "idempotency_key": idempotency_key}
        if payload is not None:
            fields["payload"] = payload
        if provenance is not None:
            fields["provenance"] = provenance
        return self._t.call(
            "POST",
            f"/v1/trials/participants/{seg(participant_id)}/outbound",
            Outbound,
            json=body(NewOutbound, fields),
        )

    log_outbound = log_event

    # Enrollments

    def enroll_in_trial(
        self, enrollment: NewEnrollment | Body = None, /, *, idempotency_key: str | None = None, **fields: Any
    ) -> ParticipantTrial:
        return self._t.call(
            "POST",
            "/v1/trials/enrollments",
            ParticipantTrial,
            json=body(NewEnrollment, enrollment, fields),
            idempotency_key=idempotency_key,
        )

    def get_participant_trial(self, participant_id: UUID | str, trial_id: str) -> ParticipantTrial:
        return self._t.call(
            "GET", f"/v1/trials/participants/{seg(participant_id)}/trials/{seg(trial_id)}", ParticipantTrial
        )

    def list_enrollments(
        self, *, order: Order = None, limit: int | None = None, count: bool = False, **filters: Any
    ) -> Pager[ParticipantTrial]:
        return self._list("/v1/trials/enrollments", ParticipantTrial, filters, order=order, limit=limit, count=count)

    def update_enrollment(
        self, enrollment_id: UUID | str, update: EnrollmentPatch | Body = None, /, **fields: Any
    ) -> ParticipantTrial:
        return self._t.call(
            "PATCH",
            f"/v1/trials/enrollments/{seg(enrollment_id)}",
            ParticipantTrial,
            json=body(EnrollmentPatch, update, fields),
        )

    # Appointments

    def create_appointment(
        self, appointment: NewAppointment | Body = None, /, *, idempotency_key: str | None = None, **fields: Any
    ) -> Appointment:
        return self._t.call(
            "POST",
            "/v1/trials/appointments",
            Appointment,
            json=body(NewAppointment, appointment, fields),
            idempotency_key=idempotency_key,
        )

    def get_appointment(self, appointment_id: UUID | str) -> Appointment:
        return self._t.call("GET", f"/v1/trials/appointments/{seg(appointment_id)}", Appointment)

    def list_appointments(
        self, *, order: Order = None, limit: int | None = None, count: bool = False, **filters: Any
    ) -> Pager[Appointment]:
        return self._list("/v1/trials/appointments", Appointment, filters, order=order, limit=limit, count=count)

    def update_appointment(
        self, appointment_id: UUID | str, update: AppointmentPatch | Body = None, /, **fields: Any
    ) -> Appointment:
        return self._t.call(
            "PATCH",
            f"/v1/trials/appointments/{seg(appointment_id)}",
            Appointment,
            json=body(AppointmentPatch, update, fields),
        )

    def send_reminder(
        self, appointment_id: UUID | str, *, idempotency_key: str, channel: str | None = None
    ) -> Outbound:
        """Record a reminder for a visit (consent-checked, once per ``idempotency_key``)."""
        fields: dict[str, Any] = {"idempotency_key": idempotency_key}
        if channel is not None:
            fields["channel"] = channel
        return self._t.call(
            "POST",
            f"/v1/trials/appointments/{seg(appointment_id)}/reminders",
            Outbound,
            json=body(NewReminder, fields),
        )

    # Conversations

    def create_conversation(
        self, conversation: NewConversation | Body = None, /, *, idempotency_key: str | None = None, **fields: Any
    ) -> Conversation:
        return self._t.call(
            "POST",
            "/v1/trials/conversations",
            Conversation,
            json=body(NewConversation, conversation, fields),
            idempotency_key=idempotency_key,
        )

    def get_conversation(self, conversation_id: UUID | str) -> Conversation:
        return self._t.call("GET", f"/v1/trials/conversations/{seg(conversation_id)}", Conversation)

    def list_conversations(
        self, *, order: Order = None, limit: int | None = None, count: bool = False, **filters: Any
    ) -> Pager[Conversation]:
        return self._list("/v1/trials/conversations", Conversation, filters, order=order, limit=limit, count=count)

    def update_conversation(
        self, conversation_id: UUID | str, update: ConversationPatch | Body = None, /, **fields: Any
    ) -> Conversation:
        return self._t.call(
            "PATCH",
            f"/v1/trials/conversations/{seg(conversation_id)}",
            Conversation,
            json=body(ConversationPatch, update, fields),
        )

    def get_recording_url(self, conversation_id: UUID | str) -> SignedUrl:
        """A short-lived signed URL of the conversation's recording (relative to the server)."""
        return self._t.call("GET", f"/v1/trials/conversations/{seg(conversation_id)}/audio", SignedUrl)

    # Handoffs

    def create_handoff(
        self, handoff: NewHandoff | Body = None, /, *, idempotency_key: str | None = None, **fields: Any
    ) -> Handoff:
        """A ticket for a coordinator; ``STOP_CONTACT`` also revokes contact consent."""
        return self._t.call(
            "POST",
            "/v1/trials/handoffs",
            Handoff,
            json=body(NewHandoff, handoff, fields),
            idempotency_key=idempotency_key,
        )

    def get_handoff(self, handoff_id: UUID | str) -> Handoff:
        return self._t.call("GET", f"/v1/trials/handoffs/{seg(handoff_id)}", Handoff)

    def list_handoffs(
        self, *, order: Order = None, limit: int | None = None, count: bool = False, **filters: Any
    ) -> Pager[Handoff]:
        return self._list("/v1/trials/handoffs", Handoff, filters, order=order, limit=limit, count=count)

    def claim_handoff(self, handoff_id: UUID | str, *, idempotency_key: str | None = None) -> Handoff:
        return self._t.call(
            "POST", f"/v1/trials/handoffs/{seg(handoff_id)}/claim", Handoff, idempotency_key=idempotency_key
        )

    def resolve_handoff(
        self, handoff_id: UUID | str, *, note: str | None = None, idempotency_key: str | None = None
    ) -> Handoff:
        fields = {"note": note} if note is not None else {}
        return self._t.call(
            "POST",
            f"/v1/trials/handoffs/{seg(handoff_id)}/resolve",
            Handoff,
            json=body(HandoffResolution, fields),
            idempotency_key=idempotency_key,
        )

    # Rides

    def create_ride(
        self, ride: NewRide | Body = None, /, *, idempotency_key: str | None = None, **fields: Any
    ) -> Ride:
        return self._t.call(
            "POST", "/v1/trials/rides", Ride, json=body(NewRide, ride, fields), idempotency_key=idempotency_key
        )

    def get_ride(self, ride_id: UUID | str) -> Ride:
        return self._t.call("GET", f"/v1/trials/rides/{seg(ride_id)}", Ride)

    def list_rides(self, *, order: Order = None, limit: int | None = None, count: bool = False, **filters: Any) -> Pager[Ride]:
        return self._list("/v1/trials/rides", Ride, filters, order=order, limit=limit, count=count)

    def update_ride(self, ride_id: UUID | str, update: RidePatch | Body = None, /, **fields: Any) -> Ride:
        return self._t.call("PATCH", f"/v1/trials/rides/{seg(ride_id)}", Ride, json=body(RidePatch, update, fields))

    # Trials

    def create_trial(
        self, trial: NewTrial | Body = None, /, *, idempotency_key: str | None = None, **fields: Any
    ) -> Trial:
        return self._t.call(
            "POST", "/v1/trials/trials", Trial, json=body(NewTrial, trial, fields), idempotency_key=idempotency_key
        )

    def get_trial(self, trial_id: str) -> Trial:
        return self._t.call("GET", f"/v1/trials/trials/{seg(trial_id)}", Trial)

    def get_trial_criteria(self, trial_id: str) -> Criteria:
        return self._t.call("GET", f"/v1/trials/trials/{seg(trial_id)}/criteria", Criteria)

    def list_trials(self, *, order: Order = None, limit: int | None = None, count: bool = False, **filters: Any) -> Pager[Trial]:
        return self._list("/v1/trials/trials", Trial, filters, order=order, limit=limit, count=count)

    def list_active_trials(self) -> Pager[Trial]:
        return self.list_trials(active=True)

    def update_trial(self, trial_id: str, update: TrialPatch | Body = None, /, **fields: Any) -> Trial:
        return self._t.call(
            "PATCH", f"/v1/trials/trials/{seg(trial_id)}", Trial, json=body(TrialPatch, update, fields)
        )

    # Agent reasoning (admin and service keys)

    def create_agent_reasoning(
        self, reasoning: NewAgentReasoning | Body = None, /, *, idempotency_key: str | None = None, **fields: Any
    ) -> AgentReasoning:
        return self._t.call(
            "POST",
            "/v1/trials/agent_reasoning",
            AgentReasoning,
            json=body(NewAgentReasoning, reasoning, fields),
            idempotency_key=idempotency_key,
        )

    def list_agent_reasoning(
        self, *, order: Order = None, limit: int | None = None, **filters: Any
    ) -> Pager[AgentReasoning]:
        return self._list("/v1/trials/agent_reasoning", AgentReasoning, filters, order=order, limit=limit)
