"""Trials: the seed-000 outreach flow through the client."""

from __future__ import annotations

from custodian_client import Client, Conflict


def test_participant_outbound_twice_is_one_event(client: Client, unique: str) -> None:
    participant = client.trials.create_participant(
        first_name="Maria",
        last_name=f"Lopez-{unique}",
        date_of_birth="1965-05-17",
        phone="+15555550123",
        preferred_channel="voice",
        contact_consent=True,
    )
    assert participant.mary_id.startswith("v1_")

    first = client.trials.log_event(participant.id, "call_placed", channel="voice", idempotency_key=f"call-{unique}")
    again = client.trials.log_event(participant.id, "call_placed", channel="voice", idempotency_key=f"call-{unique}")
    assert first.duplicate is False
    assert again.duplicate is True and again.event_id == first.event_id

    rows = client.events.list_events(subject_id=participant.id).to_list()
    assert len(rows) == 1
    assert rows[0].id == first.event_id and rows[0].event_type == "call_placed"
    assert client.trials.get_participant_by_mary_id(participant.mary_id).id == participant.id


def test_enroll_book_remind_and_stop_contact(client: Client, unique: str) -> None:
    p = client.trials.create_participant(
        first_name="Jon", last_name=f"Doe-{unique}", date_of_birth="1980-01-01", contact_consent=True
    )
    enrollment = client.trials.enroll_in_trial(participant_id=p.id, trial_id="diabetes-study-a", pipeline_status="SCREENING")
    assert enrollment.pipeline_status == "SCREENING"
    assert client.trials.get_participant_trial(p.id, "diabetes-study-a").id == enrollment.id
    appt = client.trials.create_appointment(
        participant_id=p.id, trial_id="diabetes-study-a", visit_type="screening", scheduled_at="2031-03-04T15:00:00Z"
    )
    assert client.trials.send_reminder(appt.id, idempotency_key=f"remind-{unique}").duplicate is False

    client.trials.create_handoff(participant_id=p.id, handoff_type="STOP_CONTACT", reason="asked not to be called")
    try:
        client.trials.log_event(p.id, "sms_sent", channel="text", idempotency_key=f"sms-{unique}")
    except Conflict as e:
        assert "no contact consent" in (e.detail or "")
    else:  # pragma: no cover
        raise AssertionError("outbound contact after STOP_CONTACT must be refused")
