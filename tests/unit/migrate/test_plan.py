"""The comparison rules of a migration, on hand-made records (no database, no MLflow)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest

from bakehouse.entities.transfer import (
    Catalog,
    ExperimentRecord,
    MetricSummary,
    ModelVersionRecord,
    RegisteredModelRecord,
    RunRecord,
)
from bakehouse.errors import InvalidParameterError
from bakehouse.migrate.errors import MigrationConflictError, MigrationError
from bakehouse.migrate.locations import destination_uri, open_source, redact
from bakehouse.migrate.plan import Planner, summaries_match
from bakehouse.migrate.report import checksum
from bakehouse.migrate.sources.proxied import open_artifacts
from bakehouse.store.transfer.state import DestinationState

EXP = ExperimentRecord("1", "exp", "/art/1", creation_time=10, last_update_time=10, tags={"a": "1"})
RUN = RunRecord("r" * 32, "1", "run", "ada", "FINISHED", 100, 200, params={"lr": "0.1"}, tags={"t": "x"})


def plan(catalog: Catalog, state: DestinationState, by_name: bool = False) -> object:
    return Planner(catalog, state, keep_experiment_ids=not by_name, copy_artifacts=True).build()


def test_new_objects_are_created_and_equal_ones_left_alone() -> None:
    catalog = Catalog(experiments=[EXP], runs=[RUN])
    fresh = plan(catalog, DestinationState())
    assert [e.experiment_id for e in fresh.experiments.create] == ["1"]
    assert [r.run_id for r in fresh.runs.create] == [RUN.run_id]
    same = DestinationState(experiments={"1": EXP}, experiment_names={"exp": "1"}, runs={RUN.run_id: RUN})
    again = plan(catalog, same)
    assert again.experiments.unchanged == 1 and again.runs.unchanged == 1
    assert not again.conflicts


def test_what_the_source_changed_since_is_an_update_and_extra_destination_tags_stay() -> None:
    finished_later = replace(RUN, status="FINISHED", end_time=300, tags={"t": "y"})
    there = replace(RUN, status="RUNNING", end_time=None, tags={"t": "x", "only-there": "kept"})
    state = DestinationState(experiments={"1": EXP}, experiment_names={"exp": "1"}, runs={RUN.run_id: there})
    result = plan(Catalog(experiments=[EXP], runs=[finished_later]), state)
    (update,) = result.runs.update
    assert (update.status, update.end_time, update.tags) == ("FINISHED", 300, {"t": "y"})
    assert not result.conflicts


@pytest.mark.parametrize(
    ("there", "message"),
    [
        (replace(RUN, params={"lr": "0.2"}), "param 'lr'"),
        (replace(RUN, start_time=1), "started at 1"),
        (replace(RUN, experiment_id="7"), "experiment 7"),
    ],
)
def test_another_run_under_the_same_id_is_a_conflict(there: RunRecord, message: str) -> None:
    state = DestinationState(experiments={"1": EXP}, experiment_names={"exp": "1"}, runs={RUN.run_id: there})
    result = plan(Catalog(experiments=[EXP], runs=[RUN]), state)
    assert len(result.conflicts) == 1 and message in result.conflicts[0]


def test_experiment_conflicts_name_both_sides() -> None:
    other = replace(EXP, name="someone-elses", creation_time=99)
    result = plan(Catalog(experiments=[EXP]), DestinationState(experiments={"1": other}, experiment_names={}))
    assert "'exp'" in result.conflicts[0] and "'someone-elses'" in result.conflicts[0]
    taken = plan(Catalog(experiments=[EXP]), DestinationState(experiment_names={"exp": "5"}))
    assert "experiment 5 at the destination" in taken.conflicts[0]
    error = MigrationConflictError(["a", "b"])
    assert "2 conflicts" in error.message and "nothing was changed" in error.message


def test_sync_matches_experiments_by_name() -> None:
    state = DestinationState(
        experiments={"42": replace(EXP, experiment_id="42")}, experiment_names={"exp": "42"}
    )
    result = plan(
        Catalog(experiments=[EXP, replace(EXP, experiment_id="2", name="new")]), state, by_name=True
    )
    assert result.experiment_ids == {"1": "42", "2": None}
    assert [e.name for e in result.new_named_experiments] == ["new"]


def test_registry_versions_keep_numbers_and_conflict_on_another_version() -> None:
    model = RegisteredModelRecord("m", 1, 2, aliases={"champion": 3}, next_version=5)
    version = ModelVersionRecord("m", 3, 5, 6, "Production", run_id=RUN.run_id)
    state = DestinationState(
        registered_models={"m": replace(model, aliases={})},
        model_versions={("m", 3): replace(version, run_id="z" * 32)},
    )
    result = plan(Catalog(registered_models=[model], model_versions=[version]), state)
    assert [m.name for m in result.registered_models.update] == ["m"]
    assert "model version 'm' 3" in result.conflicts[0]


def test_a_history_is_complete_when_its_summary_matches() -> None:
    full = MetricSummary(10, 0, 9, 0, 9, (9, 9, 1.0))
    assert summaries_match(full, replace(full))
    assert not summaries_match(full, MetricSummary(9, 0, 8, 0, 8, (8, 8, 1.0)))  # interrupted: fewer points
    assert not summaries_match(full, None)
    server = MetricSummary(None, latest=(9, 9, math.nan))  # a server source knows only the latest point
    assert summaries_match(server, MetricSummary(10, 0, 9, 0, 9, (9, 9, math.nan)))
    assert not summaries_match(server, MetricSummary(10, 0, 9, 0, 9, (8, 9, math.nan)))


def test_checksums_ignore_order_and_tell_nan_and_infinity_apart() -> None:
    assert checksum([[1, "a"], [2, "b"]]) == checksum([[2, "b"], [1, "a"]])
    assert checksum([math.nan]) != checksum([math.inf]) != checksum([1.7976931348623157e308])


def test_locations_are_refused_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="no such directory or database file"):
        open_source(str(tmp_path / "nothing-here"))
    with pytest.raises(InvalidParameterError, match="Unsupported source"):
        open_source("ftp://host/x")
    with pytest.raises(InvalidParameterError, match="Bakehouse tracking URI"):
        destination_uri(str(tmp_path / "dir"))
    assert destination_uri("bakehouse.db").startswith("sqlite:///")
    assert redact("postgresql://ada:secret@db/x") == "postgresql://ada:***@db/x"


def test_proxied_artifacts_map_to_the_servers_destination(tmp_path: Path) -> None:
    (tmp_path / "1" / "r" / "artifacts").mkdir(parents=True)
    (tmp_path / "1" / "r" / "artifacts" / "f.txt").write_text("x")
    repo = open_artifacts("mlflow-artifacts:/1/r/artifacts", str(tmp_path))
    assert [f.path for f in repo.list_dir("")] == ["f.txt"]
    with pytest.raises(MigrationError, match="--artifacts-destination"):
        open_artifacts("mlflow-artifacts:/1/r/artifacts", None)
