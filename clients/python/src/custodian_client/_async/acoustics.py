"""Knee acoustic-emission study metadata (``/v1/acoustics``), with the source pipeline's names.

Saves are upserts on each record's natural key (participant, maneuver,
knee, and pass and speed for walks): a re-run of the pipeline replaces the
record instead of adding one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast
from uuid import UUID

from ..bodies import body, seg
from ..models.acoustics import (
    AudioProcessing,
    AudioProcessingRecord,
    AudioProcessingSave,
    BiomechanicsImport,
    BiomechanicsImportRecord,
    BiomechanicsImportSave,
    MovementCycleDetailRecord,
    MovementCycles,
    MovementCyclesRecord,
    MovementCyclesSave,
    NewParticipant,
    NewStudy,
    Participant,
    Study,
    Synchronization,
    SynchronizationRecord,
    SynchronizationSave,
)
from .base import AsyncResource
from .pager import AsyncPager

Order = str | Iterable[str] | None
Body = Mapping[str, Any] | None


def _record_filters(
    study_name: str | None, participant_number: int | None, maneuver: str | None, filters: Mapping[str, Any]
) -> dict[str, Any]:
    named = {"study": study_name, "participant_number": participant_number, "maneuver": maneuver}
    return {**{k: v for k, v in named.items() if v is not None}, **filters}


class AsyncAcoustics(AsyncResource):
    """Studies, participants, audio processing, biomechanics, synchronizations, movement cycles."""

    async def save_audio_processing(
        self,
        audio: AudioProcessing | Body,
        *,
        pkl_file_path: str | None = None,
        idempotency_key: str | None = None,
    ) -> AudioProcessingRecord:
        """Save one maneuver's audio processing record (created, or replaced on its natural key)."""
        fields: dict[str, Any] = {"audio": audio.model_dump(exclude_unset=True) if isinstance(audio, AudioProcessing) else audio}
        if pkl_file_path is not None:
            fields["pkl_file_path"] = pkl_file_path
        return await self._t.call(
            "POST",
            "/v1/acoustics/audio_processing",
            AudioProcessingRecord,
            json=body(AudioProcessingSave, fields),
            idempotency_key=idempotency_key,
        )

    def get_audio_processing_records(
        self,
        study_name: str | None = None,
        participant_number: int | None = None,
        maneuver: str | None = None,
        *,
        order: Order = None,
        limit: int | None = None,
        **filters: Any,
    ) -> AsyncPager[AudioProcessingRecord]:
        return self._list(
            "/v1/acoustics/audio_processing",
            AudioProcessingRecord,
            _record_filters(study_name, participant_number, maneuver, filters),
            order=order,
            limit=limit,
        )

    async def get_audio_processing(self, record_id: UUID | str) -> AudioProcessingRecord:
        return await self._t.call("GET", f"/v1/acoustics/audio_processing/{seg(record_id)}", AudioProcessingRecord)

    async def save_biomechanics_import(
        self,
        biomechanics: BiomechanicsImport | Body,
        *,
        file_path: str | None = None,
        idempotency_key: str | None = None,
    ) -> BiomechanicsImportRecord:
        record = biomechanics.model_dump(exclude_unset=True) if isinstance(biomechanics, BiomechanicsImport) else biomechanics
        fields: dict[str, Any] = {"import": record}
        if file_path is not None:
            fields["file_path"] = file_path
        return await self._t.call(
            "POST",
            "/v1/acoustics/biomechanics_imports",
            BiomechanicsImportRecord,
            json=body(BiomechanicsImportSave, fields),
            idempotency_key=idempotency_key,
        )

    def get_biomechanics_imports(
        self,
        study_name: str | None = None,
        participant_number: int | None = None,
        maneuver: str | None = None,
        *,
        order: Order = None,
        limit: int | None = None,
        **filters: Any,
    ) -> AsyncPager[BiomechanicsImportRecord]:
        return self._list(
            "/v1/acoustics/biomechanics_imports",
            BiomechanicsImportRecord,
            _record_filters(study_name, participant_number, maneuver, filters),
            order=order,
            limit=limit,
        )

    async def save_synchronization(
        self,
        synchronization: Synchronization | Body,
        *,
        pkl_file_path: str | None = None,
        idempotency_key: str | None = None,
    ) -> SynchronizationRecord:
        record = (
            synchronization.model_dump(exclude_unset=True)
            if isinstance(synchronization, Synchronization)
            else synchronization
        )
        fields: dict[str, Any] = {"synchronization": record}
        if pkl_file_path is not None:
            fields["pkl_file_path"] = pkl_file_path
        return await self._t.call(
            "POST",
            "/v1/acoustics/synchronizations",
            SynchronizationRecord,
            json=body(SynchronizationSave, fields),
            idempotency_key=idempotency_key,
        )

    def get_synchronizations(
        self,
        study_name: str | None = None,
        participant_number: int | None = None,
        maneuver: str | None = None,
        *,
        order: Order = None,
        limit: int | None = None,
        **filters: Any,
    ) -> AsyncPager[SynchronizationRecord]:
        return self._list(
            "/v1/acoustics/synchronizations",
            SynchronizationRecord,
            _record_filters(study_name, participant_number, maneuver, filters),
            order=order,
            limit=limit,
        )

    async def save_movement_cycles(
        self,
        cycles: MovementCycles | Body,
        details: Iterable[Mapping[str, Any]] | None = None,
        *,
        pkl_file_path: str | None = None,
        idempotency_key: str | None = None,
    ) -> MovementCyclesRecord:
        """Save a maneuver's cycle summary and its per-cycle rows together."""
        summary = cycles.model_dump(exclude_unset=True) if isinstance(cycles, MovementCycles) else cycles
        fields: dict[str, Any] = {"cycles": summary}
        if details is not None:
            fields["details"] = list(details)
        if pkl_file_path is not None:
            fields["pkl_file_path"] = pkl_file_path
        return await self._t.call(
            "POST",
            "/v1/acoustics/movement_cycles",
            MovementCyclesRecord,
            json=body(MovementCyclesSave, fields),
            idempotency_key=idempotency_key,
        )

    def get_movement_cycles(
        self,
        study_name: str | None = None,
        participant_number: int | None = None,
        maneuver: str | None = None,
        *,
        order: Order = None,
        limit: int | None = None,
        **filters: Any,
    ) -> AsyncPager[MovementCyclesRecord]:
        return self._list(
            "/v1/acoustics/movement_cycles",
            MovementCyclesRecord,
            _record_filters(study_name, participant_number, maneuver, filters),
            order=order,
            limit=limit,
        )

    async def get_movement_cycle_details(self, cycles_id: UUID | str) -> list[MovementCycleDetailRecord]:
        return cast(
            list[MovementCycleDetailRecord],
            await self._t.call(
                "GET", f"/v1/acoustics/movement_cycles/{seg(cycles_id)}/details", list[MovementCycleDetailRecord]
            ),
        )

    # Studies and participants

    async def create_study(self, name: str, *, idempotency_key: str | None = None, **fields: Any) -> Study:
        return await self._t.call(
            "POST",
            "/v1/acoustics/studies",
            Study,
            json=body(NewStudy, {"name": name}, fields),
            idempotency_key=idempotency_key,
        )

    def list_studies(self, *, order: Order = None, limit: int | None = None, **filters: Any) -> AsyncPager[Study]:
        return self._list("/v1/acoustics/studies", Study, filters, order=order, limit=limit)

    async def create_participant(
        self, participant: NewParticipant | Body = None, /, *, idempotency_key: str | None = None, **fields: Any
    ) -> Participant:
        return await self._t.call(
            "POST",
            "/v1/acoustics/participants",
            Participant,
            json=body(NewParticipant, participant, fields),
            idempotency_key=idempotency_key,
        )

    def list_participants(self, *, order: Order = None, limit: int | None = None, **filters: Any) -> AsyncPager[Participant]:
        return self._list("/v1/acoustics/participants", Participant, filters, order=order, limit=limit)

    async def delete_participant(self, participant_id: UUID | str) -> None:
        """Delete a participant and every record of theirs."""
        await self._t.call("DELETE", f"/v1/acoustics/participants/{seg(participant_id)}", None)
