"""The tracking store contract: one suite, every backend (SQLite, PostgreSQL, REST over both).

Tests never assume an empty store (the REST backends share one server per module): each creates its own
experiment with a unique name.
"""

from __future__ import annotations

import math
import time
import uuid

import pytest

from bakehouse.entities import Metric, Param, RunStatus, RunTag, ViewType
from bakehouse.entities.run import DatasetInput, ModelOutput
from bakehouse.errors import AlreadyExistsError, BakehouseError, InvalidParameterError, NotFoundError


def unique(prefix: str = "exp") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def new_experiment(store, **kwargs) -> str:
    return store.create_experiment(unique(), **kwargs)


def new_run(store, experiment_id: str | None = None, **kwargs):
    return store.create_run(
        experiment_id or new_experiment(store),
        user_id="tester",
        start_time=kwargs.pop("start_time", int(time.time() * 1000)),
        **kwargs,
    )


def now() -> int:
    return int(time.time() * 1000)


# ------------------------------------------------------------------------------------------ experiments


def test_default_experiment_exists(tracking_store):
    default = tracking_store.get_experiment("0")
    assert default.name == "Default"
    assert default.lifecycle_stage == "active"
    assert tracking_store.get_experiment_by_name("Default").experiment_id == "0"


def test_create_get_experiment_with_tags(tracking_store):
    name = unique()
    eid = tracking_store.create_experiment(name, tags={"team": "ml", "k.v": "x y"})
    exp = tracking_store.get_experiment(eid)
    assert exp.name == name
    assert exp.tags == {"team": "ml", "k.v": "x y"}
    assert exp.artifact_location.rstrip("/").endswith(eid)
    assert exp.creation_time and exp.last_update_time
    assert tracking_store.get_experiment_by_name(name).experiment_id == eid
    assert tracking_store.get_experiment_by_name(unique("missing")) is None


def test_duplicate_experiment_name_is_already_exists(tracking_store):
    name = unique()
    tracking_store.create_experiment(name)
    with pytest.raises(AlreadyExistsError):
        tracking_store.create_experiment(name)


def test_get_missing_experiment_is_not_found(tracking_store):
    with pytest.raises(NotFoundError):
        tracking_store.get_experiment("987654")


@pytest.mark.parametrize("bad", ["", "   ", "x" * 501])
def test_invalid_experiment_names_are_refused(tracking_store, bad):
    with pytest.raises(InvalidParameterError):
        tracking_store.create_experiment(bad)


def test_rename_and_tags_of_experiment(tracking_store):
    eid = new_experiment(tracking_store)
    new_name = unique("renamed")
    tracking_store.rename_experiment(eid, new_name)
    assert tracking_store.get_experiment(eid).name == new_name
    tracking_store.set_experiment_tag(eid, "a", "1")
    tracking_store.set_experiment_tag(eid, "a", "2")
    assert tracking_store.get_experiment(eid).tags == {"a": "2"}
    tracking_store.delete_experiment_tag(eid, "a")
    assert tracking_store.get_experiment(eid).tags == {}
    with pytest.raises(NotFoundError):
        tracking_store.delete_experiment_tag(eid, "a")
    other = tracking_store.create_experiment(unique())
    with pytest.raises(AlreadyExistsError):
        tracking_store.rename_experiment(other, new_name)


def test_delete_restore_experiment_cascades_to_runs(tracking_store):
    eid = new_experiment(tracking_store)
    run = new_run(tracking_store, eid)
    tracking_store.delete_experiment(eid)
    exp = tracking_store.get_experiment(eid)
    assert exp.lifecycle_stage == "deleted"
    assert tracking_store.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    # the name stays reserved and get-by-name still finds it
    with pytest.raises(AlreadyExistsError):
        tracking_store.create_experiment(exp.name)
    assert tracking_store.get_experiment_by_name(exp.name).experiment_id == eid
    # creating a run in a deleted experiment, or logging to a deleted run, is refused
    with pytest.raises(InvalidParameterError):
        new_run(tracking_store, eid)
    with pytest.raises(InvalidParameterError):
        tracking_store.log_batch(run.info.run_id, metrics=[Metric("m", 1.0, now(), 0)])
    with pytest.raises(NotFoundError):  # no active experiment with that id: MLflow's code
        tracking_store.delete_experiment(eid)
    tracking_store.restore_experiment(eid)
    assert tracking_store.get_experiment(eid).lifecycle_stage == "active"
    with pytest.raises(NotFoundError):
        tracking_store.restore_experiment(eid)
    assert tracking_store.get_run(run.info.run_id).info.lifecycle_stage == "active"


