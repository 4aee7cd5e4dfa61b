"""The asynchronous client: one object per server, one attribute per module."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

import httpx
from typing_extensions import Self

from ..models import Health
from ..query import Params
from ..retry import RetryPolicy
from .acoustics import AsyncAcoustics
from .analytics import AsyncAnalytics
from .claims import AsyncClaims
from .events import AsyncAudit, AsyncEvents
from .therapy import AsyncTherapy
from .transport import AsyncTransport
from .trials import AsyncTrials


class AsyncClient:
    """A Custodian server, reached with one API key.

    ``AsyncClient(base_url, api_key)``; use it as a context manager (or
    call ``aclose()``) to release its connections. ``retry`` sets how often
    and how patiently GETs and POSTs are retried; ``transport`` is handed to
    httpx (for tests, proxies, or a custom TLS setup).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float | httpx.Timeout = 30.0,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._transport = AsyncTransport(
            base_url, api_key, timeout=timeout, retry=retry, transport=transport, headers=headers
        )
        self.events = AsyncEvents(self._transport)
        self.audit = AsyncAudit(self._transport)
        self.claims = AsyncClaims(self._transport)
        self.trials = AsyncTrials(self._transport)
        self.analytics = AsyncAnalytics(self._transport)
        self.therapy = AsyncTherapy(self._transport)
        self.acoustics = AsyncAcoustics(self._transport)
        # The newest consistency token, echoed on reads (see consistency.py).
        self.consistency = self._transport.consistency

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | Mapping[str, Any] | None = None,
        json: Any = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """Any route, for what the typed methods do not cover: the decoded JSON (or ``None``).

        Still authenticated, retried, idempotent for POSTs and raising the
        typed errors.
        """
        items = list(params.items()) if isinstance(params, Mapping) else params
        response = await self._transport.send(method, path, params=items, json=json, idempotency_key=idempotency_key)
        return response.json() if response.content else None

    async def readyz(self) -> Health:
        """The server is up and its database answers (``Unavailable`` otherwise)."""
        return await self._transport.call("GET", "/readyz", Health)

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
