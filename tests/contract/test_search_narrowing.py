"""A run search whose filter ANDs in a comparison that holds for few runs starts from those runs
(``run_pages.few_candidates``): the answers must be exactly the general search's, on every backend, for
every way to a page (default order and its position tokens, one metric's keyset walk, the offset query).

Each search is checked against the same filter evaluated in Python over the runs the test wrote.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event

from bakehouse.entities import Metric, Param, RunTag, ViewType
from bakehouse.store.tracking.sql import run_pages

T0 = 1_700_000_000_000
N_RUNS = 30


def _acc(i: int) -> float:
    if i == 7:
        return math.inf
    if i == 8:
        return math.nan
    return (i * 37 % 100) / 100


def _write(
    store: Any, name: str, n: int, deleted: tuple[int, ...] = ()
) -> tuple[str, dict[str, dict[str, Any]]]:
    """``n`` runs with params lr/model, metric acc and tag group; returns their values by run id."""
    eid = store.create_experiment(f"{name}-{uuid.uuid4().hex[:8]}")
    runs: dict[str, dict[str, Any]] = {}
    for i in range(n):
        lr, acc, group = str(i / 1000), _acc(i), "a" if i % 2 else "b"
        run = store.create_run(eid, "u", T0 + i % 10, [RunTag("group", group)], f"r{i}")
        store.log_batch(
            run.info.run_id,
            metrics=[Metric("acc", acc, T0, 0)],
            params=[Param("lr", lr), Param("model", "cnn" if i % 3 else "mlp")],
        )
        if i in deleted:
            store.delete_run(run.info.run_id)
        else:
            runs[run.info.run_id] = {"lr": lr, "acc": acc, "group": group, "start": T0 + i % 10}
    return eid, runs


def _walk(store: Any, eid: str, filter_string: str, order_by: list[str], page: int) -> list[str]:
    seen: list[str] = []
    token = None
    while True:
        result = store.search_runs(
            [eid], filter_string, ViewType.ACTIVE_ONLY, max_results=page, order_by=order_by, page_token=token
        )
        seen += [r.info.run_id for r in result]
        token = result.token
        if not token:
            return seen


# filter, the same condition in Python
FILTERS: list[tuple[str, Callable[[dict[str, Any]], bool]]] = [
    ("metrics.acc > 0.5 and params.lr = '0.01'", lambda r: r["acc"] > 0.5 and r["lr"] == "0.01"),
    ("params.lr = '0.003'", lambda r: r["lr"] == "0.003"),
    ("params.lr = '0.004'", lambda r: r["lr"] == "0.004"),  # the deleted run's value
    (
        "(params.lr = '0.011' or params.lr = '0.013') and tags.group = 'a'",
        lambda r: r["lr"] in ("0.011", "0.013") and r["group"] == "a",
    ),
    ("tags.group = 'a' and metrics.acc > 0.9", lambda r: r["group"] == "a" and r["acc"] > 0.9),
    ("metrics.acc > 0.95", lambda r: r["acc"] > 0.95),  # +inf matches, NaN does not
    ("metrics.acc <= 0.1 and tags.group = 'b'", lambda r: r["acc"] <= 0.1 and r["group"] == "b"),
    ("params.lr = 'nope' and tags.group = 'a'", lambda r: False),
]


@pytest.mark.parametrize(
    "order_by", [[], ["metrics.acc DESC"], ["params.lr ASC"]], ids=["default", "metric", "param"]
)
def test_narrowed_searches_answer_as_the_filter_says(tracking_store: Any, order_by: list[str]) -> None:
    store = tracking_store
    eid, runs = _write(store, "narrow", N_RUNS, deleted=(4,))
    _, other = _write(store, "other", 5)  # the same param values in another experiment must not leak in
    assert other
    for filter_string, holds in FILTERS:
        expected = {run_id for run_id, r in runs.items() if holds(r)}
        everything = store.search_runs([eid], filter_string, max_results=1000, order_by=order_by)
        assert {r.info.run_id for r in everything} == expected, filter_string
        # paging two at a time through the tokens gives the same runs in the same order
        assert _walk(store, eid, filter_string, order_by, 2) == [r.info.run_id for r in everything], (
            filter_string
        )
        if order_by == ["metrics.acc DESC"]:
            accs = [runs[r.info.run_id]["acc"] for r in everything]
            numbers = [a for a in accs if not math.isnan(a)]
            assert numbers == sorted(numbers, reverse=True), filter_string


def test_a_narrow_comparison_reads_only_its_runs(sqlite_store: Any) -> None:
    """The page query is asked for the few runs by id, and a comparison holding for no run ends the search
    before any run is read."""
    store = sqlite_store
    eid, runs = _write(store, "plan", N_RUNS)
    statements: list[str] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        page = store.search_runs([eid], "metrics.acc >= 0 and params.lr = '0.003'", max_results=10)
        assert [r.info.run_id for r in page] == [k for k, r in runs.items() if r["lr"] == "0.003"]
        page_query = [q for q in statements if "FROM runs" in q and "ORDER BY" in q]
        assert page_query and all("runs.run_uuid IN" in q for q in page_query)
        statements.clear()
        assert len(store.search_runs([eid], "metrics.acc >= 0 and params.lr = 'nope'")) == 0
        assert not [q for q in statements if "FROM runs" in q]
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)


def test_past_the_few_runs_limit_the_search_walks_as_before(
    sqlite_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = sqlite_store
    eid, runs = _write(store, "limit", N_RUNS)
    monkeypatch.setattr(run_pages, "FEW_RUNS", 3)
    with store.engine.connect() as conn:
        assert run_pages.few_candidates(conn, [eid], "tags.group = 'a'") is None  # 15 runs: over the limit
        few = run_pages.few_candidates(conn, [eid], "tags.group = 'a' and params.lr = '0.005'")
    assert few == [k for k, r in runs.items() if r["lr"] == "0.005"]
    page = store.search_runs([eid], "tags.group = 'a'", max_results=1000)
    assert {r.info.run_id for r in page} == {k for k, r in runs.items() if r["group"] == "a"}