def test_search_experiments_filters_order_and_pages(tracking_store):
    prefix = unique("srch")
    ids = [tracking_store.create_experiment(f"{prefix}-{i}", tags={"i": str(i)}) for i in range(5)]
    tracking_store.delete_experiment(ids[4])
    found = tracking_store.search_experiments(filter_string=f"name LIKE '{prefix}-%'")
    assert sorted(e.experiment_id for e in found) == sorted(ids[:4])
    # default order: creation_time DESC, experiment_id ASC
    by_name = tracking_store.search_experiments(
        filter_string=f"name LIKE '{prefix}%'", order_by=["name DESC"]
    )
    assert [e.name for e in by_name] == [f"{prefix}-{i}" for i in (3, 2, 1, 0)]
    tagged = tracking_store.search_experiments(filter_string=f"name LIKE '{prefix}%' AND tags.i = '2'")
    assert [e.experiment_id for e in tagged] == [ids[2]]
    either = tracking_store.search_experiments(
        filter_string=f"name LIKE '{prefix}%' AND (tags.i = '1' OR tags.i = '3')", order_by=["name ASC"]
    )
    assert [e.experiment_id for e in either] == [ids[1], ids[3]]
    deleted = tracking_store.search_experiments(
        view_type=ViewType.DELETED_ONLY, filter_string=f"name LIKE '{prefix}%'"
    )
    assert [e.experiment_id for e in deleted] == [ids[4]]
    every = tracking_store.search_experiments(view_type=ViewType.ALL, filter_string=f"name LIKE '{prefix}%'")
    assert len(every) == 5
    page1 = tracking_store.search_experiments(
        max_results=2, filter_string=f"name LIKE '{prefix}%'", order_by=["name"]
    )
    assert len(page1) == 2 and page1.token
    page2 = tracking_store.search_experiments(
        max_results=2, filter_string=f"name LIKE '{prefix}%'", order_by=["name"], page_token=page1.token
    )
    assert [e.name for e in page1 + page2] == [f"{prefix}-{i}" for i in range(4)]
    assert not page2.token


# ------------------------------------------------------------------------------------------------- runs


def test_create_and_get_run(tracking_store):
    eid = new_experiment(tracking_store)
    start = now()
    run = tracking_store.create_run(
        eid, user_id="alice", start_time=start, tags=[RunTag("k", "v")], run_name="r1"
    )
    assert run.info.run_name == "r1"
    assert run.info.status == "RUNNING"
    assert run.info.user_id == "alice"
    assert run.info.start_time == start
    assert run.info.end_time is None
    assert run.info.experiment_id == eid
    assert run.info.artifact_uri.endswith(f"{run.info.run_id}/artifacts")
    fetched = tracking_store.get_run(run.info.run_id)
    assert fetched.data.tags["k"] == "v"
    assert fetched.data.tags["mlflow.runName"] == "r1"


def test_generated_run_name_and_name_tag_sync(tracking_store):
    run = new_run(tracking_store)
    assert run.info.run_name and run.info.run_name.count("-") == 2
    tracking_store.set_tag(run.info.run_id, RunTag("mlflow.runName", "renamed"))
    assert tracking_store.get_run(run.info.run_id).info.run_name == "renamed"
    tracking_store.update_run_info(run.info.run_id, run_name="again")
    assert tracking_store.get_run(run.info.run_id).data.tags["mlflow.runName"] == "again"


def test_get_missing_run_is_not_found(tracking_store):
    with pytest.raises(NotFoundError):
        tracking_store.get_run(uuid.uuid4().hex)


def test_update_run_status_and_end_time(tracking_store):
    run = new_run(tracking_store)
    end = now()
    info = tracking_store.update_run_info(run.info.run_id, "FINISHED", end)
    assert info.status == "FINISHED" and info.end_time == end
    # logging to a FINISHED run is allowed
    tracking_store.log_metric(run.info.run_id, Metric("late", 1.0, now(), 0))
    # resuming sets RUNNING and keeps the old end_time
    info = tracking_store.update_run_info(run.info.run_id, "RUNNING")
    assert info.status == "RUNNING" and info.end_time == end
    for status in ("FAILED", "KILLED", "SCHEDULED"):
        assert tracking_store.update_run_info(run.info.run_id, status).status == status
    with pytest.raises(InvalidParameterError):
        tracking_store.update_run_info(run.info.run_id, "BOGUS")


def test_delete_restore_run(tracking_store):
    run = new_run(tracking_store)
    tracking_store.delete_run(run.info.run_id)
    assert tracking_store.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    with pytest.raises(InvalidParameterError):
        tracking_store.log_param(run.info.run_id, Param("p", "v"))
    tracking_store.restore_run(run.info.run_id)
    assert tracking_store.get_run(run.info.run_id).info.lifecycle_stage == "active"


# --------------------------------------------------------------------------------------------- logging


