"""The runs table as columns: one page of a run search, params / metrics / tags as per-key columns.

``runs/search`` answers 10,000 runs x 40 keys with ~27 MB of JSON, one object per param, metric and tag
(key, value, timestamp, step for each metric), which the server takes seconds to build and the browser has
to parse and keep. The UI only needs the values: this helper sends each key once, with its values in run
order (about a quarter of the bytes; no artifact URIs, which the table does not show), built from four
plain SQL reads on the DB-API cursor (see ``bakehouse.store.tracking.sql.raw``). The run selection and
order are exactly ``search_runs``' (the same ``build_run_search`` query, so the same filter language,
``order_by`` and offset page tokens).

Response::

    {"count": n, "next_page_token": "...",            # token only when more runs match
     "runs": {"run_id": [...], "run_name": [...], "experiment_id": [...], "user_id": [...], "status": [...],
              "start_time": [...], "end_time": [...], "lifecycle_stage": [...]},
     "metrics": {key: column}, "params": {key: column}, "tags": {key: column}}

A column is a list of ``n`` values when every run of the page has the key, else ``{"i": [run indexes],
"v": [values]}``. Metric values are numbers; NaN and infinities are the strings ``"NaN"``, ``"Infinity"``
and ``"-Infinity"`` (as in MLflow's JSON).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Engine

from bakehouse.entities.lifecycle import ViewType
from bakehouse.store.db.filters import build_run_search
from bakehouse.store.page_token import decode_page_token, encode_page_token
from bakehouse.store.tracking.sql import raw

#: The same cap as runs/search.
MAX_RESULTS = 50_000
_NON_FINITE = {1: "NaN", 2: "Infinity", 3: "-Infinity"}
_RUN_COLUMNS = (
    "run_uuid",
    "name",
    "experiment_id",
    "user_id",
    "status",
    "start_time",
    "end_time",
    "lifecycle_stage",
)
_RUN_FIELDS = (
    "run_id",
    "run_name",
    "experiment_id",
    "user_id",
    "status",
    "start_time",
    "end_time",
    "lifecycle_stage",
)


def _columns(
    pairs: list[tuple[Any, ...]], index: dict[str, int], n: int, metric: bool = False
) -> dict[str, Any]:
    """(run_uuid, key, value[, kind]) rows -> {key: dense list | {"i": [...], "v": [...]}}."""
    sparse: dict[str, tuple[list[int], list[Any]]] = {}
    for row in pairs:
        i = index[row[0]]
        value = row[2]
        if metric and row[3]:
            value = _NON_FINITE.get(row[3], value)
        col = sparse.get(row[1])
        if col is None:
            col = sparse[row[1]] = ([], [])
        col[0].append(i)
        col[1].append(value)
    out: dict[str, Any] = {}
    for key, (idx, vals) in sparse.items():
        if len(idx) == n:  # (run_uuid, key) is the primary key: no run twice
            dense: list[Any] = [None] * n
            for i, v in zip(idx, vals):
                dense[i] = v
            out[key] = dense
        else:
            out[key] = {"i": idx, "v": vals}
    return out


def runs_table(
    engine: Engine,
    experiment_ids: Sequence[str],
    filter_string: str | None,
    view: str,
    order_by: Sequence[str],
    max_results: int,
    page_token: str | None,
) -> dict[str, Any]:
    """One page of ``search_runs(...)`` in the columnar shape described above."""
    offset = decode_page_token(page_token) if page_token else 0
    query = build_run_search(
        list(experiment_ids), filter_string, ViewType.parse(view), list(order_by), offset, max_results + 1
    )
    with engine.connect() as conn:
        run_ids = [r[0] for r in conn.execute(query)]
        has_more = len(run_ids) > max_results
        run_ids = run_ids[:max_results]
        out: dict[str, Any] = {
            "count": 0,
            "runs": {f: [] for f in _RUN_FIELDS},
            "metrics": {},
            "params": {},
            "tags": {},
        }
        if not run_ids:
            return out
        by_id = {
            row[0]: row
            for row in raw.fetch_in(
                conn, f"SELECT {raw.columns(conn, *_RUN_COLUMNS)} FROM runs WHERE run_uuid", run_ids
            )
        }
        run_ids = [r for r in run_ids if r in by_id]  # deleted between the two reads
        index = {r: i for i, r in enumerate(run_ids)}
        n = len(run_ids)
        rows = [by_id[r] for r in run_ids]
        runs: dict[str, list[Any]] = {f: [row[c] for row in rows] for c, f in enumerate(_RUN_FIELDS)}
        runs["experiment_id"] = [str(e) for e in runs["experiment_id"]]
        runs["run_name"] = [v or "" for v in runs["run_name"]]
        runs["user_id"] = [v or "" for v in runs["user_id"]]
        out["count"] = n
        out["runs"] = runs
        out["metrics"] = _columns(
            raw.fetch_in(
                conn,
                f"SELECT {raw.columns(conn, 'run_uuid', 'key', 'value', 'value_kind')} FROM latest_metrics WHERE run_uuid",
                run_ids,
            ),
            index,
            n,
            metric=True,
        )
        out["params"] = _columns(
            raw.fetch_in(
                conn,
                f"SELECT {raw.columns(conn, 'run_uuid', 'key', 'value')} FROM params WHERE run_uuid",
                run_ids,
            ),
            index,
            n,
        )
        out["tags"] = _columns(
            raw.fetch_in(
                conn,
                f"SELECT {raw.columns(conn, 'run_uuid', 'key', 'value')} FROM tags WHERE run_uuid",
                run_ids,
            ),
            index,
            n,
        )
    if has_more:
        out["next_page_token"] = encode_page_token(offset + max_results)
    return out
