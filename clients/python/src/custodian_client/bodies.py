"""Request bodies: validated by the generated model before they are sent.

A body can be given as the generated model, as a mapping, as keyword
arguments, or a mix (keywords win). It is validated client-side, so a typo
in a field name fails at once with pydantic's message instead of a 422
round trip, and dumped with ``exclude_unset`` so a PATCH sends only the
fields the caller named (an explicit ``None`` is sent, and clears).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, TypeAdapter

M = TypeVar("M", bound=BaseModel)

_adapters: dict[Any, TypeAdapter[Any]] = {}


def body(model: type[M], data: M | Mapping[str, Any] | None = None, fields: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON body for ``model`` from a model instance and/or a mapping and keywords."""
    merged: dict[str, Any] = {}
    if isinstance(data, BaseModel):
        merged.update(data.model_dump(exclude_unset=True))
    elif data is not None:
        merged.update(data)
    merged.update(fields or {})
    return model.model_validate(merged).model_dump(mode="json", exclude_unset=True)


def parse(kind: Any, data: Any) -> Any:
    """``data`` (decoded JSON) as ``kind``: a model class or a typing form like ``list[X]``."""
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return kind.model_validate(data)
    adapter = _adapters.get(kind)
    if adapter is None:
        adapter = _adapters[kind] = TypeAdapter(kind)
    return adapter.validate_python(data)


def seg(value: Any) -> str:
    """One path segment: ids and names are escaped, so a ``/`` in a brand stays in it."""
    return quote(str(value), safe="")
