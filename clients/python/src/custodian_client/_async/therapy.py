"""Therapy sessions (``/v1/therapy``), with the source application's names."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from ..bodies import body, seg
from ..models.therapy import (
    AnalysisFailure,
    AnalysisResult,
    Claim,
    ClaimRequest,
    Client,
    ClientPatch,
    ClientProfile,
    ClientSummary,
    EmotionPoint,
    Insight,
    NewClient,
    NewInsight,
    NewSession,
    NewTranscript,
    ProfileInput,
    ProgressPoint,
    SavedTranscript,
    SearchPage,
    Segment,
    Sentence,
    SentencePatch,
    Session,
    SessionPatch,
)
from ..query import render
from .base import AsyncResource
from .pager import AsyncPager

Order = str | Iterable[str] | None
Body = Mapping[str, Any] | None


def _paging(limit: int | None, offset: int | None) -> list[tuple[str, str]]:
    return [(k, str(v)) for k, v in (("limit", limit), ("offset", offset)) if v is not None]


class AsyncTherapy(AsyncResource):
    """Clients, sessions, transcripts, keywords, search, insights and the analysis queue."""

    # Clients

    async def create_client(
        self, client: NewClient | Body = None, /, *, idempotency_key: str | None = None, **fields: Any
    ) -> Client:
        return await self._t.call(
            "POST", "/v1/therapy/clients", Client, json=body(NewClient, client, fields), idempotency_key=idempotency_key
        )

    async def get_client(self, client_id: UUID | str) -> Client:
        return await self._t.call("GET", f"/v1/therapy/clients/{seg(client_id)}", Client)

    def list_clients(self, *, order: Order = None, limit: int | None = None, count: bool = False, **filters: Any) -> AsyncPager[Client]:
        return self._list("/v1/therapy/clients", Client, filters, order=order, limit=limit, count=count)

    async def update_client(self, client_id: UUID | str, update: ClientPatch | Body = None, /, **fields: Any) -> Client:
        return await self._t.call(
            "PATCH", f"/v1/therapy/clients/{seg(client_id)}", Client, json=body(ClientPatch, update, fields)
        )

    async def get_client_summary(self, client_id: UUID | str) -> ClientSummary:
        return await self._t.call("GET", f"/v1/therapy/clients/{seg(client_id)}/summary", ClientSummary)

    async def get_emotion_trends(
        self, client_id: UUID | str, *, limit: int | None = None, offset: int | None = None
    ) -> list[EmotionPoint]:
        return cast(
            list[EmotionPoint],
            await self._t.call(
                "GET", f"/v1/therapy/clients/{seg(client_id)}/emotions", list[EmotionPoint], params=_paging(limit, offset)
            ),
        )

    async def get_progress_metrics(
        self, client_id: UUID | str, *, limit: int | None = None, offset: int | None = None
    ) -> list[ProgressPoint]:
        return cast(
            list[ProgressPoint],
            await self._t.call(
                "GET", f"/v1/therapy/clients/{seg(client_id)}/progress", list[ProgressPoint], params=_paging(limit, offset)
            ),
        )

    async def search_keywords(
        self, client_id: UUID | str, keyword: str, *, limit: int | None = None, offset: int | None = None
    ) -> list[Sentence]:
        """The client's sentences tagged with ``keyword``."""
        params = [("term", keyword), *_paging(limit, offset)]
        return cast(
            list[Sentence],
            await self._t.call("GET", f"/v1/therapy/clients/{seg(client_id)}/keywords", list[Sentence], params=params),
        )

    async def get_profile(self, client_id: UUID | str) -> ClientProfile:
        return await self._t.call("GET", f"/v1/therapy/clients/{seg(client_id)}/profile", ClientProfile)

    async def put_profile(
        self, client_id: UUID | str, profile: ProfileInput | Body = None, /, **fields: Any
    ) -> ClientProfile:
        return await self._t.call(
            "PUT", f"/v1/therapy/clients/{seg(client_id)}/profile", ClientProfile, json=body(ProfileInput, profile, fields)
        )

    # Sessions

    async def create_session(
        self,
        client_id: UUID | str,
        date: datetime,
        *,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> Session:
        return await self._t.call(
            "POST",
            "/v1/therapy/sessions",
            Session,
            json=body(NewSession, {"client_id": client_id, "date": date}, fields),
            idempotency_key=idempotency_key,
        )

    async def get_session(self, session_id: UUID | str) -> Session:
        return await self._t.call("GET", f"/v1/therapy/sessions/{seg(session_id)}", Session)

    def list_sessions(self, *, order: Order = None, limit: int | None = None, count: bool = False, **filters: Any) -> AsyncPager[Session]:
        return self._list("/v1/therapy/sessions", Session, filters, order=order, limit=limit, count=count)

    def get_client_sessions(self, client_id: UUID | str) -> AsyncPager[Session]:
        return self._list(f"/v1/therapy/clients/{seg(client_id)}/sessions", Session, {})

    async def update_session(self, session_id: UUID | str, update: SessionPatch | Body = None, /, **fields: Any) -> Session:
        return await self._t.call(
            "PATCH", f"/v1/therapy/sessions/{seg(session_id)}", Session, json=body(SessionPatch, update, fields)
        )

    async def update_session_status(self, session_id: UUID | str, status: str) -> Session:
        """Move a session along its workflow (an invalid transition is a ``Conflict``)."""
        return await self.update_session(session_id, status=status)

    # Transcripts

    async def save_transcript(
        self,
        session_id: UUID | str,
        segments: Sequence[Segment | Mapping[str, Any]],
        *,
        replace: bool = False,
    ) -> SavedTranscript:
        """Store a session's transcript in one transaction.

        ``segments`` are the speech-to-text output: ``start`` and ``end`` in
        seconds, ``text``, optional ``speaker`` and ``confidence``. A session
        that already has a transcript is a ``Conflict`` unless ``replace``.
        This is a PUT without an idempotency key, so it is not retried after
        a lost answer: retry it yourself with ``replace=True``.
        """
        return await self._t.call(
            "PUT",
            f"/v1/therapy/sessions/{seg(session_id)}/transcript",
            SavedTranscript,
            json=body(NewTranscript, {"segments": list(segments), "replace": replace}),
        )

    async def get_session_transcript(self, session_id: UUID | str) -> list[Sentence]:
        return cast(
            list[Sentence],
            await self._t.call("GET", f"/v1/therapy/sessions/{seg(session_id)}/transcript", list[Sentence]),
        )

    async def update_keywords(self, sentence_id: UUID | str, keywords: Sequence[Mapping[str, Any]]) -> Sentence:
        """Set a sentence's keywords: ``[{"term": "sleep", "score": 0.8}, ...]``."""
        return await self.update_sentence(sentence_id, keywords=list(keywords))

    async def update_sentence(self, sentence_id: UUID | str, update: SentencePatch | Body = None, /, **fields: Any) -> Sentence:
        return await self._t.call(
            "PATCH", f"/v1/therapy/sentences/{seg(sentence_id)}", Sentence, json=body(SentencePatch, update, fields)
        )

    async def search(
        self,
        q: str,
        *,
        client_id: UUID | str | None = None,
        session_id: UUID | str | None = None,
        date_from: datetime | None = None,
        date_to: datetime | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> SearchPage:
        """Full-text search of sentences, best first (``next_offset`` pages on)."""
        params = [("q", q)]
        for key, value in (("client_id", client_id), ("session_id", session_id), ("from", date_from), ("to", date_to)):
            if value is not None:
                params.append((key, render(value)))
        params += _paging(limit, offset)
        return await self._t.call("GET", "/v1/therapy/search", SearchPage, params=params)

    # Insights and the analysis queue

    async def save_insights(
        self, session_id: UUID | str, insights: Sequence[NewInsight | Mapping[str, Any]], *, idempotency_key: str | None = None
    ) -> list[Insight]:
        payload = [body(NewInsight, i) for i in insights]
        return cast(
            list[Insight],
            await self._t.call(
                "POST",
                f"/v1/therapy/sessions/{seg(session_id)}/insights",
                list[Insight],
                json=payload,
                idempotency_key=idempotency_key,
            ),
        )

    async def get_session_insights(self, session_id: UUID | str) -> list[Insight]:
        return cast(
            list[Insight], await self._t.call("GET", f"/v1/therapy/sessions/{seg(session_id)}/insights", list[Insight])
        )

    async def claim_analysis(self, *, lease_seconds: int | None = None, idempotency_key: str | None = None) -> Claim | None:
        """Take the oldest session waiting for analysis; ``None`` when nothing waits."""
        fields = {"lease_seconds": lease_seconds} if lease_seconds is not None else {}
        return await self._t.call(
            "POST", "/v1/therapy/analysis/claim", Claim, json=body(ClaimRequest, fields), idempotency_key=idempotency_key
        )

    async def complete_analysis(
        self,
        session_id: UUID | str,
        lease: UUID | str,
        insights: Sequence[NewInsight | Mapping[str, Any]] = (),
        *,
        idempotency_key: str | None = None,
    ) -> list[Insight]:
        result = body(AnalysisResult, {"lease": lease, "insights": [body(NewInsight, i) for i in insights]})
        return cast(
            list[Insight],
            await self._t.call(
                "POST",
                f"/v1/therapy/analysis/{seg(session_id)}/complete",
                list[Insight],
                json=result,
                idempotency_key=idempotency_key,
            ),
        )

    async def fail_analysis(
        self, session_id: UUID | str, lease: UUID | str, error: str | None = None, *, idempotency_key: str | None = None
    ) -> Session:
        fields: dict[str, Any] = {"lease": lease}
        if error is not None:
            fields["error"] = error
        return await self._t.call(
            "POST",
            f"/v1/therapy/analysis/{seg(session_id)}/fail",
            Session,
            json=body(AnalysisFailure, fields),
            idempotency_key=idempotency_key,
        )
