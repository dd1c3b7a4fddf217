"""When the store's write path looks at a history's unsealed tail (``metric_blocks``).

Counting in the database after every batch would cost a query per batch; instead this process counts the
points it wrote per history and asks the database only once a history may have gained ``block_points``
points since it last looked. The counts are a hint, never a proof: another process's points are not in
them (that history is then sealed later), and points the database ignored as duplicates are (one query
too many). No numpy here: opening a store stays cheap.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

#: points in a sealed block; a history's unsealed tail reaching it is sealed (``metric_blocks``)
BLOCK_POINTS = 100_000
#: blocks one write-path check seals at most: a history imported whole is sealed over several checks
#: instead of holding one caller for seconds
BLOCKS_PER_CHECK = 4
#: points this much older than a history's newest point may be sealed, younger ones stay rows: points
#: logged a little late (a client's batch, async logging, several writers) land after the sealed range
#: instead of invalidating its last block
SEAL_LAG_MS = 60_000
#: histories remembered; past that the counts start again (sealing comes later, never wrong)
_MAX_HISTORIES = 100_000


class SealSchedule:
    """Points written per (run, key) since the history's tail was last looked at."""

    def __init__(self, block_points: int = BLOCK_POINTS, lag_ms: int = SEAL_LAG_MS) -> None:
        #: 0 turns sealing on the write path off
        self.block_points = block_points
        self.lag_ms = lag_ms
        self._written: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def wrote(self, run_id: str, keys: Iterable[str]) -> list[str]:
        """Count one point per key given (a key once per point); the keys whose tail is due a look."""
        if self.block_points <= 0:
            return []
        counts: dict[str, int] = {}
        for key in keys:
            counts[key] = counts.get(key, 0) + 1
        due = []
        with self._lock:
            if len(self._written) > _MAX_HISTORIES:
                self._written.clear()
            for key, n in counts.items():
                seen = self._written.get((run_id, key), 0) + n
                if seen >= self.block_points:
                    due.append(key)
                    seen = 0
                self._written[(run_id, key)] = seen
        return due
