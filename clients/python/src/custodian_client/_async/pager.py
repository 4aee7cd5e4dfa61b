"""Lists as iterators that follow ``next_cursor`` until the server says it is done."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from .. import frames
from ..bodies import parse
from ..page import Page
from ..query import Params
from .transport import AsyncTransport

T = TypeVar("T", bound=BaseModel)


class AsyncPager(Generic[T]):
    """A list query; iterating it fetches page after page, lazily.

    Nothing is sent until it is iterated. Each iteration starts again from
    the first page. ``limit`` is the page size, not a cap on the rows: use
    ``to_list(max_items=...)`` or stop iterating for that.
    """

    def __init__(
        self, transport: AsyncTransport, path: str, model: type[T], params: Params, *, count: bool = False
    ) -> None:
        self._transport = transport
        self.path = path
        self.model = model
        self.params = params
        self.count = count

    async def fetch_page(self, cursor: str | None = None) -> Page[T]:
        """One page: the first, or the one ``cursor`` (a previous ``next_cursor``) points at."""
        params = list(self.params)
        if cursor is not None:
            params.append(("cursor", cursor))
        headers = {"Prefer": "count=exact"} if self.count else None
        data: Any = (await self._transport.send("GET", self.path, params=params, headers=headers)).json()
        items = parse(list[self.model], data["items"])  # type: ignore[name-defined]
        return Page(items=items, next_cursor=data.get("next_cursor"), total=data.get("total"))

    async def pages(self) -> AsyncIterator[Page[T]]:
        """Every page in order, following ``next_cursor``."""
        cursor: str | None = None
        while True:
            page = await self.fetch_page(cursor)
            yield page
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.items:
                yield item

    async def to_list(self, max_items: int | None = None) -> list[T]:
        """The rows, all of them or the first ``max_items``."""
        out: list[T] = []
        if max_items is not None and max_items <= 0:
            return out
        async for item in self:
            out.append(item)
            if max_items is not None and len(out) >= max_items:
                break
        return out

    async def first(self) -> T | None:
        """The first row, or ``None`` when the list is empty (one request)."""
        page = await self.fetch_page()
        return page.items[0] if page.items else None

    async def to_pandas(self, max_items: int | None = None) -> Any:
        """The rows as a pandas DataFrame (needs the ``pandas`` extra)."""
        return frames.to_pandas(await self.to_list(max_items), self.model)

    async def to_polars(self, max_items: int | None = None) -> Any:
        """The rows as a polars DataFrame (needs the ``polars`` extra)."""
        return frames.to_polars(await self.to_list(max_items), self.model)
