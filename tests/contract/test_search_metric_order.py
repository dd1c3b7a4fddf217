"""Paging a search ordered by one metric returns every run exactly once, in MLflow's order.

The pages are read along the metric's index in three segments (numbers, NaN, no such metric; see
``store.tracking.sql.run_keyset``). Runs are bulk-inserted with Core, with ties on the metric's value and
on start times, runs without a start time, NaN, +/-inf, runs without the metric and deleted runs, so every
segment boundary and tie is crossed by some page. The expected order is computed here in Python and also
checked against the offset query the store used before (``build_run_search``).
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import pytest
from sqlalchemy import event, insert

from bakehouse.entities.lifecycle import ViewType
from bakehouse.store.db import schema as s
from bakehouse.store.db.filters import build_run_search
from bakehouse.store.validation import encode_metric_value

FILTER = "metrics.gate > 0.3 and params.p = 'a'"


def _value(i: int, every_run: bool = False) -> float | None:
    """The run's latest ``score``: ties, NaN, infinities, and none for some runs (unless ``every_run``)."""
    if i % 11 == 0 and not every_run:
        return None
    if i % 13 == 0:
        return math.nan
    if i % 17 == 0:
        return math.inf if i % 2 else -math.inf
    return float((i * 7) % 23) / 4


def _insert(
    engine: Any, experiment_id: str, n: int, every_run: bool = False, salt: int = 0
) -> list[dict[str, Any]]:
    runs, metrics, params = [], [], []
    for i in range(n):
        run_id = uuid.UUID(int=(i * 2654435761 + 777 + salt) % (1 << 128)).hex
        start = None if i % 29 == 0 else 10_000 + i // 5
        stage = "deleted" if i % 31 == 0 else "active"
        runs.append(
            {
                "run_uuid": run_id,
                "experiment_id": int(experiment_id),
                "name": f"r{i}",
                "status": "FINISHED",
                "start_time": start,
                "lifecycle_stage": stage,
            }
        )
        value = _value(i, every_run)
        keyed = [("gate", float(i % 10) / 10)] + ([] if value is None else [("score", value)])
        for key, v in keyed:
            stored, kind = encode_metric_value(v)
            metrics.append(
                {
                    "run_uuid": run_id,
                    "key": key,
                    "timestamp": 1,
                    "step": 0,
                    "value": stored,
                    "value_kind": kind,
                    "experiment_id": int(experiment_id),
                }
            )
        params.append({"run_uuid": run_id, "key": "p", "value": "a" if i % 3 else "b"})
        runs[-1]["_score"], runs[-1]["_gate"], runs[-1]["_p"] = value, float(i % 10) / 10, params[-1]["value"]
    with engine.begin() as conn:
        conn.execute(insert(s.runs), [{k: v for k, v in r.items() if not k.startswith("_")} for r in runs])
        conn.execute(insert(s.latest_metrics), metrics)
        conn.execute(insert(s.params), params)
    return runs


def _expected(runs: list[dict[str, Any]], ascending: bool, filtered: bool) -> list[str]:
    """MLflow's order: numbers by value, then NaN, then no metric; ties newest start first, then id."""

    def key(r: dict[str, Any]) -> tuple[Any, ...]:
        v = r["_score"]
        segment = 2 if v is None else 1 if math.isnan(v) else 0
        number = 0.0 if segment else (v if ascending else -v)
        return (segment, number, r["start_time"] is None, -(r["start_time"] or 0), r["run_uuid"])

    kept = [
        r
        for r in runs
        if r["lifecycle_stage"] == "active" and (not filtered or (r["_gate"] > 0.3 and r["_p"] == "a"))
    ]
    return [r["run_uuid"] for r in sorted(kept, key=key)]


def _walk(store: Any, eid: str | list[str], order: str, page_size: int, filter_string: str = "") -> list[str]:
    seen: list[str] = []
    token = None
    while True:
        page = store.search_runs(
            eid if isinstance(eid, list) else [eid],
            filter_string,
            max_results=page_size,
            order_by=[order],
            page_token=token,
        )
        seen += [r.info.run_id for r in page]
        token = page.token
        if not token:
            return seen


def _offset_order(store: Any, eid: str | list[str], order: str, filter_string: str) -> list[str]:
    ids = eid if isinstance(eid, list) else [eid]
    query = build_run_search(ids, filter_string, ViewType.ACTIVE_ONLY, [order], 0, None)
    with store.engine.connect() as conn:
        return [r[0] for r in conn.execute(query)]


