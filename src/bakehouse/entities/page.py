"""A page of results plus the opaque token for the next one."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class PagedList(list[T], Generic[T]):
    """A list that also carries ``token``: the next page's token, or None after the last page."""

    def __init__(self, items: Iterable[T] = (), token: str | None = None) -> None:
        super().__init__(items)
        self.token = token


def collect_pages(
    fetch: Callable[[str | None, int], PagedList[T]], max_results: int | None, page_size: int
) -> list[T]:
    """Every item of a paged search (at most ``max_results``): ``fetch(token, n)`` returns one page."""
    out: list[T] = []
    token: str | None = None
    while True:
        wanted = page_size if max_results is None else min(page_size, max_results - len(out))
        if wanted <= 0:
            return out
        page = fetch(token, wanted)
        out.extend(page)
        token = page.token
        if not token:
            return out
