"""The runs table as columns: one page of a run search, params / metrics / tags as per-key columns.

``runs/search`` answers 10,000 runs x 40 keys with ~27 MB of JSON, one object per param, metric and tag
(key, value, timestamp, step for each metric), which the server takes seconds to build and the browser has
to parse and keep. The UI only needs the values: this helper sends each key once, with its values in run
order (about a quarter of the bytes; no artifact URIs, which the table does not show), built from four
plain SQL reads on the DB-API cursor (see ``bakehouse.store.tracking.sql.raw``). The run selection and
order are exactly ``search_runs``' (the same ``run_pages.run_id_page``: a first page ordered by one metric
is read along the metric's index); its next page tokens are offsets, so the UI can fetch pages in parallel,
and it takes ``runs/search``'s tokens too.

Bakehouse-only options cut what a view fetches: ``include`` names which of ``params``, ``metrics`` and
``tags`` to send whole, ``keys`` names exact keys of a group (parallel coordinates of 10,000 runs plot 7 of
40 keys: the others are never read, the ``key IN (...)`` is part of the SQL), ``run_fields`` which run
columns to send (a plot names its lines: ``run_id`` and ``run_name`` are 40% of the run columns' bytes), and ``with_total``
adds ``"total"``, how many runs the search matches in all, so a client that fetches every page asks for
exactly the pages that exist (no request past the end) and can size them.

Response::

    {"count": n, "next_page_token": "...",            # token only when more runs match
     "total": t,                                      # only with with_total
     "runs": {"run_id": [...], "run_name": [...], "experiment_id": [...], "user_id": [...], "status": [...],
              "start_time": [...], "end_time": [...], "lifecycle_stage": [...]},   # those in run_fields
     "metrics": {key: column}, "params": {key: column}, "tags": {key: column}}

A column is a list of ``n`` values when every run of the page has the key, else ``{"i": [run indexes],
"v": [values]}``. Metric values are numbers; NaN and infinities are the strings ``"NaN"``, ``"Infinity"``
and ``"-Infinity"`` (as in MLflow's JSON).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Engine

from bakehouse.entities.lifecycle import ViewType
from bakehouse.store.db.run_count import count_runs
from bakehouse.store.page_token import decode_page_token
from bakehouse.store.tracking.sql import raw
from bakehouse.store.tracking.sql.run_pages import run_id_page

#: The same cap as runs/search.
MAX_RESULTS = 50_000
#: an empty slot of a key column (None is a value: a param may be stored empty)
_MISSING = object()
#: the per-key groups a page may hold (``include``)
KEY_GROUPS = ("params", "metrics", "tags")
#: at most this many exact keys per request (all groups together), each at most MAX_KEY_LENGTH long
MAX_KEYS = 64
_NON_FINITE = {1: "NaN", 2: "Infinity", 3: "-Infinity"}
#: (group, table, value columns) of the per-key reads
_GROUP_READS = (
    ("metrics", "latest_metrics", ("value", "value_kind")),
    ("params", "params", ("value",)),
    ("tags", "tags", ("value",)),
)
#: the run columns a page may hold (``run_fields``; ``run_id`` is always sent) and the runs column of each
RUN_FIELDS = {
    "run_id": "run_uuid",
    "run_name": "name",
    "experiment_id": "experiment_id",
    "user_id": "user_id",
    "status": "status",
    "start_time": "start_time",
    "end_time": "end_time",
    "lifecycle_stage": "lifecycle_stage",
}


def _columns(
    pairs: list[tuple[Any, ...]], index: dict[str, int], n: int, metric: bool = False
) -> dict[str, Any]:
    """(run_uuid, key, value[, kind]) rows -> {key: dense list | {"i": [...], "v": [...]}}.

    Each value goes straight to its run's slot of a list per key (one dict lookup and one store per row:
    this loop is most of the helper's Python time); keys some runs lack become sparse at the end.
    """
    slots: dict[str, list[Any]] = {}
    for row in pairs:
        col = slots.get(row[1])
        if col is None:
            col = slots[row[1]] = [_MISSING] * n
        if metric and row[3]:
            col[index[row[0]]] = _NON_FINITE.get(row[3], row[2])
        else:
            col[index[row[0]]] = row[2]
    out: dict[str, Any] = {}
    for key, col in slots.items():
        if _MISSING in col:
            idx = [i for i, v in enumerate(col) if v is not _MISSING]
            out[key] = {"i": idx, "v": [col[i] for i in idx]}
        else:
            out[key] = col
    return out


def runs_table(
    engine: Engine,
    experiment_ids: Sequence[str],
    filter_string: str | None,
    view: str,
    order_by: Sequence[str],
    max_results: int,
    page_token: str | None,
    include: Sequence[str] = KEY_GROUPS,
    with_total: bool = False,
    keys: Mapping[str, Sequence[str]] | None = None,
    run_fields: Sequence[str] = tuple(RUN_FIELDS),
) -> dict[str, Any]:
    """One page of ``search_runs(...)`` in the columnar shape described above.

    A group in ``include`` is sent whole; a group in ``keys`` only with those keys (a key no run of the
    page has is absent from the answer, as it would be from a whole group).
    """
    keys = keys or {}
    fields = ["run_id", *(f for f in RUN_FIELDS if f in run_fields and f != "run_id")]
    sent = {group for group in KEY_GROUPS if group in include or group in keys}
    if page_token:
        decode_page_token(page_token)  # a malformed token is refused before anything is read
    search = (list(experiment_ids), filter_string, ViewType.parse(view))
    with engine.connect() as conn:
        total = None
        if with_total:
            # the search's conditions alone, no joins for its order (a sort by a metric joined every run's
            # metric row); from the narrowest index range the filter allows (store/db/run_count)
            total = count_runs(conn, *search)
        # offset tokens, so that the UI can ask for the later pages in parallel; the first page of a
        # search ordered by one metric is still read along the metric's index (not by sorting every run)
        page = run_id_page(conn, *search, list(order_by), page_token, max_results, offset_tokens=True)
        run_ids = page.run_ids
        out: dict[str, Any] = {
            "count": 0,
            "runs": {f: [] for f in fields},
            **{group: {} for group in KEY_GROUPS if group in sent},
        }
        if total is not None:
            out["total"] = total
        if not run_ids:
            return out
        by_id = {
            row[0]: row
            for row in raw.fetch_in(
                conn,
                f"SELECT {raw.columns(conn, *(RUN_FIELDS[f] for f in fields))} FROM runs WHERE run_uuid",
                run_ids,
            )
        }
        run_ids = [r for r in run_ids if r in by_id]  # deleted between the two reads
        index = {r: i for i, r in enumerate(run_ids)}
        n = len(run_ids)
        rows = [by_id[r] for r in run_ids]
        runs: dict[str, list[Any]] = {f: [row[c] for row in rows] for c, f in enumerate(fields)}
        if "experiment_id" in runs:
            runs["experiment_id"] = [str(e) for e in runs["experiment_id"]]
        for text in ("run_name", "user_id"):
            if text in runs:
                runs[text] = [v or "" for v in runs[text]]
        out["count"] = n
        out["runs"] = runs
        for group, table, value_columns in _GROUP_READS:
            if group not in sent:
                continue
            select_sql = f"SELECT {raw.columns(conn, 'run_uuid', 'key', *value_columns)} FROM {table} WHERE"
            wanted = list(keys.get(group, ()))
            if group in keys:  # only these keys: the other rows are never read
                if not wanted:
                    continue
                marks = ", ".join([raw.marker(conn)] * len(wanted))
                select_sql += f" {raw.quoted(conn, 'key')} IN ({marks}) AND"
            out[group] = _columns(
                raw.fetch_in(conn, f"{select_sql} run_uuid", run_ids, params_before=wanted),
                index,
                n,
                metric=group == "metrics",
            )
    if page.next_token:
        out["next_page_token"] = page.next_token
    return out
