"""Paging through search_runs returns every run exactly once, in order, however deep the page.

Runs are bulk-inserted with Core (the store's writes are tested elsewhere); start times have ties and some
runs have none, so the page token's position (start time, run id) is exercised at every boundary. The
100,000-run walk runs on SQLite; PostgreSQL, MySQL and the REST store walk 3,000 runs.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import event, insert

from bakehouse.store.db import schema as s
from bakehouse.store.page_token import encode_page_token


def _expected_order(rows: list[dict[str, Any]]) -> list[str]:
    """The default order: start time newest first, runs without one last, then run id."""
    return [
        r["run_uuid"]
        for r in sorted(rows, key=lambda r: (r["start_time"] is None, -(r["start_time"] or 0), r["run_uuid"]))
    ]


def _insert_runs(engine: Any, experiment_id: str, n: int) -> list[dict[str, Any]]:
    rows = [
        {
            "run_uuid": uuid.UUID(int=(i * 2654435761 + 12345) % (1 << 128)).hex,
            "experiment_id": int(experiment_id),
            "name": f"r{i}",
            "status": "FINISHED",
            "start_time": None if i % 97 == 0 else 1_000 + i // 3,
            "lifecycle_stage": "deleted" if i % 101 == 0 else "active",
        }
        for i in range(n)
    ]
    with engine.begin() as conn:
        for start in range(0, n, 10_000):
            conn.execute(insert(s.runs), rows[start : start + 10_000])
    return [r for r in rows if r["lifecycle_stage"] == "active"]


def _walk(store: Any, experiment_id: str, page_size: int, filter_string: str = "") -> list[str]:
    seen: list[str] = []
    token = None
    while True:
        page = store.search_runs([experiment_id], filter_string, max_results=page_size, page_token=token)
        seen += [r.info.run_id for r in page]
        token = page.token
        if not token:
            return seen


def test_a_hundred_thousand_runs_page_exactly_once_in_order(sqlite_store: Any) -> None:
    eid = sqlite_store.create_experiment("many")
    expected = _expected_order(_insert_runs(sqlite_store.engine, eid, 100_000))
    assert _walk(sqlite_store, eid, 4_999) == expected
    # a filter that only some runs match pages the same way
    named = _walk(sqlite_store, eid, 777, "attributes.run_name LIKE 'r1%'")
    with sqlite_store.engine.connect() as conn:
        matching = {r[0] for r in conn.exec_driver_sql("SELECT run_uuid FROM runs WHERE name LIKE 'r1%'")}
    assert named == [i for i in expected if i in matching]


def test_a_deep_page_seeks_the_runs_index_instead_of_counting(sqlite_store: Any) -> None:
    """The page after a token is read through an index range (start_time<...), not an OFFSET walk."""
    eid = sqlite_store.create_experiment("deep")
    expected = _expected_order(_insert_runs(sqlite_store.engine, eid, 20_000))
    first = sqlite_store.search_runs([eid], "", max_results=10_000)
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if "FROM runs" in statement and "ORDER BY" in statement:
            statements.append((statement, parameters))

    event.listen(sqlite_store.engine, "before_cursor_execute", capture)
    try:
        second = sqlite_store.search_runs([eid], "", max_results=10_000, page_token=first.token)
    finally:
        event.remove(sqlite_store.engine, "before_cursor_execute", capture)
    assert [r.info.run_id for r in first] + [r.info.run_id for r in second] == expected
    # SQLite's compiler always writes "LIMIT ? OFFSET ?": the offset bound must be 0 (no runs skipped by count)
    assert statements and all(params[-1] == 0 for _, params in statements), statements
    with sqlite_store.engine.connect() as conn:
        sql, params = statements[0]
        plan = " | ".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params))
    assert "index_runs_experiment_stage_start_id" in plan and "start_time<" in plan, plan


def test_offset_tokens_from_older_servers_still_page(sqlite_store: Any) -> None:
    eid = sqlite_store.create_experiment("old-tokens")
    expected = _expected_order(_insert_runs(sqlite_store.engine, eid, 500))
    page = sqlite_store.search_runs([eid], "", max_results=100, page_token=encode_page_token(300))
    assert [r.info.run_id for r in page] == expected[300:400]


def test_paging_is_exact_on_every_database(server_database_store: Any) -> None:
    store = server_database_store
    eid = store.create_experiment(f"pages-{uuid.uuid4().hex[:8]}")
    expected = _expected_order(_insert_runs(store.engine, eid, 3_000))
    assert _walk(store, eid, 211) == expected


def test_paging_through_the_server_is_exact(rest_sqlite_server_url: str) -> None:
    from bakehouse.store.tracking.rest import RestTrackingStore

    store = RestTrackingStore.from_uri(rest_sqlite_server_url)
    eid = store.create_experiment(f"pages-{uuid.uuid4().hex[:8]}")
    runs = [store.create_run(eid, "u", 5_000 + i // 4, [], f"r{i}") for i in range(240)]
    expected = _expected_order([{"run_uuid": r.info.run_id, "start_time": r.info.start_time} for r in runs])
    assert _walk(store, eid, 23) == expected


def test_a_forged_position_token_is_refused_and_nothing_is_searched(sqlite_store: Any) -> None:
    import base64
    import json

    from bakehouse.errors import InvalidParameterError

    eid = sqlite_store.create_experiment("forged")
    forged = base64.b64encode(json.dumps({"offset": 0, "start_time": "1 OR 1=1", "run_id": 5}).encode())
    with pytest.raises(InvalidParameterError, match="page token"):
        sqlite_store.search_runs([eid], "", max_results=10, page_token=forged.decode())
