"""Sampling what a scoring server is asked, for drift checks (``bakehouse models serve --sample-inputs``).

Opt-in and bounded: each request is kept with probability ``rate``; kept rows wait in memory, at most
``max_rows`` of them (further rows are counted and dropped until the next flush), and every
``flush_interval`` seconds, or as soon as the buffer is full, they are written to the tracking store as one
run of the ``bakehouse-serving-samples`` experiment: ``samples/requests.parquet`` plus a dataset input
(context ``serving``) pointing at it, tagged with the model's URI, name and version. The rows are the
model's inputs after schema enforcement (named columns), never the predictions or request headers.

Writing happens on a background thread, off the request path; a tracking store that is down costs the
batch (logged), never a request.
"""

from __future__ import annotations

import logging
import random
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bakehouse.errors import InvalidParameterError
from bakehouse.models.drift_data import (
    SAMPLES_ARTIFACT,
    SAMPLES_EXPERIMENT,
    TAG_MODEL_NAME,
    TAG_MODEL_URI,
    TAG_MODEL_VERSION,
    model_name,
)

logger = logging.getLogger(__name__)

DEFAULT_MAX_ROWS = 10_000
DEFAULT_FLUSH_INTERVAL = 60.0
MAX_COLUMNS = 1_000


@dataclass(frozen=True)
class SamplingConfig:
    rate: float = 1.0
    max_rows: int = DEFAULT_MAX_ROWS
    flush_interval: float = DEFAULT_FLUSH_INTERVAL
    experiment: str = SAMPLES_EXPERIMENT
    tracking_uri: str | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if not 0 < self.rate <= 1:
            raise InvalidParameterError("--sample-rate must be in (0, 1]")
        if self.max_rows < 1:
            raise InvalidParameterError("--sample-max-rows must be at least 1")
        if self.flush_interval <= 0:
            raise InvalidParameterError("--sample-flush-interval must be positive")


def as_frame(data: Any) -> pd.DataFrame | None:
    """The model input as a table, or None when it is not tabular (images, nested tensors...)."""
    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, pd.Series):
        frame = data.to_frame()
    else:
        try:
            import numpy as np

            array = np.asarray(data)
        except (TypeError, ValueError):
            return None
        if array.ndim == 1:
            array = array.reshape(1, -1) if array.dtype != object else array.reshape(-1, 1)
        if array.ndim != 2:
            return None
        frame = pd.DataFrame(array, columns=[f"feature_{i + 1}" for i in range(array.shape[1])])
    if frame.shape[1] > MAX_COLUMNS:
        return None
    return frame.reset_index(drop=True)


