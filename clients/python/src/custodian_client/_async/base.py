"""What every module's resource shares: the transport and list construction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from ..query import list_params
from .pager import AsyncPager
from .transport import AsyncTransport

T = TypeVar("T", bound=BaseModel)


class AsyncResource:
    """A group of routes (one module). Methods return parsed models."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport

    def _list(
        self,
        path: str,
        model: type[T],
        filters: Mapping[str, Any],
        *,
        order: str | Iterable[str] | None = None,
        limit: int | None = None,
        count: bool = False,
        plain: Mapping[str, Any] | None = None,
    ) -> AsyncPager[T]:
        params = list_params(filters, order=order, limit=limit, plain=plain)
        return AsyncPager(self._t, path, model, params, count=count)
