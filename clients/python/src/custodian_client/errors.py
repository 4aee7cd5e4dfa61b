"""Typed exceptions for the server's RFC 9457 problem documents.

Every error the server answers is ``application/problem+json`` with a stable
``type`` (``/problems/not-found``, ...). Callers catch a class per kind
instead of comparing status codes, and a ``ValidationError`` carries the
``invalid_params`` the server named, so a form can point at the bad field.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from .models import InvalidParam, Problem


class CustodianError(Exception):
    """Base of every exception this client raises."""


class TransportError(CustodianError):
    """The server could not be reached (or the connection broke) on every attempt.

    Raised after the retries ran out; ``__cause__`` is the last httpx error.
    """


class APIError(CustodianError):
    """The server answered with a problem document.

    ``problem`` is the parsed document; its fields are mirrored as attributes
    (``status``, ``type``, ``title``, ``detail``, ``request_id``,
    ``invalid_params``) for convenience.
    """

    def __init__(self, problem: Problem, response: httpx.Response | None = None) -> None:
        self.problem = problem
        self.response = response
        self.status: int = problem.status
        self.type: str = problem.type
        self.title: str = problem.title
        self.detail: str | None = problem.detail
        self.instance: str | None = problem.instance
        self.request_id: str | None = problem.request_id
        self.invalid_params: list[InvalidParam] = list(problem.invalid_params or [])
        super().__init__(self._message())

    def _message(self) -> str:
        text = f"{self.status} {self.title}"
        if self.detail:
            text += f": {self.detail}"
        for param in self.invalid_params:
            text += f"\n  {param.name}: {param.reason}"
        if self.request_id:
            text += f"\n  (request id {self.request_id})"
        return text

    @property
    def invalid(self) -> dict[str, str]:
        """The refused parameters or fields, name to reason."""
        return {p.name: p.reason for p in self.invalid_params}


class BadRequest(APIError):
    """400: the request itself is malformed (``/problems/bad-request``)."""


class BadQuery(BadRequest):
    """400: a query parameter was refused (``/problems/bad-query``); see ``invalid_params``."""


class Unauthenticated(APIError):
    """401: no API key, or an unknown or revoked one."""


class Forbidden(APIError):
    """403: the key's role lacks the permission (the refusal is in the audit chain)."""


class NotFound(APIError):
    """404: no such record (or one the caller may not see)."""


class MethodNotAllowed(APIError):
    """405: the route does not take this method."""


class Conflict(APIError):
    """409: the request conflicts with the record's state (a transition, a capacity, a duplicate)."""


class PayloadTooLarge(APIError):
    """413: the body is over the server's limit."""


class UnsupportedMediaType(APIError):
    """415: the body is not JSON."""


class ValidationError(APIError):
    """422: the body was refused; ``invalid_params`` names each field and why."""


class ServerError(APIError):
    """500: the server failed; the detail is in its log under ``request_id``."""


class TooManyRequests(APIError):
    """429: this key is over a limit of its own, such as its share of exports (retried before it is raised)."""


class Unavailable(APIError):
    """503: the database is not answering right now (retried before it is raised)."""


_BY_TYPE: dict[str, type[APIError]] = {
    "/problems/bad-query": BadQuery,
    "/problems/bad-request": BadRequest,
    "/problems/unauthenticated": Unauthenticated,
    "/problems/forbidden": Forbidden,
    "/problems/not-found": NotFound,
    "/problems/method-not-allowed": MethodNotAllowed,
    "/problems/conflict": Conflict,
    "/problems/in-flight": Conflict,
    "/problems/payload-too-large": PayloadTooLarge,
    "/problems/unsupported-media-type": UnsupportedMediaType,
    "/problems/validation": ValidationError,
    "/problems/too-many-requests": TooManyRequests,
    "/problems/unavailable": Unavailable,
    "/problems/internal": ServerError,
}

_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequest,
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: ValidationError,
    429: TooManyRequests,
    503: Unavailable,
}


def problem_of(response: httpx.Response) -> Problem:
    """The response's problem document; a stand-in one when the body is not one.

    A proxy in front of the server may answer with HTML; the caller still
    gets a typed exception with the status.
    """
    try:
        data: Any = response.json()
        return Problem.model_validate(data)
    except (json.JSONDecodeError, ValueError):
        return Problem(
            type="about:blank",
            title=response.reason_phrase or "HTTP error",
            status=response.status_code,
            detail=response.text[:500] or None,
            instance=response.request.url.path if response.request else None,
            request_id=response.headers.get("x-request-id"),
        )


def error_for(response: httpx.Response) -> APIError:
    """The exception for an error response: by problem type, else by status."""
    problem = problem_of(response)
    cls = _BY_TYPE.get(problem.type) or _BY_STATUS.get(response.status_code)
    if cls is None:
        cls = ServerError if response.status_code >= 500 else APIError
    return cls(problem, response)


# The server answers a retry whose first attempt (same Idempotency-Key) is
# still running with a 409 of its own type, unlike a conflict with the
# record's state (which a retry would only repeat).
_IN_FLIGHT_TYPE = "/problems/in-flight"


def is_in_flight(response: httpx.Response) -> bool:
    """Whether a 409 means "the first attempt with this key is still running"."""
    if response.status_code != 409 or response.headers.get("idempotent-replayed") == "true":
        return False
    return problem_of(response).type == _IN_FLIGHT_TYPE
