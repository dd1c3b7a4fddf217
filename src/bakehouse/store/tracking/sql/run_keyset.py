"""Keyset pages of ``search_runs`` ordered by one metric: read along the metric's index, stop at a page.

MLflow's order for ``metrics.X [ASC|DESC]`` puts runs in three segments: those whose latest X is a number
(by value; infinities at the ends), then those whose X is NaN, then those without X; ties in each by start
time (newest first, none last) and run id. The offset query sorts every run of the experiment to return
100 of them. Here each segment is its own query, read in order and cut after a page:

* numbers: ``latest_metrics`` of the experiment walked along ``index_latest_metrics_experiment_key_value_run``
  from the previous page's last (value, start time, run id), each row's run tested against the filter.
  On SQLite the row's run id drives the test: first seeks of the run's own rows (param and tag
  equalities, then metric comparisons: ``run_row_probes``), then the run itself (``RUN_INDEX``) for the
  rows that pass, all from covering indexes; PostgreSQL and MySQL join the run and plan the rest;
* NaN: the same index at the NaN stand-in value 0 (few rows), sorted by start time and id;
* missing: the runs of the experiments, newest first, that have no row for X. Proving there are none is a
  walk over every run, so it is skipped when the filter compares X itself (no run without X matches a
  metric comparison), or else when two index-only counts agree: the experiments' runs (any stage) and
  their rows for X (one per run that holds it). Only the page where the numbers and NaN run out gets
  there: a page filled before it needs no proof.

A page that ends inside a segment leaves a token naming its last run's place (see ``page_token``); the next
page resumes there, so the last page costs what the first does.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Connection,
    Double,
    Select,
    and_,
    exists,
    func,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from bakehouse.entities.lifecycle import ViewType
from bakehouse.store.db import schema as s
from bakehouse.store.db.filters import (
    NAN_KIND,
    in_experiments,
    run_row_probes,
    run_search_conditions,
    run_tie_order,
    run_tree_conditions,
)
from bakehouse.store.search import METRIC, And, Comparison, Node, parse_filter

__all__ = ["RunPlace", "metric_page"]

NUMBERS, NAN, MISSING = 0, 1, 2
#: the walked metric's rows (one alias for every query: its column keys the cache of ``run_row_probes``)
ORDER_METRIC = s.latest_metrics.alias("order_metric")


#: on SQLite, the covering index a walked row's run is read from (0016_run_walk_indexes)
RUN_INDEX = "index_runs_id_experiment_stage_start"


class _run_lookup(FunctionElement[Any]):
    """A lookup of the walked row's run (``run_id``) in ``runs`` with some conditions on it: ``EXISTS`` or,
    with ``start_time``, the run's start time. On SQLite it names ``RUN_INDEX`` (run, experiment, stage,
    start time): without statistics its planner takes the primary key's index and then reads the table
    row, a second random read per run. Only the walked table is a FROM of the query around it."""

    inherit_cache = True
    name = "run_lookup"

    def __init__(
        self, run_id: ColumnElement[Any], *conditions: ColumnElement[bool], start_time: bool
    ) -> None:
        super().__init__(run_id, *conditions)
        self.start_time = start_time
        self.type = BigInteger() if start_time else Boolean()

    @property
    def _from_objects(self) -> Any:
        return next(iter(self.clauses))._from_objects


def _run_lookup_sql(element: _run_lookup, compiler: Any, hint: str, **kw: Any) -> str:
    run_id, *conditions = (compiler.process(c, **kw) for c in element.clauses)
    where = " AND ".join([f"runs.run_uuid = {run_id}", *(f"({c})" for c in conditions)])
    if element.start_time:
        return f"(SELECT runs.start_time FROM runs{hint} WHERE {where})"
    return f"(EXISTS (SELECT 1 FROM runs{hint} WHERE {where}))"


@compiles(_run_lookup)
def _run_lookup_default(element: _run_lookup, compiler: Any, **kw: Any) -> str:
    return _run_lookup_sql(element, compiler, "", **kw)


@compiles(_run_lookup, "sqlite")
def _run_lookup_sqlite(element: _run_lookup, compiler: Any, **kw: Any) -> str:
    return _run_lookup_sql(element, compiler, f" INDEXED BY {RUN_INDEX}", **kw)


class RunPlace(NamedTuple):
    """A run's place in the metric order: segment, stored value (numbers only), start time, id."""

    segment: int
    value: float | None
    start_time: int | None
    run_id: str


def _after_tie(start_time: int | None, run_id: str) -> ColumnElement[bool]:
    """Runs after (start_time, run_id) in the tie order: start time newest first, none last, then id."""
    runs = s.runs
    if start_time is None:
        return and_(runs.c.start_time.is_(None), runs.c.run_uuid > run_id)
    return or_(
        runs.c.start_time < start_time,
        runs.c.start_time.is_(None),
        and_(runs.c.start_time == start_time, runs.c.run_uuid > run_id),
    )


