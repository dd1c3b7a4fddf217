"""Servers on both ends: a live MLflow server as the source, a real MLflow server as the destination (leaving
Bakehouse), and ``bakehouse sync`` of runs logged offline into a team server, twice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from compare import artifact_location_moved, compare, diff
from migrate_support import BAKEHOUSE, WRITER, FixtureStore, MlflowServer, dump, run_python

pytestmark = pytest.mark.timeout(1200)


def cli(*args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [*BAKEHOUSE, *args, "--json"], capture_output=True, text=True, timeout=900, check=False
    )
    assert proc.returncode == 0, f"{args}: {proc.stdout}\n{proc.stderr}"
    report = json.loads(proc.stdout)
    report["by_kind"] = {k["kind"]: k for k in report["kinds"]}
    return report


def nothing_written(report: dict[str, Any]) -> bool:
    return (
        report["verified"] is True
        and report["metric_points_written"] == 0
        and report["artifact_files_copied"] == 0
        and all(k["created"] == 0 and k["updated"] == 0 for k in report["kinds"])
    )


def empty_file_size(path: str, source: Any, destination: Any) -> bool:
    return (
        "/artifacts[" in path and path.endswith("][1]") and source in (None, 0) and destination in (None, 0)
    )


def mlflow_clamps_infinity(path: str, source: Any, destination: Any) -> bool:
    """MLflow's SQL store keeps ±inf as ±1.7976931348623157e308 (documented; Bakehouse keeps infinity)."""
    return source in ("inf", "-inf", float("inf"), float("-inf")) and destination in (
        1.7976931348623157e308,
        -1.7976931348623157e308,
    )


def test_a_live_mlflow_server_into_a_bakehouse_server(
    mlflow_servers: tuple[MlflowServer, MlflowServer], bakehouse_server: Any, tmp_path: Path
) -> None:
    """The team's MLflow server, filled by MLflow's own client (artifacts through its proxy), moved over REST
    into a Bakehouse server with every id kept; both read back through the official client over HTTP."""
    team, _ = mlflow_servers
    run_python(sys.executable, [str(WRITER), team.url])
    target = bakehouse_server(artifacts_destination=str(tmp_path / "artifacts"))
    report = cli("migrate", "--from", team.url, "--to", target.url)
    assert report["by_kind"]["runs"]["created"] == 8 and report["by_kind"]["model_versions"]["created"] == 5
    assert report["artifact_files_copied"] == 10
    assert nothing_written(cli("migrate", "--from", team.url, "--to", target.url))
    problems = compare(dump(team.url), dump(target.url), [artifact_location_moved, empty_file_size])
    assert problems == [], "\n".join(problems)


def _by_source_id(view: dict[str, Any]) -> dict[str, Any]:
    return {run["tags"].get("bakehouse.source_id", run_id): run for run_id, run in view["runs"].items()}


def test_leaving_for_a_real_mlflow_server(
    mlflow_servers: tuple[MlflowServer, MlflowServer],
    mlflow3_stores: dict[str, FixtureStore],
    bakehouse_server: Any,
    tmp_path: Path,
) -> None:
    """A Bakehouse store copied into an empty MLflow server over MLflow's API, twice (nothing created twice).
    MLflow's API chooses new ids: runs are matched by their `bakehouse.source_id` tag; everything else,
    version numbers (with the gap of a deleted version) included, reads back the same."""
    _, empty = mlflow_servers
    store = mlflow3_stores["mlflow3-files"]
    bakehouse_db = f"sqlite:///{tmp_path / 'bakehouse.db'}"
    cli("migrate", "--from", store.uri, "--to", bakehouse_db, "--artifact-root", str(tmp_path / "art"))

    first = cli("migrate", "--from", bakehouse_db, "--to", empty.url)
    assert first["verified"] is True and first["by_kind"]["runs"]["created"] == 8
    second = cli("migrate", "--from", bakehouse_db, "--to", empty.url)
    assert nothing_written(second) or (
        second["by_kind"]["runs"]["created"] == 0 and second["metric_points_written"] == 0
    ), second

    server = bakehouse_server(backend_store_uri=bakehouse_db)
    mine, theirs = dump(server.url), dump(empty.url)
    assert len(theirs["runs"]) == len(mine["runs"]) == 8
    copies = _by_source_id(theirs)
    run_ids = {old: copies[old]["run_id"] for old in mine["runs"]}
    model_ids = {
        old: copy
        for copy_id, copy in theirs["logged_models"].items()
        for old in [copy["tags"].get("bakehouse.source_id")]
    }
    problems = []
    ignored = ("run_id", "experiment_id", "artifact_uri", "model_outputs")
    for run_id, run in mine["runs"].items():
        copy = copies[run_id]
        expected = {k: v for k, v in run.items() if k not in ignored}
        if "mlflow.parentRunId" in expected["tags"]:
            expected["tags"]["mlflow.parentRunId"] = run_ids[expected["tags"]["mlflow.parentRunId"]]
        got = {k: v for k, v in copy.items() if k not in ignored}
        got["tags"] = {k: v for k, v in got["tags"].items() if k != "bakehouse.source_id"}
        problems += [
            f"run {run['run_name']}{p}: {a} != {b}"
            for p, a, b in diff(expected, got)
            if not empty_file_size(p, a, b) and not mlflow_clamps_infinity(p, a, b)
        ]
    for model_id, model in mine["logged_models"].items():
        copy = model_ids[model_id]
        fields = ("name", "model_type", "status", "params", "artifacts")
        problems += [
            f"model {model_id}{p}: {a} != {b}"
            for p, a, b in diff({k: model[k] for k in fields}, {k: copy[k] for k in fields})
            if not empty_file_size(p, a, b)
        ]
        assert copy["source_run_id"] == run_ids.get(model["source_run_id"], model["source_run_id"] or "")
    for name, model in mine["registered_models"].items():
        copy = theirs["registered_models"][name]
        assert (copy["description"], copy["tags"], copy["aliases"]) == (
            model["description"],
            model["tags"],
            model["aliases"],
        )
        assert sorted(copy["versions"]) == sorted(model["versions"])  # numbers kept, version 3 still missing
        for number, version in model["versions"].items():
            got = copy["versions"][number]
            keys = ("current_stage", "description", "tags", "aliases", "status")
            assert {k: got[k] for k in keys} == {k: version[k] for k in keys}, (name, number)
            assert got["run_id"] == run_ids.get(version["run_id"], version["run_id"])
    assert theirs["prompts"] == mine["prompts"]
    assert problems == [], "\n".join(problems)