def test_log_metric_param_tag_and_latest_values(tracking_store):
    run = new_run(tracking_store)
    rid = run.info.run_id
    t0 = now()
    tracking_store.log_metric(rid, Metric("loss", 3.0, t0, 0))
    tracking_store.log_metric(rid, Metric("loss", 1.0, t0 + 1, 2))
    tracking_store.log_metric(rid, Metric("loss", 2.0, t0 + 2, 1))  # older step: not the latest
    tracking_store.log_param(rid, Param("lr", "0.1"))
    tracking_store.log_param(rid, Param("lr", "0.1"))  # same value again: idempotent
    tracking_store.set_tag(rid, RunTag("team", "a"))
    tracking_store.set_tag(rid, RunTag("team", "b"))  # tags can change
    data = tracking_store.get_run(rid).data
    assert data.metrics == {"loss": 1.0}
    assert data.params == {"lr": "0.1"}
    assert data.tags["team"] == "b"
    point = next(m for m in data.metric_points if m.key == "loss")
    assert (point.step, point.timestamp) == (2, t0 + 1)


def test_param_overwrite_is_refused(tracking_store):
    run = new_run(tracking_store)
    tracking_store.log_param(run.info.run_id, Param("lr", "0.1"))
    with pytest.raises(InvalidParameterError, match="Changing param values is not allowed"):
        tracking_store.log_param(run.info.run_id, Param("lr", "0.2"))
    assert tracking_store.get_run(run.info.run_id).data.params == {"lr": "0.1"}


def test_nan_and_infinity_round_trip_exactly(tracking_store):
    run = new_run(tracking_store)
    rid = run.info.run_id
    t0 = now()
    tracking_store.log_batch(
        rid,
        metrics=[
            Metric("nan", math.nan, t0, 0),
            Metric("pinf", math.inf, t0, 0),
            Metric("ninf", -math.inf, t0, 0),
            Metric("big", 1.7976931348623157e308, t0, 0),
            Metric("tiny", 5e-324, t0, 0),
        ],
    )
    metrics = tracking_store.get_run(rid).data.metrics
    assert math.isnan(metrics["nan"])
    assert metrics["pinf"] == math.inf and metrics["ninf"] == -math.inf
    assert metrics["big"] == 1.7976931348623157e308 and metrics["tiny"] == 5e-324
    assert tracking_store.get_metric_history(rid, "pinf")[0].value == math.inf


def test_long_values_are_stored_whole_up_to_one_mebibyte(tracking_store):
    run = new_run(tracking_store)
    long_value = "x" * 500_000 + "é" * 1000
    tracking_store.log_param(run.info.run_id, Param("long", long_value))
    tracking_store.set_tag(run.info.run_id, RunTag("long_tag", long_value))
    data = tracking_store.get_run(run.info.run_id).data
    assert data.params["long"] == long_value
    assert data.tags["long_tag"] == long_value
    with pytest.raises(InvalidParameterError, match="limit"):
        tracking_store.log_param(run.info.run_id, Param("too_long", "y" * (1024 * 1024 + 1)))


def test_delete_tag(tracking_store):
    run = new_run(tracking_store)
    tracking_store.set_tag(run.info.run_id, RunTag("t", "v"))
    tracking_store.delete_tag(run.info.run_id, "t")
    assert "t" not in tracking_store.get_run(run.info.run_id).data.tags
    with pytest.raises(NotFoundError):
        tracking_store.delete_tag(run.info.run_id, "t")


def test_log_batch_at_limits(tracking_store):
    run = new_run(tracking_store)
    t0 = now()
    tracking_store.log_batch(
        run.info.run_id,
        metrics=[Metric(f"m{i}", float(i), t0, 0) for i in range(800)],
        params=[Param(f"p{i}", str(i)) for i in range(100)],
        tags=[RunTag(f"t{i}", str(i)) for i in range(100)],
    )
    data = tracking_store.get_run(run.info.run_id).data
    assert len(data.metrics) == 800 and len(data.params) == 100
    assert data.metrics["m799"] == 799.0


def test_log_batch_is_safe_to_repeat(tracking_store):
    """The client resends a batch whose answer was lost (502/504 behind a proxy): the second copy must
    change nothing: params keep their value, tags are upserted, identical metric points are stored once."""
    run = new_run(tracking_store)
    rid = run.info.run_id
    t0 = now()
    batch = {
        "metrics": [Metric("loss", v, t0 + i, i) for i, v in enumerate([0.5, math.nan, math.inf, -1.0, 0.5])]
        + [Metric("acc", 0.9, t0, 0)],
        "params": [Param("lr", "0.01"), Param("layers", "3")],
        "tags": [RunTag("team", "bakers"), RunTag("mlflow.runName", "repeat-me")],
    }
    tracking_store.log_batch(rid, **batch)

    def state():
        data = tracking_store.get_run(rid).data
        history = [
            (m.timestamp, m.step, "nan" if math.isnan(m.value) else m.value)
            for m in tracking_store.get_metric_history(rid, "loss")
        ]
        return dict(data.params), dict(data.tags), dict(data.metrics), history

    once = state()
    tracking_store.log_batch(rid, **batch)
    assert state() == once
    assert len(once[3]) == 5 and once[1]["team"] == "bakers"
    assert tracking_store.get_run(rid).info.run_name == "repeat-me"


