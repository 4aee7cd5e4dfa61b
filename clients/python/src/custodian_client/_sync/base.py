# Generated from ../_async/base.py by clients/python/generate.py. Do not edit.
"""What every module's resource shares: the transport and list construction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from ..query import list_params
from .pager import Pager
from .transport import Transport

T = TypeVar("T", bound=BaseModel)


class Resource:
    """A group of routes (one module). Methods return parsed models."""

    def __init__(self, transport: Transport) -> None:
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
    ) -> Pager[T]:
        params = list_params(filters, order=order, limit=limit, plain=plain)
        return Pager(self._t, path, model, params, count=count)
