"""Claims triage (``/v1/claims``), with the source application's names."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from ..bodies import body, seg
from ..models import AuditEntry
from ..models.claims import (
    Case,
    CasePatch,
    Document,
    DocumentPatch,
    NewCase,
    NewDocument,
    NewTeam,
    NewTriageResult,
    NewUser,
    Snapshot,
    Team,
    TeamPatch,
    TriageResult,
    TriageResultPatch,
    User,
    UserPatch,
)
from .base import AsyncResource
from .pager import AsyncPager

Order = str | Iterable[str] | None
Embed = str | Iterable[str] | None


def _embed(embed: Embed) -> str | None:
    """``["team", "documents"]`` -> ``team,documents`` (the server's ``embed=``)."""
    if embed is None or isinstance(embed, str):
        return embed or None
    return ",".join(embed) or None


class AsyncClaims(AsyncResource):
    """Cases, teams, users, documents, triage results and snapshots."""

    # Cases

    async def create_case(
        self, case: NewCase | Mapping[str, Any] | None = None, /, *, idempotency_key: str | None = None, **fields: Any
    ) -> Case:
        return await self._t.call(
            "POST", "/v1/claims/cases", Case, json=body(NewCase, case, fields), idempotency_key=idempotency_key
        )

    async def get_case(
        self, case_id: UUID | str, *, include_deleted: bool | None = None, embed: Embed = None
    ) -> Case:
        """One case; ``embed=["team", "assignee", "documents", "triage_results"]`` brings those along."""
        params = [("include_deleted", "true")] if include_deleted else []
        if embed is not None:
            params.append(("embed", _embed(embed) or ""))
        return await self._t.call("GET", f"/v1/claims/cases/{seg(case_id)}", Case, params=params or None)

    def list_cases(
        self,
        *,
        sla_breached: bool | None = None,
        include_deleted: bool | None = None,
        embed: Embed = None,
        metadata: Mapping[str, Any] | None = None,
        order: Order = None,
        limit: int | None = None,
        count: bool = False,
        **filters: Any,
    ) -> AsyncPager[Case]:
        """Cases matching the filters, e.g. ``status="pending", urgency_level=["high", "critical"]``.

        ``sla_breached`` is computed at read time, so it is a parameter of
        its own rather than a column filter. ``metadata={"channel": "phone"}``
        filters on keys of the intake metadata (``metadata->>channel=eq.phone``;
        ``{"channel__ilike": "ph*"}`` takes an operator), and ``embed`` brings
        related rows along as on :meth:`get_case`.
        """
        keyed = {f"metadata->>{k}": v for k, v in (metadata or {}).items()}
        return self._list(
            "/v1/claims/cases",
            Case,
            {**filters, **keyed},
            order=order,
            limit=limit,
            count=count,
            plain={"sla_breached": sla_breached, "include_deleted": include_deleted, "embed": _embed(embed)},
        )

    async def update_case(
        self, case_id: UUID | str, update: CasePatch | Mapping[str, Any] | None = None, /, **fields: Any
    ) -> Case:
        """Change only the fields given (a status follows the workflow; else ``Conflict``)."""
        return await self._t.call(
            "PATCH", f"/v1/claims/cases/{seg(case_id)}", Case, json=body(CasePatch, update, fields)
        )

    async def delete_case(self, case_id: UUID | str) -> None:
        """Soft delete: the case leaves lists and reads by id."""
        await self._t.call("DELETE", f"/v1/claims/cases/{seg(case_id)}", None)

    def case_history(self, case_id: UUID | str, *, include_deleted: bool | None = None) -> AsyncPager[AuditEntry]:
        """The case's entries in the audit chain."""
        return self._list(
            f"/v1/claims/cases/{seg(case_id)}/history", AuditEntry, {}, plain={"include_deleted": include_deleted}
        )

    # Teams

    async def create_team(
        self, team: NewTeam | Mapping[str, Any] | None = None, /, *, idempotency_key: str | None = None, **fields: Any
    ) -> Team:
        return await self._t.call(
            "POST", "/v1/claims/teams", Team, json=body(NewTeam, team, fields), idempotency_key=idempotency_key
        )

    async def get_team(self, team_id: UUID | str) -> Team:
        return await self._t.call("GET", f"/v1/claims/teams/{seg(team_id)}", Team)

    def list_teams(self, *, order: Order = None, limit: int | None = None, count: bool = False, **filters: Any) -> AsyncPager[Team]:
        return self._list("/v1/claims/teams", Team, filters, order=order, limit=limit, count=count)

    async def update_team(
        self, team_id: UUID | str, update: TeamPatch | Mapping[str, Any] | None = None, /, **fields: Any
    ) -> Team:
        return await self._t.call("PATCH", f"/v1/claims/teams/{seg(team_id)}", Team, json=body(TeamPatch, update, fields))

    async def delete_team(self, team_id: UUID | str) -> None:
        await self._t.call("DELETE", f"/v1/claims/teams/{seg(team_id)}", None)

    # Users

    async def create_user(
        self, user: NewUser | Mapping[str, Any] | None = None, /, *, idempotency_key: str | None = None, **fields: Any
    ) -> User:
        return await self._t.call(
            "POST", "/v1/claims/users", User, json=body(NewUser, user, fields), idempotency_key=idempotency_key
        )

    async def get_user(self, user_id: UUID | str) -> User:
        return await self._t.call("GET", f"/v1/claims/users/{seg(user_id)}", User)

    def list_users(self, *, order: Order = None, limit: int | None = None, count: bool = False, **filters: Any) -> AsyncPager[User]:
        return self._list("/v1/claims/users", User, filters, order=order, limit=limit, count=count)

    async def update_user(
        self, user_id: UUID | str, update: UserPatch | Mapping[str, Any] | None = None, /, **fields: Any
    ) -> User:
        return await self._t.call("PATCH", f"/v1/claims/users/{seg(user_id)}", User, json=body(UserPatch, update, fields))

    # Documents

    async def create_document(
        self, document: NewDocument | Mapping[str, Any] | None = None, /, *, idempotency_key: str | None = None, **fields: Any
    ) -> Document:
        return await self._t.call(
            "POST",
            "/v1/claims/documents",
            Document,
            json=body(NewDocument, document, fields),
            idempotency_key=idempotency_key,
        )

    def list_documents(
        self, *, order: Order = None, limit: int | None = None, count: bool = False, **filters: Any
    ) -> AsyncPager[Document]:
        return self._list("/v1/claims/documents", Document, filters, order=order, limit=limit, count=count)

    async def update_document(
        self, document_id: UUID | str, update: DocumentPatch | Mapping[str, Any] | None = None, /, **fields: Any
    ) -> Document:
        return await self._t.call(
            "PATCH", f"/v1/claims/documents/{seg(document_id)}", Document, json=body(DocumentPatch, update, fields)
        )

    # Triage results

    async def create_triage_result(
        self,
        result: NewTriageResult | Mapping[str, Any] | None = None,
        /,
        *,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> TriageResult:
        return await self._t.call(
            "POST",
            "/v1/claims/triage_results",
            TriageResult,
            json=body(NewTriageResult, result, fields),
            idempotency_key=idempotency_key,
        )

    def list_triage_results(
        self, *, order: Order = None, limit: int | None = None, count: bool = False, **filters: Any
    ) -> AsyncPager[TriageResult]:
        return self._list("/v1/claims/triage_results", TriageResult, filters, order=order, limit=limit, count=count)

    async def update_triage_result(
        self, result_id: UUID | str, update: TriageResultPatch | Mapping[str, Any] | None = None, /, **fields: Any
    ) -> TriageResult:
        return await self._t.call(
            "PATCH",
            f"/v1/claims/triage_results/{seg(result_id)}",
            TriageResult,
            json=body(TriageResultPatch, update, fields),
        )

    # Snapshots

    async def take_snapshot(self, *, idempotency_key: str | None = None) -> Snapshot:
        """Compute and store the reporting figures now."""
        return await self._t.call("POST", "/v1/claims/snapshots", Snapshot, idempotency_key=idempotency_key)

    def list_snapshots(self, *, order: Order = None, limit: int | None = None, **filters: Any) -> AsyncPager[Snapshot]:
        return self._list("/v1/claims/snapshots", Snapshot, filters, order=order, limit=limit)

    async def get_snapshot(self, snapshot_id: UUID | str) -> Snapshot:
        return await self._t.call("GET", f"/v1/claims/snapshots/{seg(snapshot_id)}", Snapshot)