def test_metric_history_order_duplicates_and_pagination(tracking_store):
    run = new_run(tracking_store)
    rid = run.info.run_id
    points = [Metric("acc", float(i % 7), 1000 + i, i // 2) for i in range(600)]
    tracking_store.log_batch(rid, metrics=points)
    tracking_store.log_batch(rid, metrics=points[:10])  # identical points are not duplicated
    history = tracking_store.get_metric_history(rid, "acc")
    assert [(m.timestamp, m.step, m.value) for m in history] == [
        (m.timestamp, m.step, m.value) for m in points
    ]
    page1 = tracking_store.get_metric_history(rid, "acc", max_results=250)
    page2 = tracking_store.get_metric_history(rid, "acc", max_results=250, page_token=page1.token)
    page3 = tracking_store.get_metric_history(rid, "acc", max_results=250, page_token=page2.token)
    assert len(page1) == 250 and len(page2) == 250 and len(page3) == 100
    assert not page3.token
    assert [m.timestamp for m in page1 + page2 + page3] == [m.timestamp for m in points]
    assert tracking_store.get_metric_history(rid, "missing") == []


def test_metric_history_bulk_interval_samples_steps(tracking_store):
    r1, r2 = new_run(tracking_store), new_run(tracking_store)
    for run in (r1, r2):
        tracking_store.log_batch(
            run.info.run_id, metrics=[Metric("loss", float(s), 1000 + s, s) for s in range(100)]
        )
    sampled = tracking_store.get_metric_history_bulk_interval([r1.info.run_id, r2.info.run_id], "loss", 10)
    for run in (r1, r2):
        steps = [m.step for m in sampled if m.run_id == run.info.run_id]
        assert 2 <= len(steps) <= 10
        assert steps[0] == 0 and steps[-1] == 99
    windowed = tracking_store.get_metric_history_bulk_interval([r1.info.run_id], "loss", 5, 10, 20)
    assert all(10 <= m.step <= 20 for m in windowed) and windowed[0].step == 10 and windowed[-1].step == 20


def test_log_inputs_and_outputs(tracking_store):
    run = new_run(tracking_store)
    tracking_store.log_inputs(
        run.info.run_id,
        datasets=[
            DatasetInput(
                name="iris",
                digest="abc123",
                source_type="local",
                source="/data/iris.csv",
                tags={"mlflow.data.context": "training"},
            )
        ],
    )
    model = tracking_store.create_logged_model(run.info.experiment_id, "model", run.info.run_id)
    tracking_store.log_outputs(run.info.run_id, [ModelOutput(model.model_id, 3)])
    fetched = tracking_store.get_run(run.info.run_id)
    assert [d.name for d in fetched.inputs.dataset_inputs] == ["iris"]
    assert fetched.inputs.dataset_inputs[0].tags == {"mlflow.data.context": "training"}
    assert [(o.model_id, o.step) for o in fetched.outputs.model_outputs] == [(model.model_id, 3)]


@pytest.mark.parametrize(
    "field, too_long",
    [
        ("name", "n" * 501),
        ("digest", "d" * 37),
        ("source_type", "t" * 37),
        ("source", "\u00e9" * 32768),
    ],
)
def test_dataset_fields_are_stored_whole_up_to_their_columns_and_refused_beyond(
    tracking_store, field, too_long
):
    """Every database must either store a dataset exactly or refuse it cleanly (on PostgreSQL and MySQL a
    longer value used to fail inside the database instead)."""
    run = new_run(tracking_store)
    at_limit = DatasetInput(name="n" * 500, digest="d" * 36, source_type="t" * 36, source="s" * 65535)
    tracking_store.log_inputs(run.info.run_id, datasets=[at_limit])
    stored = tracking_store.get_run(run.info.run_id).inputs.dataset_inputs
    assert [(d.name, d.digest, d.source_type, d.source) for d in stored] == [
        ("n" * 500, "d" * 36, "t" * 36, "s" * 65535)
    ]
    fine = DatasetInput(name="fine", digest="f1")
    bad = DatasetInput(name="bad", digest="b1")
    setattr(bad, field, too_long)
    with pytest.raises(InvalidParameterError, match="limit"):
        tracking_store.log_inputs(run.info.run_id, datasets=[fine, bad])
    assert [d.name for d in tracking_store.get_run(run.info.run_id).inputs.dataset_inputs] == ["n" * 500]


_OVER_LONG_REFERENCES = {
    "user id": lambda store, run: store.create_run(run.info.experiment_id, user_id="u" * 257),
    "metric model id": lambda store, run: store.log_batch(
        run.info.run_id, metrics=[Metric("m", 1.0, 1, 0, model_id="m" * 65)]
    ),
    "metric dataset name": lambda store, run: store.log_batch(
        run.info.run_id, metrics=[Metric("m", 1.0, 1, 0, dataset_name="d" * 501, dataset_digest="x")]
    ),
    "metric dataset digest": lambda store, run: store.log_batch(
        run.info.run_id, metrics=[Metric("m", 1.0, 1, 0, dataset_name="d", dataset_digest="x" * 37)]
    ),
    "input model id": lambda store, run: store.log_inputs(run.info.run_id, models=["m" * 65]),
    "output model id": lambda store, run: store.log_outputs(run.info.run_id, [ModelOutput("m" * 65, 0)]),
    "logged model type": lambda store, run: store.create_logged_model(
        run.info.experiment_id, "model", run.info.run_id, model_type="t" * 501
    ),
}


@pytest.mark.parametrize("case", sorted(_OVER_LONG_REFERENCES))
def test_over_long_references_are_refused_on_every_database(tracking_store, case):
    """Values bound for fixed-width columns: PostgreSQL used to fail inside the database (a 500) and MySQL's
    INSERT IGNORE cut metric references short without a word."""
    run = new_run(tracking_store)
    with pytest.raises(InvalidParameterError, match="limit"):
        _OVER_LONG_REFERENCES[case](tracking_store, run)
    fetched = tracking_store.get_run(run.info.run_id)
    assert fetched.data.metrics == {} and fetched.inputs.model_inputs == []
    assert fetched.outputs.model_outputs == []


def test_a_long_source_type_tag_is_kept_whole(tracking_store):
    run = tracking_store.create_run(
        new_run(tracking_store).info.experiment_id,
        user_id="u" * 256,
        tags=[RunTag("mlflow.source.type", "t" * 30)],
    )
    fetched = tracking_store.get_run(run.info.run_id)
    assert fetched.data.tags["mlflow.source.type"] == "t" * 30 and fetched.info.user_id == "u" * 256


def test_the_largest_filters_allowed_run_on_every_database(tracking_store):
    """100 comparisons and 10,000 IN values work everywhere; one more is refused by name, never a database
    error (SQLite gave up on 20,000 ANDed comparisons with "Expression tree is too large")."""
    run = new_run(tracking_store)
    eid = run.info.experiment_id
    tracking_store.log_batch(run.info.run_id, metrics=[Metric("a", 5.0, now(), 0)], params=[Param("p", "x")])

    def found(filter_string):
        return [
            r.info.run_id for r in tracking_store.search_runs([eid], filter_string, ViewType.ACTIVE_ONLY, 10)
        ]

    assert found(" AND ".join(["metrics.a > 1", "params.p = 'x'"] * 50)) == [run.info.run_id]
    assert found(" OR ".join(["metrics.a > 9"] * 99 + ["params.p LIKE 'x%'"])) == [run.info.run_id]
    ids = [uuid.uuid4().hex for _ in range(9999)] + [run.info.run_id]
    assert found("attributes.run_id IN (" + ", ".join(f"'{i}'" for i in ids) + ")") == [run.info.run_id]
    with pytest.raises(InvalidParameterError, match="101 comparisons; the limit is 100"):
        found(" AND ".join(["metrics.a > 1"] * 101))
    with pytest.raises(InvalidParameterError, match="10001 values; the limit is 10000"):
        found("attributes.run_id IN (" + ", ".join(f"'{i}'" for i in [*ids, "x"]) + ")")


# ---------------------------------------------------------------------------------- bad input atomicity


def _snapshot(store, run_id):
    run = store.get_run(run_id)
    history = store.get_metric_history(run_id, "good")
    return run.data.metrics, run.data.params, run.data.tags, [(m.timestamp, m.step, m.value) for m in history]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"metrics": [Metric("k" * 251, 1.0, 1, 0)]}, "limit is 250"),
        ({"params": [Param("../escape", "v")]}, "'..'|resolve"),
        ({"params": [Param("/abs", "v")]}, "resolve"),
        ({"tags": [RunTag("bad\x01key", "v")]}, "Names may only contain"),
        ({"metrics": [Metric("m", "not-a-number", 1, 0)]}, "valid double"),
        ({"metrics": [Metric("m", 1.0, -5, 0)]}, "imestamp"),
        ({"metrics": [Metric("m", 1.0, 1, 2**64)]}, "step"),
        ({"metrics": [Metric(f"m{i}", 1.0, 1, 0) for i in range(1001)]}, "1000 metrics"),
        ({"params": [Param(f"p{i}", "v") for i in range(101)]}, "100 params"),
        ({"params": [Param("dup", "v"), Param("dup", "v")]}, "Duplicate"),
        ({"params": [Param("good_param", "changed")]}, "Changing param values"),
        (
            {"metrics": [Metric("good", 9.0, 1, 0)], "params": [Param("fresh", "x" * (1024 * 1024 + 1))]},
            "limit",
        ),
    ],
)
def test_bad_input_never_changes_stored_data(tracking_store, kwargs, message):
    run = new_run(tracking_store)
    rid = run.info.run_id
    tracking_store.log_batch(
        rid,
        metrics=[Metric("good", float(i), 100 + i, i) for i in range(5)],
        params=[Param("good_param", "1")],
        tags=[RunTag("good_tag", "ok")],
    )
    before = _snapshot(tracking_store, rid)
    with pytest.raises(InvalidParameterError, match=message):
        tracking_store.log_batch(rid, **{"metrics": [], "params": [], "tags": [], **kwargs})
    assert _snapshot(tracking_store, rid) == before


