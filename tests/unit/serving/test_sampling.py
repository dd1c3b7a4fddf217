"""The request sampler against a real SQLite tracking store: bounded memory, a run per batch, the rate."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from bakehouse.client.client import Client
from bakehouse.errors import InvalidParameterError
from bakehouse.models.drift_data import SAMPLES_ARTIFACT, SAMPLES_EXPERIMENT, served_inputs
from bakehouse.serving.sampling import RequestSampler, SamplingConfig, as_frame


@pytest.fixture
def client(tmp_tracking_uri: str) -> Client:
    return Client(tracking_uri=tmp_tracking_uri)


def _rows(n: int, start: int = 0) -> pd.DataFrame:
    return pd.DataFrame({"a": np.arange(start, start + n, dtype=float), "b": ["x"] * n})


def test_kept_rows_are_bounded_and_written_as_one_run_per_batch(client: Client) -> None:
    sampler = RequestSampler(SamplingConfig(max_rows=5), "models:/iris@champion", client)
    sampler.offer(_rows(3), "2")
    sampler.offer(_rows(4, 3), "2")  # only 2 fit
    sampler.offer(_rows(1, 7), "2")  # none fit
    assert sampler.dropped == 3
    run_id = sampler.flush()
    assert run_id is not None and sampler.flush() is None  # nothing left
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["bakehouse.serving.model_name"] == "iris"
    assert run.data.tags["bakehouse.serving.model_uri"] == "models:/iris@champion"
    assert run.data.tags["bakehouse.serving.model_version"] == "2"
    assert run.data.metrics == {"sampled_rows": 5.0, "dropped_rows": 3.0}
    (dataset,) = run.inputs.dataset_inputs
    assert dataset.tags["mlflow.data.context"] == "serving" and dataset.name == "served-inputs"
    stored = pd.read_parquet(client.download_artifacts(run_id, SAMPLES_ARTIFACT))
    assert stored["a"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0] and stored["b"].tolist() == ["x"] * 5
    assert client.get_experiment(run.info.experiment_id).name == SAMPLES_EXPERIMENT

    frame, where = served_inputs(client, "models:/iris/3", max_rows=100)  # any URI of the same model
    assert len(frame) == 5 and where[0].endswith(SAMPLES_ARTIFACT)


def test_the_rate_keeps_about_that_share_and_a_full_buffer_wakes_the_writer(client: Client) -> None:
    sampler = RequestSampler(SamplingConfig(rate=0.25, seed=3), "runs:/abc/model", client)
    kept = sum(sampler.wants() for _ in range(4000))
    assert 900 < kept < 1100
    small = RequestSampler(SamplingConfig(max_rows=2, flush_interval=3600), "runs:/abc/model", client).start()
    try:
        small.offer(_rows(2), None)
        deadline = time.monotonic() + 30
        while not small.flushed_runs:
            assert time.monotonic() < deadline, "a full buffer was not written"
            time.sleep(0.05)
    finally:
        small.stop()
    (run_id,) = small.flushed_runs
    assert client.get_run(run_id).data.tags["bakehouse.serving.model_uri"] == "runs:/abc/model"


def test_inputs_that_are_not_tables_are_skipped_and_bad_settings_refused() -> None:
    assert as_frame(np.zeros((2, 2, 2))) is None
    assert list(as_frame([[1.0, 2.0]]).columns) == ["feature_1", "feature_2"]
    assert as_frame(np.zeros((1, 5000))) is None  # too wide to be worth keeping
    for bad in ({"rate": 0.0}, {"rate": 1.5}, {"max_rows": 0}, {"flush_interval": 0}):
        with pytest.raises(InvalidParameterError):
            SamplingConfig(**bad)
