"""One client process of ``test_team_logging.py``: logs metric batches through two servers in turn.

    python team_client.py INDEX URL_A URL_B EXPERIMENT_ID WORKDIR POINTS_PER_BATCH WARMUP_BATCHES

Creates its run on server A, then sends batch ``k`` (``POINTS_PER_BATCH`` points of ``loss`` at steps
``k * P .. k * P + P - 1``, value = step) to server ``k % 2``; every fifth batch is sent twice, as a client
does when an answer is lost. After ``WARMUP_BATCHES`` batches (both servers reached) it creates
``WORKDIR/started-INDEX``; it keeps logging until ``WORKDIR/stop`` exists, finishes its run on server A
and prints one JSON line: run id, batches logged, calls the REST client retried.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from bakehouse.entities import Metric
from bakehouse.store.tracking.rest import RestTrackingStore

MAX_BATCHES = 5_000


class RetryCounter(logging.Handler):
    """Counts the retries the REST client makes (``bakehouse.wire.retry`` logs each one at DEBUG)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.retries = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "retrying" in record.getMessage():
            self.retries += 1


def batch_metrics(batch: int, points: int) -> list[Metric]:
    return [
        Metric("loss", float(batch * points + i), 1_000 + batch, batch * points + i) for i in range(points)
    ]


def main() -> None:
    index, url_a, url_b, experiment_id, workdir, points, warmup = sys.argv[1:8]
    counter = RetryCounter()
    retry_logger = logging.getLogger("bakehouse.wire.retry")
    retry_logger.setLevel(logging.DEBUG)
    retry_logger.addHandler(counter)
    stores = [RestTrackingStore.from_uri(url_a), RestTrackingStore.from_uri(url_b)]
    run_id = stores[0].create_run(experiment_id, user_id=f"client{index}", run_name=f"c{index}").info.run_id
    directory = Path(workdir)
    batch = 0
    while batch < MAX_BATCHES:
        if batch == int(warmup):
            (directory / f"started-{index}").touch()
        if batch > int(warmup) and (directory / "stop").exists():
            break
        metrics = batch_metrics(batch, int(points))
        stores[batch % 2].log_batch(run_id, metrics=metrics)
        if batch % 5 == 4:
            stores[(batch + 1) % 2].log_batch(run_id, metrics=metrics)
        batch += 1
    stores[0].update_run_info(run_id, "FINISHED", 9_999)
    print(json.dumps({"run_id": run_id, "batches": batch, "retries": counter.retries}), flush=True)


if __name__ == "__main__":
    main()