# ----------------------------------------------------------------------------------------------- search


@pytest.fixture
def search_runs_fixture(tracking_store):
    """Six runs with metrics, params and tags chosen to exercise every operator and ordering rule."""
    eid = new_experiment(tracking_store)
    t0 = now()
    spec = [
        # name, acc, loss, model, team, status
        ("a", 0.9, 0.1, "cnn", "red", "FINISHED"),
        ("b", 0.7, math.nan, "rnn", "blue", "FINISHED"),
        ("c", 0.8, 0.3, "cnn", None, "FAILED"),
        ("d", None, 0.2, "MLP", "red", "RUNNING"),
        ("e", 0.95, 0.05, None, "green", "FINISHED"),
        ("f", math.nan, 0.4, "cnn", "blue", "KILLED"),
    ]
    ids = {}
    for i, (name, acc, loss, model, team, status) in enumerate(spec):
        run = tracking_store.create_run(eid, user_id="u", start_time=t0 + i, tags=[], run_name=name)
        metrics = [Metric("loss", loss, t0, 0)]
        if acc is not None:
            metrics.append(Metric("acc", acc, t0, 0))
        params = [Param("model", model)] if model else []
        tags = [RunTag("team", team)] if team else []
        tracking_store.log_batch(run.info.run_id, metrics=metrics, params=params, tags=tags)
        tracking_store.update_run_info(run.info.run_id, status, t0 + 100)
        ids[name] = run.info.run_id
    return tracking_store, eid, ids