def _check_every_order(
    store: Any, eid: str | list[str], runs: list[dict[str, Any]], page_sizes: list[int]
) -> None:
    for ascending in (False, True):
        order = "metrics.score " + ("ASC" if ascending else "DESC")
        for filter_string in ("", FILTER):
            expected = _expected(runs, ascending, bool(filter_string))
            assert _offset_order(store, eid, order, filter_string) == expected, (order, filter_string)
            for size in page_sizes:
                assert _walk(store, eid, order, size, filter_string) == expected, (order, filter_string, size)


def test_metric_ordered_pages_are_exact_on_sqlite(sqlite_store: Any) -> None:
    eid = sqlite_store.create_experiment("ordered")
    runs = _insert(sqlite_store.engine, eid, 3_000)
    _check_every_order(sqlite_store, eid, runs, [9, 250, 5_000])


def test_metric_ordered_pages_are_exact_on_every_database(server_database_store: Any) -> None:
    store = server_database_store
    eid = store.create_experiment(f"ordered-{uuid.uuid4().hex[:8]}")
    runs = _insert(store.engine, eid, 1_200)
    _check_every_order(store, eid, runs, [13, 400])


def test_pages_are_exact_when_every_run_holds_the_metric(server_database_store: Any) -> None:
    """No active run lacks ``score`` (the missing segment is skipped by its counts), next to a second
    experiment whose runs share the metric's keys and values: each search sees its own experiments only.
    A deleted run without the metric then makes the counts differ: the walk runs again, the pages stay."""
    store = server_database_store
    suffix = uuid.uuid4().hex[:8]
    eid, other = store.create_experiment(f"held-{suffix}"), store.create_experiment(f"other-{suffix}")
    runs = _insert(store.engine, eid, 600, every_run=True)
    neighbours = _insert(store.engine, other, 400, salt=1)
    _check_every_order(store, eid, runs, [7, 600])
    _check_every_order(store, other, neighbours, [50])
    _check_every_order(store, [eid, other], runs + neighbours, [97])
    deleted = store.create_run(eid, "u", 1, [], "deleted-without-score").info.run_id
    store.delete_run(deleted)
    _check_every_order(store, eid, runs, [250])


def test_the_missing_segment_is_skipped_when_every_run_holds_the_metric(sqlite_store: Any) -> None:
    """The last page reads the numbers and NaN, then two counts, not a walk over every run."""
    eid = sqlite_store.create_experiment("every-run")
    runs = _insert(sqlite_store.engine, eid, 500, every_run=True)
    statements: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        statements.append(statement)

    expected = _expected(runs, False, False)
    event.listen(sqlite_store.engine, "before_cursor_execute", capture)
    try:
        seen = _walk(sqlite_store, eid, "metrics.score DESC", 400)
    finally:
        event.remove(sqlite_store.engine, "before_cursor_execute", capture)
    assert seen == expected
    assert any("count(" in q.lower() for q in statements), statements
    assert not any("NOT (EXISTS" in q for q in statements), statements
    # with one run lacking it, the missing segment is read (and holds that run, last)
    lacking = sqlite_store.create_run(eid, "u", 1, [], "no-score").info.run_id
    statements.clear()
    event.listen(sqlite_store.engine, "before_cursor_execute", capture)
    try:
        assert _walk(sqlite_store, eid, "metrics.score DESC", 400)[-1] == lacking
    finally:
        event.remove(sqlite_store.engine, "before_cursor_execute", capture)
    assert any("NOT (EXISTS" in q for q in statements), statements


