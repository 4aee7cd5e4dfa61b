"""Sending requests: authentication, Idempotency-Key, retries, problem errors."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from typing import Any

import httpx

from .. import __version__
from ..bodies import parse
from ..consistency import ConsistencyTokens
from ..errors import TransportError, error_for
from ..query import Params
from ..retry import RetryPolicy


def new_idempotency_key() -> str:
    """A fresh key for one logical POST; every retry of it reuses it."""
    return str(uuid.uuid4())


class AsyncTransport:
    """An ``httpx.AsyncClient`` that speaks Custodian's conventions.

    Every POST carries an ``Idempotency-Key`` (the caller's, or a new UUID),
    the same on each attempt, so retrying after a lost answer never writes
    twice. Errors come back as the typed exceptions of ``errors``.
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
        self.retry = retry or RetryPolicy()
        self.consistency = ConsistencyTokens()
        self.http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={
                "Authorization": f"Bearer {api_key}",
                "User-Agent": f"custodian-client-python/{__version__}",
                "Accept": "application/json, application/problem+json",
                **(headers or {}),
            },
            timeout=timeout,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """Send one logical request, retrying as the policy allows; the successful response."""
        method = method.upper()
        all_headers = dict(headers or {})
        if method == "POST":
            all_headers["Idempotency-Key"] = idempotency_key or new_idempotency_key()
        attempt = 0
        while True:
            attempt += 1
            request = self.http.build_request(method, path, params=params, json=json, headers=all_headers)
            self.consistency.on_request(request)
            try:
                response = await self.http.send(request)
            except httpx.TransportError as e:
                if attempt < self.retry.attempts and self.retry.retry_error(method, e):
                    await asyncio.sleep(self.retry.delay(attempt))
                    continue
                raise TransportError(f"{method} {request.url}: {e!r} (attempt {attempt})") from e
            self.consistency.on_response(response)
            if response.is_success:
                return response
            await response.aread()
            if attempt < self.retry.attempts and self.retry.retry_response(method, response):
                await asyncio.sleep(self.retry.delay(attempt, response))
                continue
            raise error_for(response)

    async def call(
        self,
        method: str,
        path: str,
        kind: Any,
        *,
        params: Params | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """``send``, then the body parsed as ``kind`` (``None`` for a 204 or ``kind=None``)."""
        response = await self.send(
            method, path, params=params, json=json, headers=headers, idempotency_key=idempotency_key
        )
        if kind is None or response.status_code == 204 or not response.content:
            return None
        return parse(kind, response.json())
