"""Which runs make one page of ``search_runs``, and the token of the next: shared by the store's search and
the web UI's runs table (``server/ui/table_query``), so both page the same way.

Three ways to a page, by the order asked:

* the default order (start time newest first, then id): a position token names the page's last run and
  the next page is an index range from there (``runs_after``);
* one metric: the keyset walk of ``run_keyset`` (numbers, NaN, runs without the metric);
* any other order: the offset query (``build_run_search``), with an offset token.

A token of another kind than the order's (an offset token from an older server) still pages by offset.

Whichever the way, a filter that ANDs in a comparison holding for few runs (``params.lr = '0.01'``, a
narrow metric range) is read from that comparison's rows first, and the page is then looked for among those
runs only (``few_candidates``): otherwise a filter that matches little walks every run of the experiment
and probes each one's rows, which for a search matching nothing is the whole experiment.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import Connection, Select, and_, select

from bakehouse.entities import ViewType
from bakehouse.store.db import schema as s
from bakehouse.store.page_token import (
    decode_page_token,
    decode_run_metric_position,
    decode_run_position,
    encode_page_token,
    encode_run_metric_position_token,
    encode_run_position_token,
)

if TYPE_CHECKING:
    from bakehouse.store.search import OrderKey

__all__ = ["RunIdPage", "few_candidates", "run_id_page", "runs_after", "single_metric_order"]

#: a comparison listing at most this many runs narrows the search to them (an IN list every database takes)
FEW_RUNS = 200


class RunIdPage(NamedTuple):
    """One page's run ids in order, and the token of the next page (None when no run follows)."""

    run_ids: list[str]
    next_token: str | None


def run_id_page(
    conn: Connection,
    experiment_ids: Sequence[str],
    filter_string: str | None,
    view: ViewType,
    order_by: Sequence[str],
    page_token: str | None,
    max_results: int,
    offset_tokens: bool = False,
) -> RunIdPage:
    """Up to ``max_results`` run ids of the search, from ``page_token`` on (see the module doc).

    ``offset_tokens``: the next token is always an offset (MLflow's format), whichever way this page was
    read: a client that knows the count can then ask for every later page at once (the web UI does).
    """
    from bakehouse.store.db.filters import build_run_search  # the filter grammar loads on first search

    offset = decode_page_token(page_token) if page_token else 0
    among = few_candidates(conn, experiment_ids, filter_string)
    if among is not None and not among:
        return RunIdPage([], None)  # one ANDed comparison holds for no run at all
    metric = single_metric_order(order_by)
    if metric is not None:
        place = decode_run_metric_position(page_token) if page_token else None
        if place is not None or not page_token:
            page = _metric_page(
                conn, experiment_ids, filter_string, view, metric, place, offset, max_results, among
            )
            if offset_tokens and page.next_token:
                return RunIdPage(page.run_ids, encode_page_token(offset + max_results))
            return page
    position = decode_run_position(page_token) if page_token and not order_by else None
    if not order_by and (position is not None or not page_token):
        run_ids = runs_after(conn, experiment_ids, filter_string, view, position, max_results + 1, among)
    else:
        query = build_run_search(
            experiment_ids, filter_string, view, list(order_by), offset, max_results + 1, among
        )
        run_ids = [r[0] for r in conn.execute(query)]
    if len(run_ids) <= max_results:
        return RunIdPage(run_ids, None)
    run_ids = run_ids[:max_results]  # max_results >= 1: the page has a last run
    if order_by or offset_tokens:
        return RunIdPage(run_ids, encode_page_token(offset + max_results))
    last = run_ids[-1]
    start = conn.execute(select(s.runs.c.start_time).where(s.runs.c.run_uuid == last)).scalar()
    return RunIdPage(run_ids, encode_run_position_token(offset + max_results, start, last))


def _metric_page(
    conn: Connection,
    experiment_ids: Sequence[str],
    filter_string: str | None,
    view: ViewType,
    metric: OrderKey,
    after: tuple[int, float | None, int | None, str] | None,
    offset: int,
    max_results: int,
    among: Sequence[str] | None,
) -> RunIdPage:
    """A page ordered by one metric, read along the metric's index (``run_keyset``)."""
    from bakehouse.store.tracking.sql.run_keyset import RunPlace, metric_page

    place = RunPlace(*after) if after is not None else None
    places = metric_page(
        conn, experiment_ids, filter_string, view, metric.key, metric.ascending, place, max_results + 1, among
    )
    page = places[:max_results]
    if len(places) <= max_results:
        return RunIdPage([p.run_id for p in page], None)
    last = page[-1]
    token = encode_run_metric_position_token(
        offset + max_results, last.segment, last.value, last.start_time, last.run_id
    )
    return RunIdPage([p.run_id for p in page], token)