def test_a_metric_ordered_page_walks_the_metric_index(sqlite_store: Any) -> None:
    """The first page reads (key, value) in order and stops; it does not sort every run first."""
    eid = sqlite_store.create_experiment("plan")
    _insert(sqlite_store.engine, eid, 2_000)
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if "ORDER BY" in statement:
            statements.append((statement, parameters))

    event.listen(sqlite_store.engine, "before_cursor_execute", capture)
    try:
        page = sqlite_store.search_runs([eid], FILTER, max_results=10, order_by=["metrics.score DESC"])
    finally:
        event.remove(sqlite_store.engine, "before_cursor_execute", capture)
    assert len(page) == 10 and page.token
    # the numbers alone filled the page: the walk, then the page's last value read whole (its runs are
    # ordered by start time and id, which the index does not hold)
    assert len(statements) == 2, statements
    with sqlite_store.engine.connect() as conn:
        walk, edge = (
            " | ".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params))
            for sql, params in statements
        )
    # the walk reads the index alone; a run is tested by seeks of covering indexes (0016_run_walk_indexes)
    index = "SEARCH order_metric USING COVERING INDEX index_latest_metrics_experiment_key_value_run"
    assert walk.startswith(index + " (experiment_id=? AND key=?)"), walk
    assert "TEMP B-TREE" not in walk, walk
    assert edge.startswith(index + " (experiment_id=? AND key=? AND value=?)"), edge
    for plan in (walk, edge):
        assert "SEARCH param_eq USING COVERING INDEX index_params_key_value" in plan, plan
        assert "SEARCH runs USING COVERING INDEX index_runs_id_experiment_stage_start (run_uuid=?)" in plan, (
            plan
        )
        assert "SEARCH metric_probe USING COVERING INDEX index_latest_metrics_run_key_value" in plan, plan


def test_an_offset_token_still_pages_a_metric_order(sqlite_store: Any) -> None:
    from bakehouse.store.page_token import encode_page_token

    eid = sqlite_store.create_experiment("offsets")
    runs = _insert(sqlite_store.engine, eid, 300)
    expected = _expected(runs, False, False)
    page = sqlite_store.search_runs(
        [eid], "", max_results=50, order_by=["metrics.score DESC"], page_token=encode_page_token(100)
    )
    assert [r.info.run_id for r in page] == expected[100:150]


def test_a_forged_metric_position_token_is_refused(sqlite_store: Any) -> None:
    import base64
    import json

    from bakehouse.errors import InvalidParameterError

    eid = sqlite_store.create_experiment("forged")
    for body in (
        {"offset": 0, "segment": 0, "value": "1 OR 1=1", "start_time": 1, "run_id": "a"},
        {"offset": 0, "segment": 5, "value": None, "start_time": 1, "run_id": "a"},
        {"offset": 0, "segment": 0, "value": 1.0, "start_time": 1, "run_id": 7},
    ):
        forged = base64.b64encode(json.dumps(body).encode()).decode()
        with pytest.raises(InvalidParameterError, match="page token"):
            sqlite_store.search_runs([eid], "", max_results=10, order_by=["metrics.x"], page_token=forged)


def test_a_filter_on_the_ordering_metric_needs_no_proof_about_runs_without_it(sqlite_store: Any) -> None:
    """``metrics.score != x`` matches no run without ``score``: the pages end after the numbers and NaN
    with neither the counts nor the walk over runs without it, though such runs exist; with an OR that
    lets a run without ``score`` match, that run comes last as before."""
    eid = sqlite_store.create_experiment("filtered-on-order")
    runs = _insert(sqlite_store.engine, eid, 1_000)
    statements: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        statements.append(statement)

    def order(r: dict[str, Any]) -> tuple[Any, ...]:
        v = r["_score"]
        segment = 2 if v is None else 1 if math.isnan(v) else 0
        return (
            segment,
            0.0 if segment else -v,
            r["start_time"] is None,
            -(r["start_time"] or 0),
            r["run_uuid"],
        )

    active = [r for r in runs if r["lifecycle_stage"] == "active"]
    holding = [r["run_uuid"] for r in sorted((r for r in active if r["_score"] is not None), key=order)]
    event.listen(sqlite_store.engine, "before_cursor_execute", capture)
    try:
        for size in (7, 100, len(holding), 2_000):
            assert _walk(sqlite_store, eid, "metrics.score DESC", size, "metrics.score != 1234.5") == holding
    finally:
        event.remove(sqlite_store.engine, "before_cursor_execute", capture)
    assert not any("count(" in q.lower() for q in statements), statements
    assert not any("NOT (EXISTS" in q for q in statements), statements
    either = "metrics.score < 2 OR metrics.gate > 0.85"
    matching = [
        r
        for r in active
        if r["_gate"] > 0.85 or (r["_score"] is not None and not math.isnan(r["_score"]) and r["_score"] < 2)
    ]
    expected = [r["run_uuid"] for r in sorted(matching, key=order)]
    assert any(r["_score"] is None for r in matching)
    assert _offset_order(sqlite_store, eid, "metrics.score DESC", either) == expected
    for size in (9, 333):
        assert _walk(sqlite_store, eid, "metrics.score DESC", size, either) == expected


