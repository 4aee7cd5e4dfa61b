"""The consistency token of a scaled-out deployment (Custodian's read replicas).

When the server has read replicas, a successful write answers with
``Custodian-Consistency``: the primary's WAL position after it, as 16
hexadecimal digits. A read that sends it back is served by a replica that
has replayed that far, or by the primary.
The client keeps the newest token it was given (tokens compare as text the
way positions do) and sends it on every GET and HEAD, so a client reads its
own writes even when reads go to replicas. A token a caller puts on a request
itself is left as it is.
"""

from __future__ import annotations

import re
import threading

import httpx

HEADER = "Custodian-Consistency"
_TOKEN = re.compile(r"[0-9A-F]{16}")


class ConsistencyTokens:
    """Remembers the newest consistency token and echoes it on reads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._token: str | None = None

    @property
    def token(self) -> str | None:
        """The newest token seen, or ``None`` before the first write."""
        return self._token

    def on_request(self, request: httpx.Request) -> None:
        """Add the remembered token to a read that does not carry one."""
        token = self._token
        if token is not None and request.method in ("GET", "HEAD") and HEADER not in request.headers:
            request.headers[HEADER] = token

    def on_response(self, response: httpx.Response) -> None:
        """Remember the response's token when it is newer than the one kept."""
        value = response.headers.get(HEADER)
        if value is None:
            return
        value = value.strip().upper()
        if not _TOKEN.fullmatch(value):
            return
        with self._lock:
            if self._token is None or value > self._token:
                self._token = value
