"""Traces in the SQL store: trace info, tags, metadata and spans, written a batch per statement.

Two calls build a trace, in either order: ``log_spans`` (OpenTelemetry spans, possibly for many traces
and before the trace is known) and ``start_trace`` (the client's final ``TraceInfo``, which is
authoritative: once it has been written, later spans no longer move the trace's times or state).
Spans always live in the tracking store here, so every trace carries MLflow's tag
``mlflow.trace.spansLocation = TRACKING_STORE`` and the client never uploads a ``traces.json``.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection, Dialect, delete, func, select, update

from bakehouse.entities.trace import (
    SPANS_IN_TRACKING_STORE,
    Span,
    SpanStatusCode,
    Trace,
    TraceInfo,
    TraceMetadata,
    TraceState,
    TraceTag,
    truncate_preview,
)
from bakehouse.errors import InvalidParameterError, NotFoundError
from bakehouse.store.db import schema as s
from bakehouse.store.db.driver_sql import DriverStatement, compile_statement, fetch_rows
from bakehouse.store.db.schema import TRACE_TAG_PREFIX
from bakehouse.store.db.trace_filters import build_trace_search, search_page_with_documents
from bakehouse.store.page_token import decode_page_token, encode_page_token
from bakehouse.store.tracking.sql import raw
from bakehouse.store.tracking.sql.connection import SqlConnection, append_to_uri
from bakehouse.store.tracking.sql.experiments import parse_experiment_id
from bakehouse.store.tracking.sql.spans_codec import decode_span, encode_content
from bakehouse.store.validation import validate_key
from bakehouse.wire.trace_json import trace_info_from_json, trace_info_to_json


class _ExperimentRef(NamedTuple):
    artifact_location: str


class _StoredTrace(NamedTuple):
    request_id: str
    experiment_id: int
    timestamp_ms: int
    execution_time_ms: int | None
    status: str
    request_preview: str | None
    response_preview: str | None


_SPAN_COLUMNS = (
    "trace_id",
    "span_id",
    "experiment_id",
    "parent_span_id",
    "name",
    "type",
    "status",
    "start_time_unix_nano",
    "end_time_unix_nano",
    "content",
)
_INFO_COLUMNS = (
    "request_id",
    "experiment_id",
    "timestamp_ms",
    "execution_time_ms",
    "status",
    "client_request_id",
    "request_preview",
    "response_preview",
    "info_json",
)
_KEY_VALUE = ("request_id", "key", "value")
_TAG_COLUMNS = (*_KEY_VALUE, "experiment_id", "timestamp_ms", "value_prefix")
_METADATA_COLUMNS = (*_KEY_VALUE, "value_prefix")
#: a tag as written: (request_id, key, value, the trace's experiment id, the trace's start time)
_TagRow = tuple[str, str, str, int, int]

#: Ids per ``IN (...)`` list when loading many traces (well under every database's parameter limit).
_CHUNK = 500
MAX_TRACE_LINKS_PER_REQUEST = 100


def _chunks(items: Sequence[str], size: int = _CHUNK) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _validate_trace_id(trace_id: Any) -> str:
    if not isinstance(trace_id, str) or not trace_id or len(trace_id) > 50 or "\x00" in trace_id:
        raise InvalidParameterError(f"Invalid trace ID {trace_id!r}")
    return trace_id


def _preview(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return truncate_preview(text)


def _kept(preview: str | None, previous: Sequence[Any] | None, column: int) -> str | None:
    """A preview from StartTraceV3, or when it has none the one already stored (``previous[column]``)."""
    if preview is None and previous is not None:
        kept: str | None = previous[column]
        return kept
    return preview


def _move_tag_copies(conn: Connection, trace_id: str, experiment_id: int, timestamp_ms: int) -> None:
    """The trace moved (another experiment, an earlier start): its tags' search copies follow."""
    tags = s.trace_tags.c
    conn.execute(
        update(s.trace_tags)
        .where(tags.request_id == trace_id)
        .values(experiment_id=experiment_id, timestamp_ms=timestamp_ms)
    )


