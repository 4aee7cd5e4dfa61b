"""Python client of Custodian, the data layer for health and research applications.

``Client`` is synchronous, ``AsyncClient`` asynchronous; both take
``(base_url, api_key)`` and expose the modules as attributes
(``client.claims``, ``client.trials``, ``client.analytics``,
``client.therapy``, ``client.acoustics``, ``client.events``,
``client.audit``). Models are in ``custodian_client.models``; errors are the
classes below.
"""

from __future__ import annotations

__version__ = "0.1.0"

from ._async.client import AsyncClient
from ._sync.client import Client
from .errors import (
    APIError,
    BadQuery,
    BadRequest,
    Conflict,
    CustodianError,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServerError,
    TooManyRequests,
    TransportError,
    Unauthenticated,
    Unavailable,
    UnsupportedMediaType,
    ValidationError,
)
from .page import Page
from .retry import NO_RETRY, RetryPolicy

__all__ = [
    "NO_RETRY",
    "APIError",
    "AsyncClient",
    "BadQuery",
    "BadRequest",
    "Client",
    "Conflict",
    "CustodianError",
    "Forbidden",
    "MethodNotAllowed",
    "NotFound",
    "Page",
    "PayloadTooLarge",
    "RetryPolicy",
    "ServerError",
    "TooManyRequests",
    "TransportError",
    "Unauthenticated",
    "Unavailable",
    "UnsupportedMediaType",
    "ValidationError",
    "__version__",
]
