"""System metrics of a run: MLflow's names and cadence, read from /proc on Linux."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

import bakehouse as bh
from bakehouse.client import system_metrics
from bakehouse.client.client import Client

NAMES = {
    "cpu_utilization_percentage",
    "system_memory_usage_megabytes",
    "system_memory_usage_percentage",
    "disk_usage_percentage",
    "disk_usage_megabytes",
    "disk_available_megabytes",
    "network_receive_megabytes",
    "network_transmit_megabytes",
}


@pytest.fixture(autouse=True)
def fast_sampling() -> Iterator[None]:
    system_metrics.set_system_metrics_sampling_interval(0.05)
    yield
    system_metrics.set_system_metrics_sampling_interval(None)
    system_metrics.set_system_metrics_samples_before_logging(None)
    system_metrics.set_system_metrics_node_id(None)
    system_metrics._enabled = None


def test_one_sample_reads_every_metric_with_sane_values() -> None:
    reader = system_metrics._reader()
    time.sleep(0.05)
    values = system_metrics.sample(reader)
    assert set(values) == NAMES
    assert 0 <= values["cpu_utilization_percentage"] <= 100
    assert 0 < values["system_memory_usage_percentage"] < 100 and values["system_memory_usage_megabytes"] > 1
    assert 0 < values["disk_usage_percentage"] < 100 and values["disk_available_megabytes"] > 0
    assert values["network_receive_megabytes"] >= 0 and values["network_transmit_megabytes"] >= 0


def test_samples_are_averaged_and_network_totals_are_the_latest() -> None:
    samples = [
        {"cpu_utilization_percentage": 10.0, "network_receive_megabytes": 1.0},
        {"cpu_utilization_percentage": 25.0, "network_receive_megabytes": 3.0},
    ]
    assert system_metrics.aggregate(samples) == {
        "cpu_utilization_percentage": 17.5,
        "network_receive_megabytes": 3.0,
    }


def _history(uri: str, run_id: str, key: str) -> list[int]:
    return [m.step for m in Client(uri).get_metric_history(run_id, key)]


def test_a_run_logs_system_metrics_while_it_runs_and_stops_with_it(tmp_tracking_uri: str) -> None:
    system_metrics.set_system_metrics_samples_before_logging(2)
    with bh.start_run(log_system_metrics=True) as run:
        time.sleep(0.6)
    logged = {k for k in bh.get_run(run.info.run_id).data.metrics if k.startswith("system/")}
    assert logged == {f"system/{n}" for n in NAMES}
    steps = _history(tmp_tracking_uri, run.info.run_id, "system/cpu_utilization_percentage")
    assert len(steps) >= 2 and steps == list(range(len(steps)))  # one point per 2 samples, steps 0, 1, ...
    time.sleep(0.3)
    assert (
        _history(tmp_tracking_uri, run.info.run_id, "system/cpu_utilization_percentage") == steps
    )  # stopped

    with bh.start_run(run_id=run.info.run_id, log_system_metrics=True):  # resumed: steps continue
        time.sleep(0.6)
    resumed = _history(tmp_tracking_uri, run.info.run_id, "system/cpu_utilization_percentage")
    assert resumed[: len(steps)] == steps and resumed[len(steps)] == steps[-1] + 1


def test_off_by_default_and_switched_on_by_the_environment_or_a_call(
    tmp_tracking_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with bh.start_run() as quiet:
        time.sleep(0.2)
    assert bh.get_run(quiet.info.run_id).data.metrics == {}
    monkeypatch.setenv("MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING", "true")
    system_metrics.set_system_metrics_node_id("worker-1")
    with bh.start_run() as by_env:
        time.sleep(0.5)
    assert "system/worker-1/cpu_utilization_percentage" in bh.get_run(by_env.info.run_id).data.metrics
    bh.disable_system_metrics_logging()  # a call wins over the environment
    with bh.start_run() as off:
        time.sleep(0.2)
    assert bh.get_run(off.info.run_id).data.metrics == {}


def test_gpu_metrics_through_nvml_or_one_note_that_there_is_no_gpu(
    tmp_tracking_uri: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Real NVML, no fake device: on a machine with an NVIDIA GPU its MLflow-named metrics are logged; without
    one (as on CI here) the reason is logged once per process and the other metrics go on."""
    import logging

    from bakehouse.client import gpu_metrics

    gpu_metrics._said.clear()
    caplog.set_level(logging.INFO, logger="bakehouse.client.gpu_metrics")
    reader = gpu_metrics.gpu_reader()
    runs = []
    for _ in range(2):
        with bh.start_run(log_system_metrics=True) as run:
            time.sleep(0.3)
        runs.append(bh.get_run(run.info.run_id).data.metrics)
    notes = [r for r in caplog.records if r.name == "bakehouse.client.gpu_metrics"]
    for metrics in runs:
        assert {f"system/{n}" for n in NAMES} <= set(metrics)
    if reader is None:
        assert len(notes) == 1 and notes[0].getMessage().startswith("GPU metrics are not logged: ")
        assert not [k for metrics in runs for k in metrics if k.startswith("system/gpu_")]
    else:
        gpu = {"utilization_percentage", "memory_usage_megabytes", "memory_usage_percentage"}
        assert {f"system/gpu_0_{n}" for n in gpu} <= set(runs[0]) and not notes