def _root_state(spans: Sequence[Span]) -> str | None:
    for span in spans:
        if span.parent_span_id is None:
            return TraceState.ERROR if span.status_code == SpanStatusCode.ERROR else TraceState.OK
    return None


class TracesMixin:
    db: SqlConnection

    # ----------------------------------------------------------------------------------- writing
    def start_trace(self, info: TraceInfo) -> TraceInfo:
        """Create or complete a trace from the client's final ``TraceInfo`` (MLflow's StartTraceV3)."""
        trace_id = _validate_trace_id(info.trace_id)
        eid = parse_experiment_id(info.experiment_id)
        tags = {k: v for k, v in info.tags.items()}
        for key in tags:
            validate_key(key, "trace tag")
        for key in info.trace_metadata:
            validate_key(key, "trace metadata")
        metadata = dict(info.trace_metadata)
        metadata[TraceMetadata.INFO_FINALIZED] = "true"
        row: dict[str, Any] = {
            "request_id": trace_id,
            "experiment_id": eid,
            "timestamp_ms": int(info.request_time),
            "execution_time_ms": info.execution_duration,
            "status": info.state,
            "client_request_id": info.client_request_id,
            "request_preview": info.request_preview,
            "response_preview": info.response_preview,
        }
        with self.db.write() as conn:
            experiment = self._active_experiment(conn, eid)
            tags.setdefault(
                TraceTag.ARTIFACT_LOCATION,
                append_to_uri(experiment.artifact_location, "traces", trace_id, "artifacts"),
            )
            tags[TraceTag.SPANS_LOCATION] = SPANS_IN_TRACKING_STORE
            existing = raw.fetch_all(
                conn,
                "SELECT experiment_id, request_preview, response_preview, info_json, timestamp_ms FROM trace_info "
                f"WHERE request_id = {raw.marker(conn)}",
                [trace_id],
            )
            previous = existing[0] if existing else None
            stored: TraceInfo | None = None
            if not info.assessments and (previous is None or previous[3]):
                # The whole document is known here: a new trace's from this request alone; one made from its
                # spans first (how MLflow's client sends a trace) from its stored document, which every write
                # keeps up to date, for the tags, metadata and assessments it has already.
                old = trace_info_from_json(orjson.loads(previous[3])) if previous else None
                stored = TraceInfo(
                    trace_id=trace_id,
                    experiment_id=str(eid),
                    request_time=row["timestamp_ms"],
                    execution_duration=row["execution_time_ms"],
                    state=row["status"],
                    client_request_id=row["client_request_id"],
                    request_preview=_kept(row["request_preview"], previous, 1),
                    response_preview=_kept(row["response_preview"], previous, 2),
                    # sorted: the order the tables return them in
                    trace_metadata=dict(sorted({**(old.trace_metadata if old else {}), **metadata}.items())),
                    tags=dict(sorted({**(old.tags if old else {}), **tags}.items())),
                    assessments=old.assessments if old else [],
                )
                row["info_json"] = orjson.dumps(trace_info_to_json(stored)).decode("utf-8")
            if previous is None:
                self._insert_trace_rows(conn, [{"info_json": None, **row}])
            else:
                values = {k: v for k, v in row.items() if k != "request_id"}  # info_json too when known
                for preview in ("request_preview", "response_preview"):
                    if values[preview] is None:
                        del values[preview]
                mark = raw.marker(conn)
                raw.execute_many(
                    conn,
                    f"UPDATE trace_info SET {', '.join(f'{raw.quoted(conn, c)} = {mark}' for c in values)} "
                    f"WHERE request_id = {mark}",
                    [(*values.values(), trace_id)],
                )
                if previous[0] != eid:
                    conn.execute(
                        update(s.spans)
                        .where(s.spans.c.trace_id == trace_id, s.spans.c.experiment_id != eid)
                        .values(experiment_id=eid)
                    )
                if previous[0] != eid or previous[4] != row["timestamp_ms"]:
                    _move_tag_copies(conn, trace_id, eid, row["timestamp_ms"])
            self._write_trace_tags(
                conn, [(trace_id, k, v, eid, row["timestamp_ms"]) for k, v in tags.items()]
            )
            raw.execute_many(
                conn,
                raw.upsert_sql(conn, "trace_request_metadata", _METADATA_COLUMNS, ("request_id", "key")),
                [
                    (trace_id, k, v, v[:TRACE_TAG_PREFIX] if v is not None else None)
                    for k, v in metadata.items()
                ],
            )
            for assessment in info.assessments:
                assessment.trace_id = trace_id
                self._insert_assessment(conn, assessment)  # type: ignore[attr-defined]  # a sibling mixin of SqlTrackingStore
            return stored if stored is not None else self._refresh_info_json(conn, [trace_id])[0]

    def log_spans(self, experiment_id: str, spans: Sequence[Span], run_id: str | None = None) -> int:
        """Store spans of one or more traces (OTLP ingestion). Traces not seen before are created from
        their spans; a trace already finalized by ``start_trace`` only gains the spans. Returns the count."""
        if not spans:
            return 0
        eid = parse_experiment_id(experiment_id)
        by_trace: dict[str, list[Span]] = defaultdict(list)
        for span in spans:
            by_trace[_validate_trace_id(span.trace_id)].append(span)
        trace_ids = sorted(by_trace)
        span_rows = [
            (
                span.trace_id,
                span.span_id,
                eid,
                span.parent_span_id,
                span.name[:500],
                span.span_type[:250],
                span.status_code,
                span.start_time_unix_nano,
                span.end_time_unix_nano,
                encode_content(span),
            )
            for span in spans
        ]
        with self.db.write() as conn:
            experiment = self._active_experiment(conn, eid)
            existing = {
                r[0]: _StoredTrace(*r)
                for r in raw.fetch_in(
                    conn,
                    "SELECT request_id, experiment_id, timestamp_ms, execution_time_ms, status, request_preview, "
                    "response_preview FROM trace_info WHERE request_id",
                    trace_ids,
                )
            }
            finalized = {
                r[0]
                for r in raw.fetch_in(
                    conn,
                    f"SELECT request_id FROM trace_request_metadata WHERE {raw.quoted(conn, 'key')} = "
                    f"{raw.marker(conn)} AND request_id",
                    list(existing),
                    params_before=[TraceMetadata.INFO_FINALIZED],
                )
            }
            new_rows: list[dict[str, Any]] = []
            location_tags: list[_TagRow] = []
            for trace_id in trace_ids:
                group = by_trace[trace_id]
                start_ms = min(sp.start_time_unix_nano for sp in group) // 1_000_000
                ends = [sp.end_time_unix_nano for sp in group if sp.end_time_unix_nano]
                end_ms = max(ends) // 1_000_000 if ends else None
                root = next((sp for sp in group if sp.parent_span_id is None), None)
                state = _root_state(group)
                old = existing.get(trace_id)
                if old is None:  # a new trace: no tags, metadata or assessments but these
                    tags = {
                        TraceTag.ARTIFACT_LOCATION: append_to_uri(
                            experiment.artifact_location, "traces", trace_id, "artifacts"
                        ),
                        TraceTag.SPANS_LOCATION: SPANS_IN_TRACKING_STORE,
                    }
                    if root is not None:  # named after its root span until the client says otherwise
                        tags[TraceTag.NAME] = root.name
                    info = TraceInfo(
                        trace_id=trace_id,
                        experiment_id=str(eid),
                        request_time=start_ms,
                        execution_duration=end_ms - start_ms if end_ms is not None else None,
                        state=state or TraceState.IN_PROGRESS,
                        request_preview=_preview(root.inputs) if root else None,
                        response_preview=_preview(root.outputs) if root else None,
                        tags=dict(sorted(tags.items())),  # the order the tags table returns them in
                    )
                    new_rows.append(
                        {
                            "request_id": trace_id,
                            "experiment_id": eid,
                            "timestamp_ms": info.request_time,
                            "execution_time_ms": info.execution_duration,
                            "status": info.state,
                            "client_request_id": None,
                            "request_preview": info.request_preview,
                            "response_preview": info.response_preview,
                            "info_json": orjson.dumps(trace_info_to_json(info)).decode("utf-8"),
                        }
                    )
                    location_tags += [(trace_id, k, v, eid, start_ms) for k, v in tags.items()]
                    continue
                timestamp_ms = old.timestamp_ms
                if trace_id not in finalized:
                    timestamp_ms = self._widen_trace(conn, old, start_ms, end_ms, state, root)
                location_tags.append(
                    (
                        trace_id,
                        TraceTag.SPANS_LOCATION,
                        SPANS_IN_TRACKING_STORE,
                        old.experiment_id,
                        timestamp_ms,
                    )
                )
            self._insert_trace_rows(conn, new_rows)
            self._write_trace_tags(conn, location_tags)
            raw.execute_many(
                conn, raw.upsert_sql(conn, "spans", _SPAN_COLUMNS, ("trace_id", "span_id")), span_rows
            )
            if run_id:
                roots = [t for t in trace_ids if any(sp.parent_span_id is None for sp in by_trace[t])]
                self._link(conn, roots, run_id)
            self._refresh_info_json(conn, [t for t in trace_ids if t in existing])  # new ones: written whole
        return len(span_rows)

    @staticmethod
    def _widen_trace(
        conn: Connection,
        old: _StoredTrace,
        start_ms: int,
        end_ms: int | None,
        state: str | None,
        root: Span | None,
    ) -> int:
        """A trace made from earlier spans: stretch its time range, take its state from the root span.
        Returns its start time (its tags' copy follows it)."""
        values: dict[str, Any] = {}
        old_end = old.timestamp_ms + old.execution_time_ms if old.execution_time_ms is not None else None
        new_start = min(old.timestamp_ms, start_ms)
        new_end = max(e for e in (old_end, end_ms) if e is not None) if (old_end or end_ms) else None
        if new_start != old.timestamp_ms:
            values["timestamp_ms"] = new_start
        if new_end is not None and new_end - new_start != old.execution_time_ms:
            values["execution_time_ms"] = new_end - new_start
        if state and old.status in (TraceState.IN_PROGRESS, TraceState.UNSPECIFIED):
            values["status"] = state
        if root is not None and old.request_preview is None and root.inputs is not None:
            values["request_preview"] = _preview(root.inputs)
        if root is not None and old.response_preview is None and root.outputs is not None:
            values["response_preview"] = _preview(root.outputs)
        if values:
            conn.execute(
                update(s.trace_info).where(s.trace_info.c.request_id == old.request_id).values(values)
            )
        if new_start != old.timestamp_ms:
            _move_tag_copies(conn, old.request_id, old.experiment_id, new_start)
        return new_start

    def set_trace_tag(self, trace_id: str, key: str, value: str) -> None:
        validate_key(key, "trace tag")
        with self.db.write() as conn:
            trace = self._trace_row(conn, trace_id)
            self._write_trace_tags(conn, [(trace_id, key, value, trace.experiment_id, trace.timestamp_ms)])
            self._refresh_info_json(conn, [trace_id])

    def delete_trace_tag(self, trace_id: str, key: str) -> None:
        with self.db.write() as conn:
            self._trace_row(conn, trace_id)
            tags = s.trace_tags.c
            result = conn.execute(delete(s.trace_tags).where(tags.request_id == trace_id, tags.key == key))
            if result.rowcount == 0:
                raise NotFoundError(f"No trace tag with key '{key}' for trace with ID '{trace_id}'")
            self._refresh_info_json(conn, [trace_id])

    def delete_traces(
        self,
        experiment_id: str,
        max_timestamp_millis: int | None = None,
        max_traces: int | None = None,
        trace_ids: Sequence[str] | None = None,
    ) -> int:
        """MLflow's DeleteTraces: by ids, or the oldest (up to ``max_traces``) at or before a time."""
        eid = parse_experiment_id(experiment_id)
        if not trace_ids and max_timestamp_millis is None:
            raise InvalidParameterError("Either `max_timestamp_millis` or `request_ids` must be specified.")
        if trace_ids and max_timestamp_millis is not None:
            raise InvalidParameterError(
                "Only one of `max_timestamp_millis` and `request_ids` can be specified."
            )
        ti = s.trace_info.c
        query = select(ti.request_id).where(ti.experiment_id == eid)
        if max_timestamp_millis is not None:
            query = query.where(ti.timestamp_ms <= max_timestamp_millis)
        if max_traces is not None:
            if max_traces <= 0:
                raise InvalidParameterError(f"max_traces must be positive, got {max_traces}")
            query = query.order_by(ti.timestamp_ms, ti.request_id).limit(max_traces)
        with self.db.write() as conn:
            if trace_ids:
                ids = [
                    r[0]
                    for chunk in _chunks(list(trace_ids))
                    for r in conn.execute(query.where(ti.request_id.in_(chunk)))
                ]
            else:
                ids = [r[0] for r in conn.execute(query)]
            self._hard_delete_traces(conn, ids)
        return len(ids)

    def link_traces_to_run(self, trace_ids: Sequence[str], run_id: str) -> None:
        if len(trace_ids) > MAX_TRACE_LINKS_PER_REQUEST:
            raise InvalidParameterError(
                f"Cannot link more than {MAX_TRACE_LINKS_PER_REQUEST} traces to a run in a single request. "
                f"Provided {len(trace_ids)} traces."
            )
        if not trace_ids:
            return
        with self.db.write() as conn:
            self._run_row(conn, run_id)  # type: ignore[attr-defined]  # a sibling mixin of SqlTrackingStore
            found = {
                r[0]
                for r in conn.execute(
                    select(s.trace_info.c.request_id).where(s.trace_info.c.request_id.in_(list(trace_ids)))
                )
            }
            missing = [t for t in trace_ids if t not in found]
            if missing:
                raise NotFoundError(f"Trace with ID '{missing[0]}' not found.")
            self._link(conn, list(trace_ids), run_id)

    @staticmethod
    def _link(conn: Connection, trace_ids: Sequence[str], run_id: str) -> None:
        if not trace_ids:
            return
        links = s.trace_run_links.c
        present = {
            r[0]
            for r in conn.execute(
                select(links.request_id).where(links.run_id == run_id, links.request_id.in_(list(trace_ids)))
            )
        }
        rows = [{"request_id": t, "run_id": run_id} for t in dict.fromkeys(trace_ids) if t not in present]
        if rows:
            conn.execute(s.trace_run_links.insert(), rows)

    # ----------------------------------------------------------------------------------- reading
    def get_trace_info(self, trace_id: str) -> TraceInfo:
        with self.db.read() as conn:
            infos = self._load_trace_infos(conn, [_validate_trace_id(trace_id)])
        if not infos:
            raise NotFoundError(f"Trace with ID '{trace_id}' not found.")
        return infos[0]

    def get_trace(self, trace_id: str, allow_partial: bool = False) -> Trace:
        with self.db.read() as conn:
            infos = self._load_trace_infos(conn, [_validate_trace_id(trace_id)])
            if not infos:
                raise NotFoundError(f"Trace with ID {trace_id} is not found.")
            spans = self._load_spans(conn, [trace_id]).get(trace_id, [])
        if not spans and not allow_partial:
            raise NotFoundError(
                f"Trace with ID {trace_id} is not fully exported yet, please try again later."
            )
        return Trace(infos[0], spans)

    def batch_get_traces(
        self, trace_ids: Sequence[str], experiment_ids: Sequence[str] | None = None
    ) -> list[Trace]:
        infos = self.batch_get_trace_infos(trace_ids, experiment_ids)
        with self.db.read() as conn:
            spans = self._load_spans(conn, [i.trace_id for i in infos])
        return [Trace(info, spans.get(info.trace_id, [])) for info in infos]

    def batch_get_trace_infos(
        self, trace_ids: Sequence[str], experiment_ids: Sequence[str] | None = None
    ) -> list[TraceInfo]:
        ids = [_validate_trace_id(t) for t in dict.fromkeys(trace_ids)]
        with self.db.read() as conn:
            infos = self._load_trace_infos(conn, ids)
        if experiment_ids is not None:
            allowed = {str(parse_experiment_id(e)) for e in experiment_ids}
            infos = [i for i in infos if i.experiment_id in allowed]
        return infos

    def search_traces(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[TraceInfo], str | None]:
        query, offset = _trace_search_query(experiment_ids, filter_string, max_results, order_by, page_token)
        with self.db.read() as conn:
            trace_ids = [r[0] for r in conn.execute(query)]
            infos = self._load_trace_infos(conn, trace_ids)
        token = encode_page_token(offset + max_results) if len(trace_ids) == max_results else None
        return infos, token

    def search_traces_json(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[str], str | None]:
        """``search_traces`` with each trace info already in its API JSON form (the server's hot path): the
        page's stored documents come with its ids, in one query."""
        _check_max_results(max_results)
        offset = decode_page_token(page_token)
        statement = _page_statement(self.db.engine.dialect, experiment_ids, filter_string, order_by)
        if statement is None:  # arguments the parsers refuse: the general path gives their message
            query, offset = _trace_search_query(
                experiment_ids, filter_string, max_results, order_by, page_token
            )
            with self.db.read() as conn:
                rows = conn.execute(query.add_columns(s.trace_info.c.info_json)).all()
        else:  # the statement compiled once for this shape, on the driver's cursor (a single SELECT)
            rows = fetch_rows(self.db.engine, statement, {"page_limit": max_results, "page_offset": offset})
        token = encode_page_token(offset + max_results) if len(rows) == max_results else None
        missing = [r[0] for r in rows if not r[1]]
        if not missing:
            return [r[1] for r in rows], token
        with self.db.read() as conn:  # written before documents were stored: built from the rows
            built = self._built_documents(conn, missing)
        return [r[1] or built[r[0]] for r in rows if r[1] or r[0] in built], token

    # -------------------------------------------------------------------------------- retention
    def get_traces_older_than(
        self, timestamp_ms: int, experiment_ids: Sequence[str] | None = None
    ) -> list[str]:
        """Ids of traces that started before ``timestamp_ms`` (for ``bakehouse gc``)."""
        ti = s.trace_info.c
        query = select(ti.request_id).where(ti.timestamp_ms < timestamp_ms)
        if experiment_ids is not None:
            query = query.where(ti.experiment_id.in_([parse_experiment_id(e) for e in experiment_ids]))
        with self.db.read() as conn:
            return [r[0] for r in conn.execute(query.order_by(ti.timestamp_ms))]

    def hard_delete_traces(self, trace_ids: Sequence[str]) -> None:
        with self.db.write() as conn:
            self._hard_delete_traces(conn, trace_ids)

    @staticmethod
    def _hard_delete_traces(conn: Connection, trace_ids: Sequence[str]) -> None:
        for chunk in _chunks(list(trace_ids)):
            conn.execute(delete(s.spans).where(s.spans.c.trace_id.in_(chunk)))
            conn.execute(delete(s.assessments).where(s.assessments.c.trace_id.in_(chunk)))
            for table in (s.trace_tags, s.trace_request_metadata, s.trace_run_links):
                conn.execute(delete(table).where(table.c.request_id.in_(chunk)))
            conn.execute(delete(s.trace_info).where(s.trace_info.c.request_id.in_(chunk)))

    def _hard_delete_experiment_traces(self, conn: Connection, experiment_id: int) -> None:
        ids = [
            r[0]
            for r in conn.execute(
                select(s.trace_info.c.request_id).where(s.trace_info.c.experiment_id == experiment_id)
            )
        ]
        self._hard_delete_traces(conn, ids)

    # ----------------------------------------------------------------------------------- helpers
    @staticmethod
    def _active_experiment(conn: Connection, eid: int) -> Any:
        """The experiment's artifact location, once checked to exist and be active (one small query)."""
        rows = raw.fetch_all(
            conn,
            f"SELECT artifact_location, lifecycle_stage FROM experiments WHERE experiment_id = {raw.marker(conn)}",
            [eid],
        )
        if not rows:
            raise NotFoundError(f"No Experiment with id={eid} exists")
        if rows[0][1] != "active":
            raise InvalidParameterError(f"The experiment {eid} must be in the 'active' state.")
        return _ExperimentRef(rows[0][0] or "")

    @staticmethod
    def _trace_row(conn: Connection, trace_id: str) -> Any:
        row = conn.execute(
            select(
                s.trace_info.c.request_id, s.trace_info.c.experiment_id, s.trace_info.c.timestamp_ms
            ).where(s.trace_info.c.request_id == _validate_trace_id(trace_id))
        ).first()
        if row is None:
            raise NotFoundError(f"Trace with ID '{trace_id}' not found.")
        return row

    @staticmethod
    def _write_trace_tags(conn: Connection, rows: Sequence[_TagRow]) -> None:
        """Tags ``(request_id, key, value, experiment_id, timestamp_ms)`` with their search copies (the
        indexed value prefix), overwriting the value of a key already there."""
        if rows:
            raw.execute_many(
                conn,
                raw.upsert_sql(conn, "trace_tags", _TAG_COLUMNS, ("request_id", "key")),
                [(*r, r[2][:TRACE_TAG_PREFIX] if r[2] is not None else None) for r in rows],
            )

    @staticmethod
    def _insert_trace_rows(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            sql = (
                f"INSERT INTO trace_info ({raw.columns(conn, *_INFO_COLUMNS)}) "
                f"VALUES ({', '.join([raw.marker(conn)] * len(_INFO_COLUMNS))})"
            )
            raw.execute_many(conn, sql, [tuple(r[c] for c in _INFO_COLUMNS) for r in rows])

    def _refresh_info_json(self, conn: Connection, trace_ids: Sequence[str]) -> list[TraceInfo]:
        """Rewrite the stored API document of these traces from their rows; returns the infos."""
        infos = self._read_trace_infos(conn, trace_ids)
        raw.execute_many(
            conn,
            f"UPDATE trace_info SET info_json = {raw.marker(conn)} WHERE request_id = {raw.marker(conn)}",
            [(orjson.dumps(trace_info_to_json(i)).decode("utf-8"), i.trace_id) for i in infos],
        )
        return infos

    def _info_documents(self, conn: Connection, trace_ids: Sequence[str]) -> dict[str, str]:
        """The stored API documents of these traces (built from the rows for any written before them)."""
        documents: dict[str, str] = {}
        missing = []
        for request_id, document in raw.fetch_in(
            conn, "SELECT request_id, info_json FROM trace_info WHERE request_id", list(trace_ids)
        ):
            if document:
                documents[request_id] = document
            else:
                missing.append(request_id)
        documents.update(self._built_documents(conn, missing))
        return documents

    def _built_documents(self, conn: Connection, trace_ids: Sequence[str]) -> dict[str, str]:
        """API documents built from the rows, for traces stored before their documents were kept."""
        return {
            info.trace_id: orjson.dumps(trace_info_to_json(info)).decode("utf-8")
            for info in self._read_trace_infos(conn, trace_ids)
        }

    def _load_trace_infos(self, conn: Connection, trace_ids: Sequence[str]) -> list[TraceInfo]:
        """Trace infos in the order of ``trace_ids`` (missing ids are skipped), from their stored documents."""
        documents = self._info_documents(conn, trace_ids)
        return [trace_info_from_json(orjson.loads(documents[t])) for t in trace_ids if t in documents]

    def _read_trace_infos(self, conn: Connection, trace_ids: Sequence[str]) -> list[TraceInfo]:
        """Trace infos from their rows, in the order of ``trace_ids`` (missing ids are skipped); a handful of
        plain queries on the DB-API cursor."""
        if not trace_ids:
            return []
        ids = list(trace_ids)
        rows = {
            r[0]: r
            for r in raw.fetch_in(
                conn,
                "SELECT request_id, experiment_id, timestamp_ms, execution_time_ms, status, client_request_id, "
                "request_preview, response_preview FROM trace_info WHERE request_id",
                ids,
            )
        }
        found = list(rows)
        key_value = raw.columns(conn, "key", "value")
        tags: dict[str, dict[str, str]] = defaultdict(dict)
        for rid, k, v in raw.fetch_in(
            conn, f"SELECT request_id, {key_value} FROM trace_tags WHERE request_id", found
        ):
            tags[rid][k] = v if v is not None else ""
        meta: dict[str, dict[str, str]] = defaultdict(dict)
        for rid, k, v in raw.fetch_in(
            conn, f"SELECT request_id, {key_value} FROM trace_request_metadata WHERE request_id", found
        ):
            meta[rid][k] = v if v is not None else ""
        assessments = self._load_assessments(conn, found)  # type: ignore[attr-defined]  # a sibling mixin of SqlTrackingStore
        out = []
        for trace_id in ids:
            r = rows.get(trace_id)
            if r is None:
                continue
            out.append(
                TraceInfo(
                    trace_id=r[0],
                    experiment_id=str(r[1]),
                    request_time=r[2],
                    execution_duration=r[3],
                    state=r[4],
                    client_request_id=r[5],
                    request_preview=r[6],
                    response_preview=r[7],
                    trace_metadata=meta.get(trace_id, {}),
                    tags=tags.get(trace_id, {}),
                    assessments=assessments.get(trace_id, []),
                )
            )
        return out

    @staticmethod
    def _load_spans(conn: Connection, trace_ids: Sequence[str]) -> dict[str, list[Span]]:
        out: dict[str, list[Span]] = defaultdict(list)
        rows = raw.fetch_in(
            conn,
            "SELECT trace_id, span_id, parent_span_id, name, status, start_time_unix_nano, end_time_unix_nano, "
            "content FROM spans WHERE trace_id",
            list(trace_ids),
            "ORDER BY trace_id, start_time_unix_nano, span_id",
        )
        for row in rows:
            out[row[0]].append(decode_span(*row))
        return out


def trace_span_counts(conn: Connection, trace_ids: Sequence[str]) -> dict[str, int]:
    """How many spans each trace has (the UI's list shows it)."""
    sp = s.spans.c
    out: dict[str, int] = {}
    for chunk in _chunks(list(trace_ids)):
        for trace_id, count in conn.execute(
            select(sp.trace_id, func.count()).where(sp.trace_id.in_(chunk)).group_by(sp.trace_id)
        ):
            out[trace_id] = int(count)
    return out


def _check_max_results(max_results: Any) -> None:
    if not isinstance(max_results, int) or isinstance(max_results, bool) or max_results <= 0:
        raise InvalidParameterError(
            f"Invalid value {max_results!r} for parameter 'max_results': must be a positive integer"
        )


def _page_statement(
    dialect: Dialect, experiment_ids: Sequence[str], filter_string: Any, order_by: Sequence[str] | None
) -> DriverStatement | None:
    """The search's page statement compiled for ``dialect`` (once per shape), or None when the arguments
    are not all strings (then the parsers refuse them on the general path)."""
    order = tuple(order_by or ())
    if not (
        (filter_string is None or isinstance(filter_string, str)) and all(isinstance(o, str) for o in order)
    ):
        return None
    ids = tuple(str(parse_experiment_id(e)) for e in experiment_ids)
    return _compiled_page(dialect, ids, filter_string, order)


@functools.lru_cache(maxsize=256)
def _compiled_page(
    dialect: Dialect, experiment_ids: tuple[str, ...], filter_string: str | None, order_by: tuple[str, ...]
) -> DriverStatement:
    statement = search_page_with_documents(experiment_ids, filter_string, order_by)
    return compile_statement(statement, dialect, {"page_limit": 1, "page_offset": 0})


def _trace_search_query(
    experiment_ids: Sequence[str],
    filter_string: str | None,
    max_results: int,
    order_by: Sequence[str] | None,
    page_token: str | None,
) -> tuple[Any, int]:
    """The page's SQL and its offset, shared by ``search_traces`` and its JSON twin (arguments checked)."""
    _check_max_results(max_results)
    offset = decode_page_token(page_token)
    ids = [str(parse_experiment_id(e)) for e in experiment_ids]
    return build_trace_search(ids, filter_string, list(order_by or []), offset, max_results), offset