class RunTest(NamedTuple):
    """How a walked metric row's run is tested against the search: ``probes`` on the row's run id, then
    ``where`` on the run itself (SQLite: the run's rows are seeked by the id the walk already holds, and
    the run is read only for the rows that pass them), or everything in ``where`` (``probes`` empty)."""

    probes: tuple[ColumnElement[bool], ...]
    where: list[ColumnElement[bool]]


def _run_test(
    experiment_ids: Sequence[str],
    filter_string: str | None,
    view: ViewType,
    among: Sequence[str] | None,
    split: bool,
) -> RunTest:
    """The search's conditions for the walk of the numbers and NaN segments (see ``RunTest``)."""
    if not split:
        return RunTest((), run_search_conditions(experiment_ids, filter_string, view, among))
    probes, rest = run_row_probes(filter_string, ORDER_METRIC.c.run_uuid)
    if among is not None:
        probes = (ORDER_METRIC.c.run_uuid.in_(list(among)), *probes)
    return RunTest(probes, run_tree_conditions(experiment_ids, rest, view))


def _segment_query(
    test: RunTest,
    experiment_ids: Sequence[str],
    key: str,
    ascending: bool,
    segment: int,
    after: RunPlace | None,
    semi_join: bool,
    edge: float | None = None,
) -> Select[Any]:
    """One segment's runs after ``after``; for the numbers, in value order only (the caller orders equal
    values), or only the rows whose value is ``edge``."""
    runs, lm = s.runs, ORDER_METRIC
    tie = _after_tie(after.start_time, after.run_id) if after is not None else None
    where = test.where
    if segment == MISSING:
        absent = ~exists().where(lm.c.run_uuid == runs.c.run_uuid, lm.c.key == key)
        query = select(runs.c.run_uuid, null(), runs.c.start_time).where(absent, *where)
        return (query if tie is None else query.where(tie)).order_by(*run_tie_order())
    # SQLite: the metric's rows are the only table of the outer query, so it reads them along (experiment,
    # key, value) and stops after a page (with a join it starts from the experiment's runs and sorts them
    # all); the run's conditions are a semi-join on its primary key. PostgreSQL and MySQL join the run by
    # its key: their planners order the join themselves (PostgreSQL walks the same index backwards into
    # an incremental sort), nested semi-joins planned before ANALYZE has run can be quadratic there, and
    # PostgreSQL splits a semi-join walk over parallel workers that do not stop after a page.
    run_conditions = list(where)
    if semi_join:
        start_time: Any = _run_lookup(lm.c.run_uuid, start_time=True)
        query = select(lm.c.run_uuid, lm.c.value, start_time.label("start_time"))
    else:
        start_time = runs.c.start_time
        query = select(lm.c.run_uuid, lm.c.value, runs.c.start_time).select_from(
            lm.join(runs, runs.c.run_uuid == lm.c.run_uuid)
        )
    # the run's experiment is on its metric rows too: the walk reads this experiment's values alone
    query = query.where(in_experiments(lm.c.experiment_id, experiment_ids), lm.c.key == key)
    if segment == NAN:
        # NaN is stored as the stand-in 0 (schema.py): an equality on the index, then a few rows sorted
        query = query.where(lm.c.value == literal(0.0, Double()), lm.c.value_kind == NAN_KIND)
        if tie is not None:
            run_conditions.append(tie)
        order = run_tie_order(start_time, lm.c.run_uuid)
    else:
        query = query.where(lm.c.value_kind != NAN_KIND)
        if after is not None and after.value is not None and tie is not None:
            v: ColumnElement[Any] = literal(after.value, Double())
            # a plain range on (key, value) that the index seeks, minus the ties already returned
            query = query.where(lm.c.value >= v if ascending else lm.c.value <= v)
            run_conditions.append(or_(lm.c.value != v, tie))
        # equal values are not ordered here: sorting them by start time in SQL makes SQLite sort every
        # run of each value it passes (the start time is on runs), which is most of the page's cost when
        # values repeat; the caller reads the page's last value whole (``edge``) and orders the rows
        if edge is not None:
            query = query.where(lm.c.value == literal(edge, Double()))
        order = [lm.c.value.asc() if ascending else lm.c.value.desc()]
    if semi_join:
        # the probes before the run: SQLite tests a row's subqueries in the order written
        query = query.where(*test.probes, _run_lookup(lm.c.run_uuid, *run_conditions, start_time=False))
    else:
        query = query.where(*test.probes, *run_conditions)
    return query.order_by(*order)