def _names(runs):
    return [r.info.run_name for r in runs]


@pytest.mark.parametrize(
    "filter_string, expected",
    [
        ("metrics.acc > 0.75", {"a", "c", "e"}),
        ("metrics.acc >= 0.8 AND params.model = 'cnn'", {"a", "c"}),
        ("metrics.loss < 0.25", {"a", "d", "e"}),
        (
            "metrics.acc != 0.9",
            {"b", "c", "e", "f"},
        ),  # NaN (f) matches, as in MLflow; runs lacking the key never
        ("params.model = 'cnn' OR tags.team = 'green'", {"a", "c", "e", "f"}),
        ("(params.model = 'cnn' OR params.model = 'rnn') AND metrics.loss > 0.15", {"c", "f"}),
        ("params.model != 'cnn'", {"b", "d"}),
        ("params.model LIKE 'c%'", {"a", "c", "f"}),
        ("params.model LIKE 'm%'", set()),  # LIKE is case-sensitive
        ("params.model ILIKE 'm%'", {"d"}),
        ("tags.team IS NULL", {"c"}),
        ("params.model IS NOT NULL AND tags.team = 'red'", {"a", "d"}),
        ("attributes.status = 'FINISHED'", {"a", "b", "e"}),
        ("status != 'FINISHED'", {"c", "d", "f"}),
        ("run_name = 'c'", {"c"}),
        ("attributes.run_name ILIKE 'A'", {"a"}),
        ("tags.`mlflow.runName` = 'e'", {"e"}),
        ("tags.\"team\" = 'blue'", {"b", "f"}),
    ],
)
def test_search_runs_filters(search_runs_fixture, filter_string, expected):
    store, eid, _ = search_runs_fixture
    assert set(_names(store.search_runs([eid], filter_string))) == expected


def test_search_runs_by_run_id_in(search_runs_fixture):
    store, eid, ids = search_runs_fixture
    runs = store.search_runs([eid], f"attributes.run_id IN ('{ids['a']}', '{ids['d']}')")
    assert set(_names(runs)) == {"a", "d"}
    runs = store.search_runs([eid], f"attributes.run_id NOT IN ('{ids['a']}')")
    assert set(_names(runs)) == {"b", "c", "d", "e", "f"}


def test_search_runs_ordering_nan_and_missing_last(search_runs_fixture):
    store, eid, _ = search_runs_fixture
    assert _names(store.search_runs([eid], order_by=["metrics.acc DESC"])) == ["e", "a", "c", "b", "f", "d"]
    assert _names(store.search_runs([eid], order_by=["metrics.acc ASC"])) == ["b", "c", "a", "e", "f", "d"]
    assert _names(store.search_runs([eid], order_by=["metrics.loss"]))[-1] == "b"  # NaN after numbers
    assert _names(store.search_runs([eid], order_by=["params.model ASC"]))[-1] == "e"  # missing last
    # default: start_time DESC
    assert _names(store.search_runs([eid])) == ["f", "e", "d", "c", "b", "a"]
    assert _names(store.search_runs([eid], order_by=["attributes.run_name DESC"])) == [
        "f",
        "e",
        "d",
        "c",
        "b",
        "a",
    ]
    assert _names(store.search_runs([eid], order_by=["tags.team ASC", "attributes.run_name DESC"]))[:3] == [
        "f",
        "b",
        "e",
    ]


