"""The binary wire format of a streamed metric history (``GET /bakehouse/metrics/get-history-stream``).

A history of 10,000,000 points is 240 MB as fixed-width records and several times that as JSON pages,
which Python neither writes nor parses in seconds. The body is a plain sequence of 24-byte little-endian
records, ``step`` (int64), ``timestamp`` (int64), ``value`` (float64, NaN and infinities as IEEE values),
in MLflow's history order (timestamp, step, value), sent as it is read from the database. Readers turn
any split of those bytes back into arrays of whole records with :func:`records_from_blocks`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from bakehouse.errors import InternalError

#: one point of a history on the wire and in the arrays the readers yield
RECORD = np.dtype([("step", "<i8"), ("timestamp", "<i8"), ("value", "<f8")])
MEDIA_TYPE = "application/vnd.bakehouse.metric-history"
#: the header naming the record layout, so a reader can refuse a layout it does not know
LAYOUT_HEADER = "X-Bakehouse-Record"
LAYOUT = "step:<i8,timestamp:<i8,value:<f8"


def records_from_blocks(blocks: Iterable[bytes], min_records: int = 32768) -> Iterator[np.ndarray]:
    """Arrays of ``RECORD`` from byte blocks cut anywhere, each of at least ``min_records`` records
    (except the last); a body that ends inside a record is refused."""
    want = min_records * RECORD.itemsize
    pending = bytearray()
    for block in blocks:
        pending += block
        if len(pending) >= want:
            yield _take(pending, len(pending) // RECORD.itemsize)
    if len(pending) % RECORD.itemsize:
        raise InternalError(
            f"metric history stream ended inside a record ({len(pending) % RECORD.itemsize} stray bytes)"
        )
    if pending:
        yield _take(pending, len(pending) // RECORD.itemsize)


def _take(pending: bytearray, count: int) -> np.ndarray:
    """The first ``count`` records of ``pending`` as an array of their own, removed from ``pending``."""
    view = np.frombuffer(pending, dtype=RECORD, count=count)
    records = view.copy()
    del view  # the buffer cannot shrink while a view of it exists
    del pending[: count * RECORD.itemsize]
    return records
