"""Rows of a list as a pandas or polars DataFrame (optional extras).

pandas and polars are not dependencies of the client: install them with
``pip install 'custodian-client[pandas]'`` (or ``[polars]``). Rows are the
JSON the server sent (ids as strings, nested objects as dicts), and the
model's timestamp fields become timezone-aware (UTC) datetime columns, so
they sort and compare as instants instead of strings. The columns are the
model's fields, in its order, even when there are no rows.
"""

from __future__ import annotations

import datetime as dt
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import AwareDatetime, BaseModel, NaiveDatetime

_DATETIMES = (dt.datetime, AwareDatetime, NaiveDatetime)


def _is_datetime(annotation: Any) -> bool:
    if any(annotation is kind for kind in _DATETIMES):
        return True
    return any(_is_datetime(arg) for arg in typing.get_args(annotation))


def datetime_columns(model: type[BaseModel]) -> list[str]:
    """The model's fields that hold a timestamp (not a plain date)."""
    return [name for name, field in model.model_fields.items() if _is_datetime(field.annotation)]


def json_rows(items: Sequence[BaseModel]) -> list[dict[str, Any]]:
    return [item.model_dump(mode="json") for item in items]


def to_pandas(items: Sequence[BaseModel], model: type[BaseModel]) -> Any:
    try:
        import pandas as pd
    except ImportError as e:
        raise ImportError("to_pandas() needs pandas: pip install 'custodian-client[pandas]'") from e
    frame = pd.DataFrame(json_rows(items), columns=list(model.model_fields))
    for name in datetime_columns(model):
        frame[name] = pd.to_datetime(frame[name], utc=True, format="ISO8601")
    return frame


def to_polars(items: Sequence[BaseModel], model: type[BaseModel]) -> Any:
    try:
        import polars as pl
    except ImportError as e:
        raise ImportError("to_polars() needs polars: pip install 'custodian-client[polars]'") from e
    columns = list(model.model_fields)
    data = json_rows(items)
    if not data:
        return pl.DataFrame({name: [] for name in columns})
    frame = pl.DataFrame(data, infer_schema_length=None, strict=False).select(columns)
    times = [name for name in datetime_columns(model) if frame.schema[name] == pl.String]
    return frame.with_columns(
        [pl.col(name).str.to_datetime(time_zone="UTC", time_unit="us") for name in times]
    )
