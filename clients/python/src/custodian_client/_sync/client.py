# Generated from ../_async/client.py by clients/python/generate.py. Do not edit.
"""The synchronous client: one object per server, one attribute per module."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

import httpx
from typing_extensions import Self

from ..models import Health
from ..query import Params
from ..retry import RetryPolicy
from .acoustics import Acoustics
from .analytics import Analytics
from .claims import Claims
from .events import Audit, Events
from .therapy import Therapy
from .transport import Transport
from .trials import Trials


class Client:
    """A Custodian server, reached with one API key.

    ``Client(base_url, api_key)``; use it as a context manager (or
    call ``close()``) to release its connections. ``retry`` sets how often
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
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._transport = Transport(
            base_url, api_key, timeout=timeout, retry=retry, transport=transport, headers=headers
        )
        self.events = Events(self._transport)
        self.audit = Audit(self._transport)
        self.claims = Claims(self._transport)
        self.trials = Trials(self._transport)
        self.analytics = Analytics(self._transport)
        self.therapy = Therapy(self._transport)
        self.acoustics = Acoustics(self._transport)
        # The newest consistency token, echoed on reads (see consistency.py).
        self.consistency = self._transport.consistency

    def request(
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
        response = self._transport.send(method, path, params=items, json=json, idempotency_key=idempotency_key)
        return response.json() if response.content else None

    def readyz(self) -> Health:
        """The server is up and its database answers (``Unavailable`` otherwise)."""
        return self._transport.call("GET", "/readyz", Health)

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