@pytest.mark.parametrize("size", [1, 50, 199])
def test_runs_table_first_page_by_metric_equals_runs_search(sqlite_store: Any, size: int) -> None:
    """The UI's runs table reads a metric-ordered first page the same way (and its later pages by offset):
    the same runs in the same order as the store's search, across the NaN and missing segments."""
    from bakehouse.server.ui.table_query import runs_table
    from bakehouse.store.page_token import decode_page_token

    eid = sqlite_store.create_experiment(f"table-{size}")
    runs = _insert(sqlite_store.engine, eid, 400)
    for filter_string in ("", FILTER):
        expected = _expected(runs, False, bool(filter_string))
        seen: list[str] = []
        token = None
        while True:
            page = runs_table(
                sqlite_store.engine, [eid], filter_string, "ACTIVE_ONLY", ["metrics.score DESC"], size, token
            )
            seen += page["runs"]["run_id"]
            token = page.get("next_page_token")
            if not token:
                break
            assert decode_page_token(token) == len(seen)  # offsets: the UI asks for later pages at once
        assert seen == expected, (filter_string, size)


def _matches(r: dict[str, Any], filter_string: str) -> bool:
    """The filters of ``SHAPES`` evaluated in Python on what ``_insert`` wrote."""
    score, gate, p = r["_score"], r["_gate"], r["_p"]
    number = score is not None and not math.isnan(score)
    return {
        "attributes.run_name LIKE 'r1%' and params.p = 'a'": r["name"].startswith("r1") and p == "a",
        "params.p = 'b' or metrics.gate >= 0.8": p == "b" or gate >= 0.8,
        "metrics.gate < 0.5 and params.p != 'a'": gate < 0.5 and p != "a",
        "attributes.start_time > 10100 and metrics.gate > 0.2 and params.p = 'a'": (
            (r["start_time"] or 0) > 10100 and gate > 0.2 and p == "a"
        ),
        "metrics.score >= 2 and params.p = 'a'": number and score >= 2 and p == "a",
        "metrics.gate >= 0.9 and params.p = 'a'": gate >= 0.9 and p == "a",
        "params.q IS NULL and metrics.gate > 0.6": gate > 0.6,
        "params.p = 'a' and attributes.run_name != 'r5'": p == "a" and r["name"] != "r5",
    }[filter_string]


SHAPES = [
    "attributes.run_name LIKE 'r1%' and params.p = 'a'",
    "params.p = 'b' or metrics.gate >= 0.8",
    "metrics.gate < 0.5 and params.p != 'a'",
    "attributes.start_time > 10100 and metrics.gate > 0.2 and params.p = 'a'",
    "metrics.score >= 2 and params.p = 'a'",
    "metrics.gate >= 0.9 and params.p = 'a'",  # 120 runs of gate >= 0.9: the search reads those alone
    "params.q IS NULL and metrics.gate > 0.6",
    "params.p = 'a' and attributes.run_name != 'r5'",
]


def _check_shapes(store: Any, n: int, sizes: list[int]) -> None:
    """Every filter shape, both directions: the pages equal the filter evaluated in Python and the offset
    query (a walk tests each row's run by its rows first and by the run itself last)."""
    eid = store.create_experiment(f"shapes-{uuid.uuid4().hex[:8]}")
    runs = _insert(store.engine, eid, n)
    other = store.create_experiment(f"shapes-other-{uuid.uuid4().hex[:8]}")
    _insert(store.engine, other, n // 4, salt=3)  # same keys and values in another experiment
    for filter_string in SHAPES:
        for ascending in (False, True):
            order = "metrics.score " + ("ASC" if ascending else "DESC")
            kept = [r for r in runs if _matches(r, filter_string)]
            expected = [r for r in _expected(kept, ascending, False)]
            assert expected, filter_string
            assert _offset_order(store, eid, order, filter_string) == expected, (order, filter_string)
            for size in sizes:
                assert _walk(store, eid, order, size, filter_string) == expected, (order, filter_string, size)


def test_every_filter_shape_pages_as_the_filter_says_on_sqlite(sqlite_store: Any) -> None:
    _check_shapes(sqlite_store, 1_200, [7, 250])


def test_every_filter_shape_pages_as_the_filter_says_on_every_database(server_database_store: Any) -> None:
    _check_shapes(server_database_store, 1_200, [13, 400])