@pytest.mark.parametrize(
    "bad",
    [
        "metrics.acc >",
        "metrics.acc > 'x'",
        "params.model > 'a'",
        "foo.bar = 1",
        "metrics.acc = 1 AND",
        "(metrics.acc = 1",
        "params.model IN ('a')",
    ],
)
def test_search_runs_bad_filters_are_invalid_parameter(search_runs_fixture, bad):
    store, eid, _ = search_runs_fixture
    with pytest.raises(InvalidParameterError):
        store.search_runs([eid], bad)


def test_search_runs_view_types(search_runs_fixture):
    store, eid, ids = search_runs_fixture
    store.delete_run(ids["a"])
    assert "a" not in _names(store.search_runs([eid]))
    assert _names(store.search_runs([eid], run_view_type=ViewType.DELETED_ONLY)) == ["a"]
    assert len(store.search_runs([eid], run_view_type=ViewType.ALL)) == 6


def test_search_runs_max_results_bounds(search_runs_fixture):
    store, eid, _ = search_runs_fixture
    with pytest.raises(InvalidParameterError):
        store.search_runs([eid], max_results=50001)
    with pytest.raises(InvalidParameterError):
        store.search_runs([eid], max_results=0)
    assert len(store.search_runs([eid], max_results=50000)) == 6


@pytest.mark.slow
def test_pagination_over_2500_runs(tracking_store):
    eid = new_experiment(tracking_store)
    t0 = now()
    created = []
    for i in range(2600):
        run = tracking_store.create_run(eid, user_id="u", start_time=t0 + i, tags=[], run_name=f"r{i}")
        created.append(run.info.run_id)
    tracking_store.log_batch(created[7], metrics=[Metric("score", 1.0, t0, 0)])
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = tracking_store.search_runs([eid], max_results=1000, page_token=token)
        seen.extend(r.info.run_id for r in page)
        pages += 1
        token = page.token
        if not token:
            break
    assert pages == 3
    assert seen == list(reversed(created))  # start_time DESC, every run exactly once
    filtered = tracking_store.search_runs([eid], "metrics.score = 1")
    assert [r.info.run_id for r in filtered] == [created[7]]


# ------------------------------------------------------------------------------------------ logged models


def test_logged_model_life_cycle(tracking_store):
    run = new_run(tracking_store)
    eid = run.info.experiment_id
    model = tracking_store.create_logged_model(
        eid, "clf", run.info.run_id, tags={"a": "1"}, params={"p": "2"}, model_type="sklearn"
    )
    assert model.model_id.startswith("m-")
    assert model.status == "LOGGED_MODEL_PENDING"
    assert model.artifact_location.endswith(f"models/{model.model_id}/artifacts")
    ready = tracking_store.finalize_logged_model(model.model_id, "LOGGED_MODEL_READY")
    assert ready.status == "LOGGED_MODEL_READY"
    tracking_store.set_logged_model_tags(model.model_id, {"b": "2"})
    fetched = tracking_store.get_logged_model(model.model_id)
    assert fetched.tags == {"a": "1", "b": "2"} and fetched.params == {"p": "2"}
    assert fetched.source_run_id == run.info.run_id and fetched.name == "clf"
    found = tracking_store.search_logged_models(
        [eid], f"source_run_id = '{run.info.run_id}' AND name = 'clf'"
    )
    assert [m.model_id for m in found] == [model.model_id]
    tracking_store.delete_logged_model_tag(model.model_id, "a")
    assert tracking_store.get_logged_model(model.model_id).tags == {"b": "2"}
    tracking_store.delete_logged_model(model.model_id)
    with pytest.raises(NotFoundError):
        tracking_store.get_logged_model(model.model_id)


def test_metrics_logged_with_a_model_id_belong_to_that_model(tracking_store):
    """MLflow 3: ``log_metric(..., model_id=...)`` also records the point on the logged model, where
    get_logged_model and search_logged_models' ``metrics.`` filters and order read it."""
    run = new_run(tracking_store)
    eid = run.info.experiment_id
    good = tracking_store.create_logged_model(eid, "good", run.info.run_id)
    weak = tracking_store.create_logged_model(eid, "weak", run.info.run_id)
    tracking_store.log_batch(
        run.info.run_id,
        metrics=[
            Metric("accuracy", 0.97, 1_000, 0, model_id=good.model_id),
            Metric("accuracy", 0.55, 1_000, 0, model_id=weak.model_id),
            Metric("accuracy", 0.99, 1_000, 0, model_id="m-does-not-exist"),  # stays a run metric only
        ],
    )
    points = tracking_store.get_logged_model(good.model_id).metrics
    assert [(m.key, m.value, m.step, m.run_id) for m in points] == [("accuracy", 0.97, 0, run.info.run_id)]
    found = tracking_store.search_logged_models([eid], "metrics.accuracy > 0.9")
    assert [m.model_id for m in found] == [good.model_id]
    ordered = tracking_store.search_logged_models(
        [eid], None, order_by=[{"field_name": "metrics.accuracy", "ascending": True}]
    )
    assert [m.model_id for m in ordered] == [weak.model_id, good.model_id]
    history = tracking_store.get_metric_history(run.info.run_id, "accuracy")
    assert sorted(m.value for m in history) == [0.55, 0.97, 0.99]