def metric_page(
    conn: Connection,
    experiment_ids: Sequence[str],
    filter_string: str | None,
    view: ViewType,
    key: str,
    ascending: bool,
    after: RunPlace | None,
    limit: int,
    among: Sequence[str] | None = None,
) -> list[RunPlace]:
    """Up to ``limit`` runs after ``after`` (from the start when None) in the order of ``metrics.<key>``
    (``among``: as in ``run_search_conditions``)."""
    semi_join = conn.dialect.name == "sqlite"
    walk_test = _run_test(experiment_ids, filter_string, view, among, semi_join)
    missing_test = RunTest((), run_search_conditions(experiment_ids, filter_string, view, among))
    places: list[RunPlace] = []
    first = after.segment if after is not None else NUMBERS
    for segment in range(first, MISSING + 1):
        # resuming inside the missing segment, some run lacks the metric: no proof to look for
        if (
            segment == MISSING
            and first != MISSING
            and _none_missing(conn, experiment_ids, filter_string, key)
        ):
            break
        resume = after if segment == first else None
        # a metric's rows are indexed per experiment: with several, each one's walk is its own query (an
        # IN over the index would sort every row of them all), merged here in the segment's order
        walks = [experiment_ids] if segment == MISSING else [[e] for e in _distinct(experiment_ids)]
        wanted = limit - len(places)
        rows: list[Any] = []
        with _serial(conn, segment != MISSING):
            for ids in walks:
                test = missing_test if segment == MISSING else walk_test
                rows += _segment_rows(conn, test, ids, key, ascending, segment, resume, wanted, semi_join)
        if len(walks) > 1:
            rows.sort(key=lambda r: _merge_key(r, segment, ascending))
        places += [
            RunPlace(segment, value if segment == NUMBERS else None, start, run_id)
            for run_id, value, start in rows[:wanted]
        ]
        if len(places) >= limit:
            break
    return places


@contextmanager
def _serial(conn: Connection, walk: bool) -> Iterator[None]:
    """PostgreSQL without parallel workers for a walk: it plans the walk of a large index as a Gather
    Merge whose workers each test their own share of the rows and do not stop after a page (at 10^6 runs,
    ~15,000 rows tested for a page the walk alone finds after ~5,100). ``SET LOCAL`` lasts until the
    transaction ends; the setting returns to its default after the walk (the counts may use workers)."""
    if not walk or conn.dialect.name != "postgresql":
        yield
        return
    conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
    try:
        yield
    finally:
        conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather TO DEFAULT")


def _segment_rows(
    conn: Connection,
    test: RunTest,
    experiment_ids: Sequence[str],
    key: str,
    ascending: bool,
    segment: int,
    after: RunPlace | None,
    wanted: int,
    semi_join: bool,
) -> list[Any]:
    """Up to ``wanted`` (run id, value, start time) rows of one segment, in MLflow's order."""
    query = _segment_query(test, experiment_ids, key, ascending, segment, after, semi_join)
    rows = list(conn.execute(query.limit(wanted)).all())
    if segment != NUMBERS:
        return rows
    if len(rows) == wanted:  # the page may end inside a run of equal values: read that value whole
        edge = rows[-1][1]
        rows = [r for r in rows if r[1] != edge]
        rows += conn.execute(
            _segment_query(test, experiment_ids, key, ascending, segment, after, semi_join, edge)
        ).all()
    rows.sort(key=lambda r: _merge_key(r, segment, ascending))
    return rows[:wanted]


def _distinct(experiment_ids: Sequence[str]) -> list[str]:
    """Each experiment once (``"1"`` and ``"01"`` are one), in the order given."""
    first: dict[int, str] = {}
    for e in experiment_ids:  # already checked to be integers by run_search_conditions
        first.setdefault(int(str(e).strip()), str(e))
    return list(first.values())


def _merge_key(row: Any, segment: int, ascending: bool) -> tuple[Any, ...]:
    """The SQL order of a segment's rows (value, then start time newest first and none last, then id)."""
    run_id, value, start = row
    tie = (start is None, -(start or 0), run_id)
    return tie if segment != NUMBERS else (value if ascending else -value, *tie)


def _none_missing(
    conn: Connection, experiment_ids: Sequence[str], filter_string: str | None, key: str
) -> bool:
    """True when no run the filter can match lacks ``key``: the filter itself compares ``key`` (a metric
    comparison never matches a run without the metric), or every run of the experiments holds it."""
    if _requires_metric(parse_filter("run", filter_string), key):
        return True
    return _every_run_holds(conn, experiment_ids, key)


def _requires_metric(node: Node | None, key: str) -> bool:
    """Whether every run matching ``node`` has a latest ``key`` (each of an AND's parts may say so; all of
    an OR's must)."""
    if node is None:
        return False
    if isinstance(node, Comparison):
        return node.kind == METRIC and node.key == key
    if isinstance(node, And):
        return any(_requires_metric(item, key) for item in node.items)
    return all(_requires_metric(item, key) for item in node.items)


def _every_run_holds(conn: Connection, experiment_ids: Sequence[str], key: str) -> bool:
    """True when every run of the experiments (whatever its stage) has a latest ``key``: then no run is in
    the missing segment. Two index-only counts; a run has at most one row per key, and its experiment."""
    runs, lm = s.runs, s.latest_metrics
    run_count = select(func.count()).where(in_experiments(runs.c.experiment_id, experiment_ids))
    holding = select(func.count()).where(in_experiments(lm.c.experiment_id, experiment_ids), lm.c.key == key)
    return bool(conn.execute(select(run_count.scalar_subquery() == holding.scalar_subquery())).scalar_one())
