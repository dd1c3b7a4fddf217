"""Small batches run on one thread: for a few rows, waking a library's thread pool costs more than it saves.

Tree libraries and runtimes (XGBoost, ONNX Runtime, ...) spread every prediction over all cores by default.
For a one-row request the work is microseconds, and the pool's wake-up and spin-wait dominate; on a busy
machine it is far worse, as the pool waits for cores other processes hold (measured for XGBoost at a load
average of 40 on 2 cores: 136 ms for one row with the default pool, 0.25 ms on one thread). Results are
the same either way: the thread count only splits rows between threads.
"""

from __future__ import annotations

from typing import Any

#: batches up to this many rows are predicted on one thread by the scoring server
SINGLE_THREAD_ROWS = 256


def is_small_batch(data: Any) -> bool:
    """True for a table, array or list of at most :data:`SINGLE_THREAD_ROWS` rows."""
    shape = getattr(data, "shape", None)
    if shape:
        return int(shape[0]) <= SINGLE_THREAD_ROWS
    return isinstance(data, list) and len(data) <= SINGLE_THREAD_ROWS
