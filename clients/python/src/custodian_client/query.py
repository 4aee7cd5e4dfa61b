"""Keyword arguments to the server's list grammar (``field=op.value``).

``status="pending"`` becomes ``status=eq.pending``; a list becomes
``in.(a,b)``; ``created_at__gte=dt`` becomes ``created_at=gte.<RFC 3339>``;
``deleted_at__is=None`` becomes ``is.null``; ``status__not_eq="closed"``
becomes ``not.eq.closed``. Values are rendered the way the server parses
them (booleans lower-case, times with their offset), so callers pass Python
values, never hand-built strings.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

OPERATORS = frozenset({"eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "in", "is"})

Params = list[tuple[str, str]]


def render(value: Any) -> str:
    """One value as the server reads it in a query string."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return render(value.value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            # The server compares instants; a naive time would be read as UTC
            # silently, which is the wrong answer in every other zone.
            raise ValueError(f"naive datetime {value!r}: give it a timezone (e.g. datetime.timezone.utc)")
        return value.isoformat()
    if isinstance(value, (dt.date, uuid.UUID)):
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    if hasattr(value, "root"):  # a generated RootModel (an enum of the document)
        return render(value.root)
    return str(value)


def filter_param(key: str, value: Any) -> tuple[str, str]:
    """``("created_at__gte", t)`` -> ``("created_at", "gte.<t>")``."""
    field, sep, op = key.rpartition("__")
    if not sep:
        field, op = key, ""
    negate = op.startswith("not_")
    if negate:
        op = op[len("not_"):]
    if op and op not in OPERATORS:
        # Not an operator suffix: a field whose name has a double underscore.
        field, op = key, ""
    if not op:
        if isinstance(value, (list, tuple, set, frozenset)):
            op = "in"
        elif value is None:
            op = "is"
        else:
            op = "eq"
    if op == "in":
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            raise ValueError(f"{key}: `in` takes a list of values")
        text = "(" + ",".join(render(v) for v in value) + ")"
    else:
        text = render(value)
    return field, ("not." if negate else "") + f"{op}.{text}"


def list_params(
    filters: Mapping[str, Any],
    *,
    order: str | Iterable[str] | None = None,
    limit: int | None = None,
    plain: Mapping[str, Any] | None = None,
) -> Params:
    """The query string of a list: filters, then order, limit and plain parameters.

    ``plain`` holds the route's own parameters that are not filters
    (``split``, ``include_deleted``, ``cutoff``, ...): they are sent as given.
    ``None`` values of filters mean ``is.null``; ``None`` plain values are left out.
    """
    params: Params = [filter_param(k, v) for k, v in filters.items()]
    if order is not None:
        params.append(("order", order if isinstance(order, str) else ",".join(order)))
    if limit is not None:
        params.append(("limit", str(limit)))
    for key, value in (plain or {}).items():
        if value is not None:
            params.append((key, render(value)))
    return params
