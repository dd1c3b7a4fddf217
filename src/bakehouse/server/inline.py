"""Short store calls on the event loop: no thread hand-off when the store can answer at once.

A request served on a worker thread costs two thread wake-ups besides the work itself; on a busy machine
each wake-up waits for a CPU, and for a call of a millisecond or two (a trace's spans, a search page) the
wake-ups are most of the answer time. A store that says ``answers_inline`` (SQLite: reads never wait in
WAL mode) runs such calls here; a write that would wait for another writer's lock raises
``WriteLockBusyError`` before writing anything, and the call goes to a worker thread as usual.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from bakehouse.errors import WriteLockBusyError
from bakehouse.store.db.engine import no_lock_wait

T = TypeVar("T")


def answers_inline(store: Any) -> bool:
    return bool(getattr(store, "answers_inline", False))


async def run_short_call(store: Any, func: Callable[..., T], *args: Any) -> T:
    """``func(*args)`` on the event loop when ``store`` allows it, else (or when it would wait for a
    lock) on a worker thread. ``func`` must make at most one write transaction, so that a retry after
    WriteLockBusyError repeats nothing."""
    if answers_inline(store):
        try:
            with no_lock_wait():
                return func(*args)
        except WriteLockBusyError:
            pass
    return await run_in_threadpool(func, *args)
