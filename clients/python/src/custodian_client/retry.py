"""When a request is sent again, and how long to wait before it is.

A POST carries an ``Idempotency-Key`` that stays the same on every attempt,
so the server writes at most once however often it is sent: a retry of a
POST that did land is answered with the stored response (``Idempotent-Replayed:
true``). That makes it safe to retry a POST whose answer was lost. PUT,
PATCH and DELETE have no such key, so only GETs and POSTs are retried.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx

from .errors import is_in_flight

RETRIED_METHODS = frozenset({"GET", "POST"})


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts and exponential backoff with full jitter.

    ``attempts`` counts the first one too. The wait before attempt ``n``
    (from 1) is random in ``[0, min(max_delay, base_delay * 2**(n-1))]``, or
    the server's ``Retry-After`` when it sends one (capped at ``max_delay``).
    """

    attempts: int = 4
    base_delay: float = 0.25
    max_delay: float = 5.0

    def delay(self, retry: int, response: httpx.Response | None = None) -> float:
        if response is not None:
            after = response.headers.get("retry-after")
            if after is not None:
                try:
                    return min(self.max_delay, max(0.0, float(after)))
                except ValueError:
                    pass
        return random.uniform(0, min(self.max_delay, self.base_delay * (2 ** (retry - 1))))

    def retry_response(self, method: str, response: httpx.Response) -> bool:
        """Whether this answer asks to be sent again (429, 503, or 409 while the first is in flight)."""
        if method not in RETRIED_METHODS:
            return False
        if response.status_code in (429, 503):
            return True
        return method == "POST" and is_in_flight(response)

    def retry_error(self, method: str, error: httpx.TransportError) -> bool:
        """Whether a transport error is worth another attempt.

        Connection errors and timeouts are; a malformed URL or an
        unsupported protocol will fail the same way again.
        """
        if method not in RETRIED_METHODS:
            # A PATCH whose answer was lost may have been applied: only a
            # failure to connect at all proves it was not.
            return isinstance(error, httpx.ConnectError)
        return isinstance(error, (httpx.NetworkError, httpx.TimeoutException, httpx.RemoteProtocolError))


NO_RETRY = RetryPolicy(attempts=1)
