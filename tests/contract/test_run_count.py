"""The UI's run count (``store.db.run_count``) equals the number of runs the general search returns.

A count whose filter is an AND with a param equality or a metric range is read from that part's index
range (``index_params_key_value`` or ``latest_metrics``' (experiment, key, value)) with the rest tested on
each run; every other filter counts the runs of the experiment. Both must give what the offset query
(``build_run_search``) returns, over runs with ties, NaN, infinities, runs without a metric, deleted runs
and a second experiment sharing the same param values (the params index spans every experiment).
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import pytest
from sqlalchemy import event
from test_search_metric_order import FILTER, _insert

from bakehouse.entities.lifecycle import ViewType
from bakehouse.store.db.filters import build_run_search
from bakehouse.store.db.run_count import count_runs

FILTERS = [
    "",
    FILTER,  # metrics.gate > 0.3 and params.p = 'a'
    "params.p = 'b'",
    "params.p = 'a' and metrics.score >= 2",
    "params.p = 'b' and metrics.gate <= 0.5",
    "params.p = 'nowhere' and metrics.gate > 0.1",
    "metrics.score > 1.25",
    "metrics.score < 3 and attributes.status = 'FINISHED'",
    "metrics.score = 0.75 and params.p != 'b'",
    "metrics.gate > 0.3 and metrics.score <= 4",
    "metrics.score != 2",
    "params.p = 'a' or metrics.score > 4",
    "tags.nothing = 'x' and params.p = 'a'",
]


def _reference(store: Any, experiment_ids: list[str], filter_string: str, view: ViewType) -> int:
    query = build_run_search(experiment_ids, filter_string, view, [], 0, None)
    with store.engine.connect() as conn:
        return len(conn.execute(query).all())


def _check(store: Any, experiment_ids: list[str]) -> None:
    for view in (ViewType.ACTIVE_ONLY, ViewType.DELETED_ONLY, ViewType.ALL):
        for filter_string in FILTERS:
            with store.engine.connect() as conn:
                counted = count_runs(conn, experiment_ids, filter_string, view)
            assert counted == _reference(store, experiment_ids, filter_string, view), (filter_string, view)


def _brute_force(runs: list[dict[str, Any]]) -> int:
    """FILTER's count over the inserted rows themselves, not through any SQL of ours."""
    return sum(1 for r in runs if r["lifecycle_stage"] == "active" and r["_gate"] > 0.3 and r["_p"] == "a")


def test_run_counts_equal_the_search_on_sqlite(sqlite_store: Any) -> None:
    suffix = uuid.uuid4().hex[:8]
    eid, other = (sqlite_store.create_experiment(f"{name}-{suffix}") for name in ("count", "neighbour"))
    runs = _insert(sqlite_store.engine, eid, 3_000)
    neighbours = _insert(sqlite_store.engine, other, 700, salt=1)
    _check(sqlite_store, [eid])
    _check(sqlite_store, [other])
    _check(sqlite_store, [eid, other])
    with sqlite_store.engine.connect() as conn:
        assert count_runs(conn, [eid], FILTER, ViewType.ACTIVE_ONLY) == _brute_force(runs)
        assert count_runs(conn, [eid, other], FILTER, ViewType.ACTIVE_ONLY) == _brute_force(runs + neighbours)


def test_run_counts_equal_the_search_on_every_database(server_database_store: Any) -> None:
    store = server_database_store
    suffix = uuid.uuid4().hex[:8]
    eid, other = (store.create_experiment(f"{name}-{suffix}") for name in ("count", "neighbour"))
    runs = _insert(store.engine, eid, 1_200)
    _insert(store.engine, other, 300, salt=1)
    _check(store, [eid])
    _check(store, [eid, other])
    with store.engine.connect() as conn:
        assert count_runs(conn, [eid], FILTER, ViewType.ACTIVE_ONLY) == _brute_force(runs)


def test_a_long_param_value_is_found_and_counted(tracking_store: Any) -> None:
    """A value longer than PostgreSQL's indexed values (1,000 bytes; MySQL indexes a prefix) is still
    matched by an equality, in the search and in the count; values sharing that prefix are told apart."""
    from bakehouse.entities import Param

    store = tracking_store
    eid = store.create_experiment(f"long-{uuid.uuid4().hex[:8]}")
    prefix = "é" * 600  # 1,200 bytes: beyond the partial index on PostgreSQL, past MySQL's prefix
    ids = []
    for i, value in enumerate([prefix + "a", prefix + "b", prefix + "a", "short"]):
        run_id = store.create_run(eid, "u", 1_000 + i, [], f"r{i}").info.run_id
        store.log_batch(run_id, params=[Param("long", value)])
        ids.append(run_id)
    literal = prefix + "a"
    found = store.search_runs([eid], f"params.long = '{literal}'")
    assert {r.info.run_id for r in found} == {ids[0], ids[2]}
    assert {r.info.run_id for r in store.search_runs([eid], "params.long = 'short'")} == {ids[3]}
    if hasattr(store, "engine"):
        with store.engine.connect() as conn:
            assert count_runs(conn, [eid], f"params.long = '{literal}'", ViewType.ACTIVE_ONLY) == 2
            assert count_runs(conn, [eid], "params.long = 'short'", ViewType.ALL) == 1


def test_a_count_with_a_param_equality_reads_the_param_index(sqlite_store: Any) -> None:
    """The filtered count ranges over (key, value) of ``params``; it does not visit every run."""
    eid = sqlite_store.create_experiment("count-plan")
    _insert(sqlite_store.engine, eid, 500)
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        statements.append((statement, parameters))

    event.listen(sqlite_store.engine, "before_cursor_execute", capture)
    try:
        with sqlite_store.engine.connect() as conn:
            count_runs(conn, [eid], FILTER, ViewType.ACTIVE_ONLY)
    finally:
        event.remove(sqlite_store.engine, "before_cursor_execute", capture)
    (sql, params) = statements[-1]
    with sqlite_store.engine.connect() as conn:
        plan = [str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params)]
    assert plan[0].startswith("SEARCH count_range USING COVERING INDEX index_params_key_value"), plan
    assert not any(line.startswith("SCAN") for line in plan), plan


@pytest.mark.parametrize("value", [math.inf, -math.inf])
def test_a_count_over_an_infinite_bound_equals_the_search(sqlite_store: Any, value: float) -> None:
    eid = sqlite_store.create_experiment(f"inf-{value}")
    _insert(sqlite_store.engine, eid, 400)
    literal = "1e999" if value > 0 else "-1e999"
    for op in ("<", ">", "<=", ">=", "="):
        filter_string = f"metrics.score {op} {literal} and params.p = 'a'"
        with sqlite_store.engine.connect() as conn:
            counted = count_runs(conn, [eid], filter_string, ViewType.ALL)
        assert counted == _reference(sqlite_store, [eid], filter_string, ViewType.ALL), filter_string
        metric_only = f"metrics.score {op} {literal}"
        with sqlite_store.engine.connect() as conn:
            counted = count_runs(conn, [eid], metric_only, ViewType.ALL)
        assert counted == _reference(sqlite_store, [eid], metric_only, ViewType.ALL), metric_only
