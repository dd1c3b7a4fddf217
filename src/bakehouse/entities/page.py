"""A page of results plus the opaque token for the next one."""

from __future__ import annotations

from typing import Generic, Iterable, TypeVar

T = TypeVar("T")


class PagedList(list[T], Generic[T]):
    """A list that also carries ``token``: the next page's token, or None after the last page."""

    def __init__(self, items: Iterable[T] = (), token: str | None = None) -> None:
        super().__init__(items)
        self.token = token
