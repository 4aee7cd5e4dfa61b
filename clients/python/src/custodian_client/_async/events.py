"""The core routes: the idempotent event log and the audit chain."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from ..bodies import body, seg
from ..models import AuditEntry, Event, NewEvent, Recorded, Verification
from .base import AsyncResource
from .pager import AsyncPager


class AsyncEvents(AsyncResource):
    """``/v1/events``: the append-only event log."""

    async def log_event(
        self,
        event_type: str,
        *,
        subject_type: str | None = None,
        subject_id: UUID | str | None = None,
        payload: Mapping[str, Any] | None = None,
        provenance: str | None = None,
        idempotency_key: str | None = None,
    ) -> Recorded:
        """Record an event; ``duplicate`` is true when its ``idempotency_key`` was seen before.

        ``idempotency_key`` is the event's own key (the seed's dedup key): a
        later call with it writes nothing and answers the first event's id.
        The request's ``Idempotency-Key`` header is separate and fresh per
        call, so the retries of one call are replays of it.
        """
        fields: dict[str, Any] = {"event_type": event_type}
        for name, value in (
            ("subject_type", subject_type),
            ("subject_id", subject_id),
            ("payload", payload),
            ("provenance", provenance),
            ("idempotency_key", idempotency_key),
        ):
            if value is not None:
                fields[name] = value
        return await self._t.call(
            "POST", "/v1/events", Recorded, json=body(NewEvent, fields)
        )

    def list_events(
        self, *, order: str | Iterable[str] | None = None, limit: int | None = None, count: bool = False, **filters: Any
    ) -> AsyncPager[Event]:
        """Events matching the filters (``event_type="sms_sent"``, ``created_at__gte=...``)."""
        return self._list("/v1/events", Event, filters, order=order, limit=limit, count=count)

    async def get_event(self, event_id: UUID | str) -> Event:
        return await self._t.call("GET", f"/v1/events/{seg(event_id)}", Event)


class AsyncAudit(AsyncResource):
    """``/v1/audit``: the hash-chained audit log (admin and auditor keys)."""

    def list_entries(
        self, *, order: str | Iterable[str] | None = None, limit: int | None = None, count: bool = False, **filters: Any
    ) -> AsyncPager[AuditEntry]:
        """Chain entries, oldest first unless ``order`` says otherwise."""
        return self._list("/v1/audit", AuditEntry, filters, order=order, limit=limit, count=count)

    async def verify(self) -> Verification:
        """Walk the chain; ``first_break`` names the first altered, deleted or reordered entry."""
        return await self._t.call("GET", "/v1/audit/verify", Verification)
