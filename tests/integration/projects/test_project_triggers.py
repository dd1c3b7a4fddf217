"""``bakehouse run ... --every / --on-new-data``: real triggered runs through the CLI, on a local directory
and on an S3 prefix (moto's server), and the Kubernetes CronJob they become with ``--backend kubernetes``."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bakehouse.errors import InvalidParameterError
from bakehouse.projects.triggers import LocalLocation, cron_schedule, parse_interval

pytestmark = pytest.mark.timeout(240)


def _data_inputs(run: Any) -> list[tuple[str, str, str | None]]:
    return [
        (d.name, json.loads(d.source)["uri"], d.tags.get("mlflow.data.context"))
        for d in run.inputs.dataset_inputs
    ]


def test_intervals_and_cron_schedules() -> None:
    assert [parse_interval(t) for t in ("90", "30s", "5m", "1h", "1.5d")] == [90, 30, 300, 3600, 129600]
    for bad in ("", "0", "-1h", "1w", "soon"):
        with pytest.raises(InvalidParameterError, match="Invalid interval"):
            parse_interval(bad)
    assert cron_schedule(60) == "* * * * *"
    assert cron_schedule(15 * 60) == "*/15 * * * *"
    assert cron_schedule(3600) == "0 * * * *"
    assert cron_schedule(6 * 3600) == "0 */6 * * *"
    assert cron_schedule(86400) == "0 0 * * *"
    assert cron_schedule(7 * 86400) == "0 0 * * 0"
    for bad in (30, 90, 7 * 60, 5 * 3600):
        with pytest.raises(InvalidParameterError):
            cron_schedule(bad)


def test_files_being_written_and_hidden_files_are_not_data(tmp_path: Path) -> None:
    for name in ("a.csv", "b.csv.part", ".hidden.csv", "c.tmp", "sub/d.csv", ".git/e.csv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x\n1\n")
    assert sorted(Path(v.uri).name for v in LocalLocation(str(tmp_path)).versions()) == ["a.csv", "d.csv"]
    assert LocalLocation(str(tmp_path / "missing")).versions() == []


def test_every_runs_on_schedule(
    run_cli: Callable[..., Any], logger_project: Path, runs: Callable[[], list[Any]]
) -> None:
    result = run_cli(str(logger_project), "--env-manager", "local", "--every", "2s", "--max-runs", "2")
    assert result.returncode == 0, result.output
    done = sorted(runs(), key=lambda r: r.info.start_time)
    assert len(done) == 2 and {r.data.tags["bakehouse.trigger"] for r in done} == {"schedule"}
    assert {r.info.status for r in done} == {"FINISHED"}
    assert done[1].info.start_time - done[0].info.start_time >= 1900
    assert "(schedule: schedule)" in result.output


def test_new_files_trigger_runs_once_each_with_the_newest_as_data(
    run_cli: Callable[..., Any], logger_project: Path, runs: Callable[[], list[Any]], tmp_path: Path
) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "001.csv").write_text("x\n1\n")
    args = [str(logger_project), "-e", "needs_path", "--env-manager", "local", "--on-new-data", str(incoming)]
    first = run_cli(*args, "--once")
    assert first.returncode == 0, first.output
    (run,) = runs()
    assert run.data.tags["bakehouse.trigger"] == "new-data"
    assert run.data.tags["bakehouse.trigger.source"] == str(incoming.resolve())
    assert run.data.params["data"] == str((incoming / "001.csv").resolve())
    assert _data_inputs(run) == [("001.csv", str((incoming / "001.csv").resolve()), "training")]

    again = run_cli(*args, "--once")
    assert again.returncode == 0 and "No new data." in again.output and len(runs()) == 1

    time.sleep(0.01)
    (incoming / "002.csv").write_text("x\n2\n")
    third = run_cli(*args, "--once")
    assert third.returncode == 0, third.output
    newest = max(runs(), key=lambda r: r.info.start_time)
    assert newest.data.params["data"] == str((incoming / "002.csv").resolve())
    assert [name for name, _, _ in _data_inputs(newest)] == ["002.csv"]
    assert len(runs()) == 2


def test_an_undeclared_data_parameter_is_refused(run_cli: Callable[..., Any], logger_project: Path) -> None:
    result = run_cli(
        str(logger_project), "--env-manager", "local", "--on-new-data", ".", "--data-param", "nope", "--once"
    )
    assert result.returncode != 0 and "has no parameter 'nope'" in result.output


def test_new_objects_under_an_s3_prefix_trigger_runs(
    s3_bucket: str,
    logger_project: Path,
    runs: Callable[[], list[Any]],
    cli_environ: dict[str, str],
    bakehouse_exe: Path,
    tmp_path: Path,
) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=os.environ["BAKEHOUSE_S3_ENDPOINT_URL"], region_name="us-east-1")
    s3.put_object(Bucket=s3_bucket, Key="incoming/2026-12-01.csv", Body=b"x\n1\n")
    s3.put_object(Bucket=s3_bucket, Key="incoming/2026-12-02.csv", Body=b"x\n2\n")
    s3.put_object(Bucket=s3_bucket, Key="elsewhere/other.csv", Body=b"x\n3\n")
    env = {**cli_environ, "BAKEHOUSE_S3_ENDPOINT_URL": os.environ["BAKEHOUSE_S3_ENDPOINT_URL"]}
    prefix = f"s3://{s3_bucket}/incoming/"
    command = [str(bakehouse_exe), "run", str(logger_project), "--env-manager", "local"]
    done = subprocess.run(
        [*command, "--on-new-data", prefix, "--once"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    (run,) = runs()
    inputs = _data_inputs(run)
    assert sorted(uri for _, uri, _ in inputs) == [
        f"s3://{s3_bucket}/incoming/2026-12-01.csv",
        f"s3://{s3_bucket}/incoming/2026-12-02.csv",
    ]
    assert {d.source_type for d in run.inputs.dataset_inputs} == {"s3"}
    # logger_project's main entry point has no `data` parameter: the newest file is in the environment only
    assert "data" not in run.data.params


def test_kubernetes_gets_a_cronjob(
    run_cli: Callable[..., Any], tmp_path: Path, new_project: Callable[..., Path]
) -> None:
    pytest.importorskip("kubernetes")
    project = new_project(
        tmp_path / "k8s",
        """\
        name: IrisProject
        docker_env:
          image: python:3.11-slim
        entry_points:
          main:
            parameters:
              data: path
              C: {type: float, default: 1.0}
            command: "python train.py --data {data} --C {C}"
        """,
    )
    (tmp_path / "job.yaml").write_text(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: x, namespace: training}\n"
        "spec:\n  backoffLimit: 1\n  template:\n    spec:\n      containers:\n      - {name: x, image: x}\n"
        "      restartPolicy: Never\n"
    )
    config = json.dumps(
        {"kube-job-template-path": str(tmp_path / "job.yaml"), "image": "registry.example.com/iris:1"}
    )
    common = [str(project), "--backend", "kubernetes", "--backend-config", config, "-P", "C=0.5", "--dry-run"]
    scheduled = run_cli(*common, "--every", "1h", "-P", "data=s3://bucket/train.csv")
    assert scheduled.returncode == 0, scheduled.output
    cron = json.loads(scheduled.stdout)
    assert (cron["kind"], cron["apiVersion"], cron["spec"]["schedule"]) == (
        "CronJob",
        "batch/v1",
        "0 * * * *",
    )
    assert cron["spec"]["concurrencyPolicy"] == "Forbid" and cron["metadata"]["namespace"] == "training"
    job = cron["spec"]["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 1
    container = job["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example.com/iris:1"
    assert container["command"][:5] == ["bakehouse", "run", ".", "-e", "main"]
    assert "C=0.5" in container["command"] and "data=s3://bucket/train.csv" in container["command"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert "MLFLOW_TRACKING_URI" in env and "MLFLOW_RUN_ID" not in env

    watching = run_cli(*common, "--on-new-data", "s3://bucket/incoming/", "--poll-interval", "15m")
    assert watching.returncode == 0, watching.output
    cron = json.loads(watching.stdout)
    assert cron["spec"]["schedule"] == "*/15 * * * *"
    command = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert not any(arg.startswith("data=") for arg in command)  # each firing passes the newest file
    assert command[-5:] == ["--on-new-data", "s3://bucket/incoming/", "--once", "--data-param", "data"]

    too_often = run_cli(*common, "--every", "30s", "-P", "data=x.csv")
    assert too_often.returncode != 0 and "at most once a minute" in too_often.output
