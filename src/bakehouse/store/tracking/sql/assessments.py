"""Assessments (feedback and expectations on a trace) in the SQL store, with MLflow's semantics.

Creating an assessment that ``overrides`` another marks the older one invalid; searches only see valid
ones. The value is kept twice: as JSON text (compared as MLflow does: ``true``, ``5`` or ``"yes"``) and,
when it is a number or a boolean, as a number for ``<``/``>`` comparisons.
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection, delete, select, update

from bakehouse.clock import now_ms
from bakehouse.entities.trace import Assessment
from bakehouse.errors import InvalidParameterError, NotFoundError
from bakehouse.store.db import schema as s
from bakehouse.store.tracking.sql import raw
from bakehouse.store.tracking.sql.connection import SqlConnection
from bakehouse.store.validation import validate_key

_KINDS = ("feedback", "expectation")
_last_id_ns = 0
_id_lock = threading.Lock()


def _new_assessment_id() -> str:
    """``a-`` + 32 hex digits like MLflow's, but ordered by creation: assessments made in the same
    millisecond come back in the order they were made (the list is sorted by time, then id)."""
    global _last_id_ns
    with _id_lock:
        _last_id_ns = max(time.time_ns(), _last_id_ns + 1)
        stamp = _last_id_ns
    return f"a-{stamp:016x}{uuid.uuid4().hex[:16]}"


class _AssessmentRow(NamedTuple):
    """An ``assessments`` row read on the DB-API cursor (the column names, in this order)."""

    assessment_id: str
    trace_id: str
    name: str
    assessment_type: str
    value: str | None
    numeric_value: float | None
    payload: str
    error: str | None
    created_timestamp: int
    last_updated_timestamp: int
    source_type: str
    source_id: str | None
    span_id: str | None
    rationale: str | None
    overrides: str | None
    valid: Any
    assessment_metadata: str | None


def _numeric(value: Any) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)) and math.isfinite(float(value)):
        return float(value)
    return None


def _row_of(a: Assessment) -> dict[str, Any]:
    return {
        "assessment_id": a.assessment_id,
        "trace_id": a.trace_id,
        "name": a.name,
        "assessment_type": a.kind,
        "value": json.dumps(a.value, ensure_ascii=False) if a.value is not None else None,
        "numeric_value": _numeric(a.value),
        "payload": orjson.dumps(a.payload).decode("utf-8"),
        "error": orjson.dumps(a.error).decode("utf-8") if a.error else None,
        "created_timestamp": a.create_time_ms,
        "last_updated_timestamp": a.last_update_time_ms,
        "source_type": a.source_type,
        "source_id": a.source_id,
        "span_id": a.span_id,
        "rationale": a.rationale,
        "overrides": a.overrides,
        "valid": a.valid,
        "assessment_metadata": orjson.dumps(a.metadata).decode("utf-8") if a.metadata else None,
    }


def _entity_of(r: Any) -> Assessment:
    return Assessment(
        assessment_id=r.assessment_id,
        trace_id=r.trace_id,
        name=r.name,
        kind=r.assessment_type,
        value=json.loads(r.value) if r.value is not None else None,
        payload=orjson.loads(r.payload),
        source_type=r.source_type,
        source_id=r.source_id or "",
        create_time_ms=r.created_timestamp,
        last_update_time_ms=r.last_updated_timestamp,
        span_id=r.span_id,
        rationale=r.rationale,
        metadata=orjson.loads(r.assessment_metadata) if r.assessment_metadata else {},
        error=orjson.loads(r.error) if r.error else None,
        overrides=r.overrides,
        valid=bool(r.valid),
    )


class AssessmentsMixin:
    db: SqlConnection

    def create_assessment(self, assessment: Assessment) -> Assessment:
        with self.db.write() as conn:
            self._trace_row(conn, assessment.trace_id)  # type: ignore[attr-defined]  # a sibling mixin of SqlTrackingStore
            created = self._insert_assessment(conn, assessment)
            self._refresh_info_json(conn, [assessment.trace_id])  # type: ignore[attr-defined]  # a sibling mixin of SqlTrackingStore
            return created

    def _insert_assessment(self, conn: Connection, assessment: Assessment) -> Assessment:
        validate_key(assessment.name, "assessment name")
        if assessment.kind not in _KINDS:
            raise InvalidParameterError(f"Invalid assessment kind {assessment.kind!r}")
        if not assessment.assessment_id:
            assessment.assessment_id = _new_assessment_id()
        if not assessment.create_time_ms:
            assessment.create_time_ms = now_ms()
        if not assessment.last_update_time_ms:
            assessment.last_update_time_ms = assessment.create_time_ms
        if assessment.overrides:
            a = s.assessments.c
            result = conn.execute(
                update(s.assessments)
                .where(a.trace_id == assessment.trace_id, a.assessment_id == assessment.overrides)
                .values(valid=False)
            )
            if result.rowcount == 0:
                raise NotFoundError(
                    f"Assessment with ID '{assessment.overrides}' not found for trace '{assessment.trace_id}'"
                )
        conn.execute(s.assessments.insert(), _row_of(assessment))
        return assessment

    def get_assessment(self, trace_id: str, assessment_id: str) -> Assessment:
        with self.db.read() as conn:
            return _entity_of(self._assessment_row(conn, trace_id, assessment_id))

    def update_assessment(
        self,
        trace_id: str,
        assessment_id: str,
        name: str | None = None,
        kind: str | None = None,
        payload: dict[str, Any] | None = None,
        value: Any = None,
        rationale: str | None = None,
        metadata: dict[str, str] | None = None,
        valid: bool | None = None,
    ) -> Assessment:
        """Change the named fields; ``kind``/``payload``/``value`` replace the feedback or expectation."""
        with self.db.write() as conn:
            current = _entity_of(self._assessment_row(conn, trace_id, assessment_id))
            if payload is not None:
                if kind != current.kind:
                    raise InvalidParameterError(
                        f"Cannot change a {current.kind} into a {kind}; create a new assessment instead"
                    )
                current.payload, current.value = payload, value
            if name is not None:
                current.name = name
            if rationale is not None:
                current.rationale = rationale
            if metadata is not None:
                current.metadata = {**current.metadata, **metadata}
            if valid is not None:
                current.valid = valid
            current.last_update_time_ms = now_ms()
            row = _row_of(current)
            del row["assessment_id"]
            a = s.assessments.c
            conn.execute(
                update(s.assessments)
                .where(a.trace_id == trace_id, a.assessment_id == assessment_id)
                .values(row)
            )
            self._refresh_info_json(conn, [trace_id])  # type: ignore[attr-defined]  # a sibling mixin of SqlTrackingStore
            return current

    def delete_assessment(self, trace_id: str, assessment_id: str) -> None:
        with self.db.write() as conn:
            row = self._assessment_row(conn, trace_id, assessment_id)
            a = s.assessments.c
            if row.overrides:  # the overridden assessment becomes valid again, as in MLflow
                conn.execute(
                    update(s.assessments)
                    .where(a.trace_id == trace_id, a.assessment_id == row.overrides)
                    .values(valid=True)
                )
            conn.execute(
                delete(s.assessments).where(a.trace_id == trace_id, a.assessment_id == assessment_id)
            )
            self._refresh_info_json(conn, [trace_id])  # type: ignore[attr-defined]  # a sibling mixin of SqlTrackingStore

    @staticmethod
    def _assessment_row(conn: Connection, trace_id: str, assessment_id: str) -> Any:
        a = s.assessments.c
        row = conn.execute(
            select(s.assessments).where(a.trace_id == trace_id, a.assessment_id == assessment_id)
        ).first()
        if row is None:
            raise NotFoundError(f"Assessment with ID '{assessment_id}' not found for trace '{trace_id}'")
        return row

    @staticmethod
    def _load_assessments(conn: Connection, trace_ids: Sequence[str]) -> dict[str, list[Assessment]]:
        out: dict[str, list[Assessment]] = defaultdict(list)
        if not trace_ids:
            return out
        rows = raw.fetch_in(
            conn,
            f"SELECT {', '.join(_AssessmentRow._fields)} FROM assessments WHERE trace_id",
            list(trace_ids),
            "ORDER BY created_timestamp, assessment_id",
        )
        for row in rows:
            entity = _entity_of(_AssessmentRow(*row))
            out[entity.trace_id].append(entity)
        return out