def runs_after(
    conn: Connection,
    experiment_ids: Sequence[str],
    filter_string: str | None,
    view: ViewType,
    position: tuple[int | None, str] | None,
    limit: int,
    among: Sequence[str] | None = None,
) -> list[str]:
    """The ids of the next ``limit`` runs after ``position`` (from the first run when None) in the default
    order (start time newest first, runs without one last, then run id), by seeking the runs index instead
    of counting an offset.

    Two range scans, never an OR (which would stop SQLite from seeking): the runs with a start time (at or
    before the position's), then, if the page is not full yet, the runs without one. Each is ordered
    without NULLS LAST (it has no NULLs to place): PostgreSQL then reads the index backwards and sorts only
    the runs of one start time by id, where ``DESC NULLS LAST`` (the index gives ``DESC NULLS FIRST``) made
    it sort every run of the range. ``among``: as in ``run_search_conditions``.
    """
    from bakehouse.store.db.filters import run_search_conditions

    runs = s.runs
    where = run_search_conditions(experiment_ids, filter_string, view, among)
    start, after_id = position if position is not None else (None, "")
    ids: list[str] = []
    if position is None or start is not None:
        timed = select(runs.c.run_uuid).where(*where, runs.c.start_time.is_not(None))
        if start is not None:
            timed = timed.where(
                runs.c.start_time <= start, ~and_(runs.c.start_time == start, runs.c.run_uuid <= after_id)
            )
        query = timed.order_by(runs.c.start_time.desc(), runs.c.run_uuid.asc()).limit(limit)
        ids = [r[0] for r in conn.execute(query)]
        after_id = ""
    if len(ids) < limit:
        query = (
            select(runs.c.run_uuid)
            .where(*where, runs.c.start_time.is_(None), runs.c.run_uuid > after_id)
            .order_by(runs.c.run_uuid.asc())
            .limit(limit - len(ids))
        )
        ids += [r[0] for r in conn.execute(query)]
    return ids


def single_metric_order(order_by: Sequence[str] | None) -> OrderKey | None:
    """The order key when a search is ordered by one metric alone (the order ``run_keyset`` can walk)."""
    if not order_by or len(order_by) != 1:
        return None
    from bakehouse.store.search import METRIC, parse_order_by  # the filter grammar loads on first search

    keys = parse_order_by("run", list(order_by))
    return keys[0] if len(keys) == 1 and keys[0].kind == METRIC else None


def few_candidates(
    conn: Connection, experiment_ids: Sequence[str], filter_string: str | None
) -> list[str] | None:
    """The runs of the first comparison ANDed into the filter that holds for at most ``FEW_RUNS`` runs (read
    off its key's rows, ``comparison_run_ids``), or None when there is no such comparison.

    Every match of the filter is among them, so the search may look at those runs only; an empty list
    means nothing matches. Params and tags are tried before metrics (an equality on them is usually the
    narrower), and each try stops reading at ``FEW_RUNS + 1`` rows, so a common value costs little.
    """
    for query in _candidate_queries(tuple(experiment_ids), filter_string):
        run_ids = [r[0] for r in conn.execute(query.limit(FEW_RUNS + 1))]
        if len(run_ids) <= FEW_RUNS:
            return run_ids
    return None


@functools.lru_cache(maxsize=256)
def _candidate_queries(experiment_ids: tuple[str, ...], filter_string: str | None) -> tuple[Select[Any], ...]:
    """The listing query of each comparison ANDed into the filter that has one, params and tags first
    (built once per search shape)."""
    from bakehouse.store.db.filters import comparison_run_ids
    from bakehouse.store.search import METRIC, And, Comparison, parse_filter

    tree = parse_filter("run", filter_string)
    items = tree.items if isinstance(tree, And) else (tree,)
    leaves = sorted((c for c in items if isinstance(c, Comparison)), key=lambda c: c.kind == METRIC)
    queries = (comparison_run_ids(c, experiment_ids) for c in leaves)
    return tuple(q for q in queries if q is not None)