class RequestSampler:
    """Keeps a random share of requests and ships them to the tracking store in batches."""

    def __init__(self, config: SamplingConfig, model_uri: str, client: Any = None) -> None:
        self.config = config
        self.model_uri = model_uri
        self._client = client
        self._random = random.Random(config.seed)
        self._lock = threading.Lock()
        self._frames: list[pd.DataFrame] = []
        self._rows = 0
        self._version: str | None = None
        self.dropped = 0
        self.flushed_runs: list[str] = []
        self._full = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def client(self) -> Any:
        if self._client is None:
            from bakehouse.client.client import Client

            self._client = Client(tracking_uri=self.config.tracking_uri)
        return self._client

    def wants(self) -> bool:
        """Decide, before any work, whether this request is sampled."""
        return self.config.rate >= 1 or self._random.random() < self.config.rate

    def offer(self, data: Any, version: str | None) -> None:
        frame = as_frame(data)
        if frame is None:
            return
        with self._lock:
            if self._version is not None and version != self._version and self._frames:
                self._full.set()  # another model version: write what the previous one saw first
            room = self.config.max_rows - self._rows
            if room <= 0:
                self.dropped += len(frame)
                return
            if len(frame) > room:
                self.dropped += len(frame) - room
                frame = frame.head(room)
            self._frames.append(frame)
            self._rows += len(frame)
            self._version = version
            if self._rows >= self.config.max_rows:
                self._full.set()

    def flush(self) -> str | None:
        """Write the buffered rows as one run now; returns its id (None when there was nothing)."""
        with self._lock:
            frames, self._frames, self._rows = self._frames, [], 0
            version, dropped, self.dropped = self._version, self.dropped, 0
            self._full.clear()
        if not frames:
            return None
        batch = pd.concat(frames, ignore_index=True)
        try:
            run_id = self._write(batch, version, dropped)
        except Exception:  # a store that is down costs this batch, not the server
            logger.exception("Could not record %d sampled requests", len(batch))
            return None
        self.flushed_runs.append(run_id)
        return run_id

    def _write(self, batch: pd.DataFrame, version: str | None, dropped: int) -> str:
        from bakehouse.data import from_pandas

        client = self.client
        experiment = client.get_experiment_by_name(self.config.experiment)
        experiment_id = (
            experiment.experiment_id
            if experiment is not None
            else client.create_experiment(self.config.experiment)
        )
        tags = {TAG_MODEL_URI: self.model_uri}
        name = model_name(self.model_uri)
        if name:
            tags[TAG_MODEL_NAME] = name
        if version:
            tags[TAG_MODEL_VERSION] = version
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run = client.create_run(experiment_id, run_name=f"samples-{name or 'model'}-{stamp}", tags=tags)
        run_id = str(run.info.run_id)
        try:
            with tempfile.TemporaryDirectory(prefix="bakehouse-samples-") as tmp:
                path = Path(tmp) / Path(SAMPLES_ARTIFACT).name
                batch.to_parquet(path, index=False)
                client.log_artifact(run_id, str(path), str(Path(SAMPLES_ARTIFACT).parent))
            source = f"{run.info.artifact_uri.rstrip('/')}/{SAMPLES_ARTIFACT}"
            dataset = from_pandas(batch, source=source, name="served-inputs")
            client.log_inputs(run_id, [dataset.to_dataset_input(context="serving")])
            client.log_metric(run_id, "sampled_rows", float(len(batch)))
            client.log_metric(run_id, "dropped_rows", float(dropped))
        except BaseException:
            client.set_terminated(run_id, "FAILED")
            raise
        client.set_terminated(run_id, "FINISHED")
        logger.info("Recorded %d sampled requests in run %s", len(batch), run_id)
        return run_id

    def _loop(self) -> None:
        deadline = time.monotonic() + self.config.flush_interval
        while not self._stop.is_set():
            self._full.wait(max(0.0, deadline - time.monotonic()))
            if self._stop.is_set():
                break
            if self._full.is_set() or time.monotonic() >= deadline:
                self.flush()
                deadline = time.monotonic() + self.config.flush_interval

    def start(self) -> RequestSampler:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="bakehouse-sampler", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and write what is left (a server shutting down keeps its last batch)."""
        self._stop.set()
        self._full.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.flush()


_ENV = {
    "rate": "SERVING_SAMPLE_RATE",
    "max_rows": "SERVING_SAMPLE_MAX_ROWS",
    "flush_interval": "SERVING_SAMPLE_FLUSH_INTERVAL",
    "experiment": "SERVING_SAMPLE_EXPERIMENT",
}


def config_to_env(config: SamplingConfig) -> dict[str, str]:
    """How multi-worker servers hand the setting to their workers (``BAKEHOUSE_SERVING_SAMPLE_*``)."""
    return {
        "BAKEHOUSE_" + _ENV["rate"]: str(config.rate),
        "BAKEHOUSE_" + _ENV["max_rows"]: str(config.max_rows),
        "BAKEHOUSE_" + _ENV["flush_interval"]: str(config.flush_interval),
        "BAKEHOUSE_" + _ENV["experiment"]: config.experiment,
    }


def config_from_env() -> SamplingConfig | None:
    from bakehouse import settings

    if settings.env(_ENV["rate"]) is None:
        return None
    return SamplingConfig(
        rate=settings.env_float(_ENV["rate"], 1.0),
        max_rows=int(settings.env_float(_ENV["max_rows"], DEFAULT_MAX_ROWS)),
        flush_interval=settings.env_float(_ENV["flush_interval"], DEFAULT_FLUSH_INTERVAL),
        experiment=settings.env(_ENV["experiment"]) or SAMPLES_EXPERIMENT,
    )
