"""One page of a list, as the server sends it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """The items of one page and the cursor of the next (``None``: this was the last).

    A page may hold fewer than ``limit`` rows and still not be the last (the
    server ends a page early once its rows pass a byte budget): only a
    ``None`` cursor means the end. ``total`` is set when the list was asked
    for with ``count=True``.
    """

    items: list[T]
    next_cursor: str | None
    total: int | None = None