def test_search_logged_models_by_dataset(tracking_store):
    """MLflow's ``datasets`` argument: models with a metric on one of the datasets (name, optionally digest);
    with a metric filter, only points on those datasets count."""
    run = new_run(tracking_store)
    eid = run.info.experiment_id
    on_train = tracking_store.create_logged_model(eid, "on-train", run.info.run_id)
    on_eval = tracking_store.create_logged_model(eid, "on-eval", run.info.run_id)
    tracking_store.create_logged_model(eid, "no-metrics", run.info.run_id)
    tracking_store.log_batch(
        run.info.run_id,
        metrics=[
            Metric(
                "acc", 0.9, 1_000, 0, dataset_name="train", dataset_digest="t1", model_id=on_train.model_id
            ),
            Metric(
                "acc", 0.4, 1_001, 0, dataset_name="eval", dataset_digest="e1", model_id=on_train.model_id
            ),
            Metric("acc", 0.8, 1_000, 0, dataset_name="eval", dataset_digest="e1", model_id=on_eval.model_id),
        ],
    )

    def names(**kwargs):
        return sorted(m.name for m in tracking_store.search_logged_models([eid], **kwargs))

    assert names() == ["no-metrics", "on-eval", "on-train"]
    assert names(datasets=[{"dataset_name": "train"}]) == ["on-train"]
    assert names(datasets=[{"dataset_name": "eval"}]) == ["on-eval", "on-train"]
    assert names(datasets=[{"dataset_name": "eval", "dataset_digest": "other"}]) == []
    assert names(datasets=[{"dataset_name": "train"}, {"dataset_name": "eval", "dataset_digest": "e1"}]) == [
        "on-eval",
        "on-train",
    ]
    assert names(datasets=[{"dataset_name": "nope"}]) == []
    # on "eval" on-train scored 0.4: only on-eval passes; on any dataset both do
    assert names(filter_string="metrics.acc > 0.5", datasets=[{"dataset_name": "eval"}]) == ["on-eval"]
    assert names(filter_string="metrics.acc > 0.5") == ["on-eval", "on-train"]
    with pytest.raises(InvalidParameterError):
        names(datasets=[{"dataset_digest": "e1"}])


# ----------------------------------------------------------------------------------------- gc (SQL only)


def test_gc_hard_deletes_runs_and_experiments(tracking_store):
    from bakehouse.store.tracking.base import GarbageCollectingStore

    if type(tracking_store).__name__.startswith("Rest"):
        # MLflow's REST API has no permanent deletion: `bakehouse gc` refuses a server URI (test_cli.py)
        assert not isinstance(tracking_store, GarbageCollectingStore)
        return
    assert isinstance(tracking_store, GarbageCollectingStore)
    eid = new_experiment(tracking_store)
    keep = new_run(tracking_store, eid)
    gone = new_run(tracking_store, eid)
    tracking_store.log_batch(gone.info.run_id, metrics=[Metric("m", 1.0, 1, 0)], params=[Param("p", "v")])
    tracking_store.delete_run(gone.info.run_id)
    assert gone.info.run_id in tracking_store.get_deleted_runs()
    assert gone.info.run_id not in tracking_store.get_deleted_runs(older_than_ms=10**9)
    tracking_store.hard_delete_run(gone.info.run_id)
    with pytest.raises(NotFoundError):
        tracking_store.get_run(gone.info.run_id)
    assert tracking_store.get_run(keep.info.run_id).info.lifecycle_stage == "active"
    tracking_store.delete_experiment(eid)
    assert eid in tracking_store.get_deleted_experiments()
    tracking_store.hard_delete_experiment(eid)
    with pytest.raises(NotFoundError):
        tracking_store.get_experiment(eid)
    with pytest.raises(NotFoundError):
        tracking_store.get_run(keep.info.run_id)


def test_errors_carry_rest_codes(tracking_store):
    with pytest.raises(BakehouseError) as info:
        tracking_store.get_run(uuid.uuid4().hex)
    assert info.value.code.value == "RESOURCE_DOES_NOT_EXIST"
    assert info.value.http_status == 404
    assert RunStatus.parse("finished") is RunStatus.FINISHED