def test_sync_offline_runs_twice(
    bakehouse_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs logged without a network go to the team server; more runs and more points are logged offline and
    synced again: exactly the union arrives, matched by experiment name, run ids kept; a third sync sends
    nothing. Both sides are then read through the official client and compared field by field."""
    import bakehouse as bh

    team = bakehouse_server(artifacts_destination=str(tmp_path / "team-artifacts"))
    subprocess.run(  # the team's experiment ids are not the laptop's
        [*BAKEHOUSE, "experiments", "create", "-n", "someone-elses", "--tracking-uri", team.url],
        check=True,
        timeout=120,
    )
    monkeypatch.chdir(tmp_path)
    offline = f"sqlite:///{tmp_path / 'offline' / 'bakehouse.db'}"
    bh.set_tracking_uri(offline)

    def log_runs(prefix: str, count: int) -> list[str]:
        bh.set_experiment("hpc-sweep")
        ids = []
        for i in range(count):
            with bh.start_run(run_name=f"{prefix}-{i}") as run:
                bh.log_params({"lr": str(0.1 * (i + 1)), "seed": str(i)})
                for step in range(20):
                    bh.log_metric("loss", 1.0 / (step + 1 + i), step=step)
                bh.log_text(f"notes of {prefix}-{i}\n", "notes.txt")
                ids.append(run.info.run_id)
        return ids

    first_ids = log_runs("first", 3)
    report = cli("sync", offline, "--to", team.url)
    assert report["by_kind"]["runs"]["created"] == 3 and report["by_kind"]["experiments"]["created"] == 1
    assert report["artifact_files_copied"] == 3

    later_ids = log_runs("later", 2)
    with bh.start_run(run_id=first_ids[0]):  # more points on a run the server already has
        for step in range(20, 25):
            bh.log_metric("loss", 0.01 * step, step=step)
    second = cli("sync", offline, "--to", team.url)
    kinds = second["by_kind"]
    assert kinds["runs"]["created"] == 2 and kinds["experiments"]["created"] == 0
    assert second["metric_points_written"] == 2 * 20 + 25  # the new runs, then the whole grown history
    assert nothing_written(cli("sync", offline, "--to", team.url))

    laptop = bakehouse_server(backend_store_uri=offline)
    mine, theirs = dump(laptop.url), dump(team.url)
    assert set(theirs["runs"]) == set(first_ids + later_ids)
    assert len(theirs["runs"][first_ids[0]]["history"]["loss"]) == 25
    experiment = next(e for e in theirs["experiments"] if e["name"] == "hpc-sweep")
    assert (
        experiment["experiment_id"]
        != next(e for e in mine["experiments"] if e["name"] == "hpc-sweep")["experiment_id"]
    )
    ignored = ("experiment_id", "artifact_uri")
    problems = [
        f"{run_id}{p}: {a} != {b}"
        for run_id in mine["runs"]
        for p, a, b in diff(
            {k: v for k, v in mine["runs"][run_id].items() if k not in ignored},
            {k: v for k, v in theirs["runs"][run_id].items() if k not in ignored},
        )
    ]
    assert problems == [], "\n".join(problems)
