"""MLflow 3 logged models in the SQL store."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, select, update

from bakehouse.clock import now_ms
from bakehouse.entities import LifecycleStage, LoggedModel, LoggedModelStatus, Metric, PagedList
from bakehouse.errors import InvalidParameterError, NotFoundError
from bakehouse.store.db import schema as s
from bakehouse.store.page_token import decode_page_token, encode_page_token
from bakehouse.store.tracking.sql.connection import SqlConnection, append_to_uri
from bakehouse.store.tracking.sql.dialect import upsert
from bakehouse.store.tracking.sql.experiments import load_experiments, parse_experiment_id
from bakehouse.store.validation import (
    decode_metric_value,
    validate_bounded_string,
    validate_key,
    validate_max_results,
    validate_string_value,
)

_STATUSES = {status.value for status in LoggedModelStatus}
_STATUS_NUMBERS = {
    "1": LoggedModelStatus.PENDING.value,
    "2": LoggedModelStatus.READY.value,
    "3": LoggedModelStatus.UPLOAD_FAILED.value,
}


def parse_logged_model_status(status: Any) -> str:
    text = str(status)
    if text in _STATUSES:
        return text
    if text in _STATUS_NUMBERS:
        return _STATUS_NUMBERS[text]
    short = {
        "PENDING": LoggedModelStatus.PENDING,
        "READY": LoggedModelStatus.READY,
        "UPLOAD_FAILED": LoggedModelStatus.UPLOAD_FAILED,
        "FAILED": LoggedModelStatus.UPLOAD_FAILED,
    }
    if text.upper() in short:
        return short[text.upper()].value
    raise InvalidParameterError(f"Invalid logged model status {status!r}")


class LoggedModelsMixin:
    db: SqlConnection

    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        model_type: str | None = None,
    ) -> LoggedModel:
        eid = parse_experiment_id(experiment_id)
        name = name or "model"
        if not isinstance(name, str) or len(name) > 500 or "/" in name or ":" in name:
            raise InvalidParameterError(
                f"Invalid logged model name {name!r}: no '/' or ':' and at most 500 characters"
            )
        if model_type is not None:
            validate_bounded_string(model_type, "logged model type", 500)
        for key, value in (tags or {}).items():
            validate_key(key, "logged model tag")
            validate_string_value(value, "logged model tag", key)
        for key, value in (params or {}).items():
            validate_key(key, "logged model param")
            validate_string_value(value, "logged model param", key)
        model_id = "m-" + uuid.uuid4().hex
        now = now_ms()
        with self.db.write() as conn:
            experiment = load_experiments(conn, [eid], self.db.default_artifact_root)[0]
            if experiment.lifecycle_stage != LifecycleStage.ACTIVE.value:
                raise InvalidParameterError(f"The experiment {experiment_id} must be in the 'active' state.")
            if source_run_id:
                run = conn.execute(
                    select(s.runs.c.run_uuid).where(s.runs.c.run_uuid == source_run_id)
                ).first()
                if run is None:
                    raise NotFoundError(f"Run with id={source_run_id} not found")
            location = append_to_uri(experiment.artifact_location, "models", model_id, "artifacts")
            conn.execute(
                s.logged_models.insert().values(
                    model_id=model_id,
                    experiment_id=eid,
                    name=name,
                    artifact_location=location,
                    creation_timestamp_ms=now,
                    last_updated_timestamp_ms=now,
                    status=LoggedModelStatus.PENDING.value,
                    lifecycle_stage=LifecycleStage.ACTIVE.value,
                    model_type=model_type,
                    source_run_id=source_run_id,
                    status_message=None,
                    creator_id=None,
                )
            )
            if tags:
                conn.execute(
                    s.logged_model_tags.insert(),
                    [{"model_id": model_id, "tag_key": k, "tag_value": v} for k, v in tags.items()],
                )
            if params:
                conn.execute(
                    s.logged_model_params.insert(),
                    [{"model_id": model_id, "param_key": k, "param_value": v} for k, v in params.items()],
                )
            return self._load_logged_models(conn, [model_id])[0]

    def get_logged_model(self, model_id: str) -> LoggedModel:
        with self.db.read() as conn:
            models = self._load_logged_models(conn, [model_id])
        if not models or models[0].lifecycle_stage != LifecycleStage.ACTIVE.value:
            raise NotFoundError(f"Logged model with ID '{model_id}' not found.")
        return models[0]

    def finalize_logged_model(self, model_id: str, status: str) -> LoggedModel:
        status = parse_logged_model_status(status)
        with self.db.write() as conn:
            self._logged_model_row(conn, model_id)
            conn.execute(
                update(s.logged_models)
                .where(s.logged_models.c.model_id == model_id)
                .values(status=status, last_updated_timestamp_ms=now_ms())
            )
            return self._load_logged_models(conn, [model_id])[0]

    def delete_logged_model(self, model_id: str) -> None:
        with self.db.write() as conn:
            self._logged_model_row(conn, model_id)
            conn.execute(
                update(s.logged_models)
                .where(s.logged_models.c.model_id == model_id)
                .values(lifecycle_stage=LifecycleStage.DELETED.value, last_updated_timestamp_ms=now_ms())
            )

    def set_logged_model_tags(self, model_id: str, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            validate_key(key, "logged model tag")
            validate_string_value(value, "logged model tag", key)
        with self.db.write() as conn:
            self._logged_model_row(conn, model_id)
            upsert(
                conn,
                s.logged_model_tags,
                [{"model_id": model_id, "tag_key": k, "tag_value": v} for k, v in tags.items()],
                ["tag_value"],
            )

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        with self.db.write() as conn:
            self._logged_model_row(conn, model_id)
            result = conn.execute(
                delete(s.logged_model_tags).where(
                    s.logged_model_tags.c.model_id == model_id, s.logged_model_tags.c.tag_key == key
                )
            )
            if result.rowcount == 0:
                raise NotFoundError(f"No tag with key {key!r} found for model with ID {model_id!r}.")

    def log_logged_model_params(self, model_id: str, params: dict[str, str]) -> None:
        for key, value in params.items():
            validate_key(key, "logged model param")
            validate_string_value(value, "logged model param", key)
        with self.db.write() as conn:
            self._logged_model_row(conn, model_id)
            upsert(
                conn,
                s.logged_model_params,
                [{"model_id": model_id, "param_key": k, "param_value": v} for k, v in params.items()],
                ["param_value"],
            )

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        max_results: int = 50,
        order_by: Sequence[dict[str, object]] | None = None,
        page_token: str | None = None,
        datasets: Sequence[dict[str, str | None]] | None = None,
    ) -> PagedList[LoggedModel]:
        """``datasets`` ({dataset_name, dataset_digest?}, any of them) keeps models with a metric on one of
        those datasets, and makes ``metrics.`` comparisons count only points on them."""
        from bakehouse.store.db.filters import build_logged_model_search

        validate_max_results(max_results, 50000)
        offset = decode_page_token(page_token) if page_token else 0
        ids = [str(parse_experiment_id(e)) for e in experiment_ids]
        query = build_logged_model_search(
            ids, filter_string, list(order_by or []), offset, max_results + 1, list(datasets or [])
        )
        with self.db.read() as conn:
            model_ids = [r[0] for r in conn.execute(query)]
            has_more = len(model_ids) > max_results
            model_ids = model_ids[:max_results]
            models = self._load_logged_models(conn, model_ids) if model_ids else []
        return PagedList(models, encode_page_token(offset + max_results) if has_more else None)

    # ----------------------------------------------------------------------------------- helpers
    def _logged_model_row(self, conn: Connection, model_id: str) -> Any:
        row = conn.execute(select(s.logged_models).where(s.logged_models.c.model_id == model_id)).first()
        if row is None or row.lifecycle_stage != LifecycleStage.ACTIVE.value:
            raise NotFoundError(f"Logged model with ID '{model_id}' not found.")
        return row

    def _load_logged_models(self, conn: Connection, model_ids: Sequence[str]) -> list[LoggedModel]:
        lm = s.logged_models.c
        rows = {
            r.model_id: r for r in conn.execute(select(s.logged_models).where(lm.model_id.in_(model_ids)))
        }
        tags: dict[str, dict[str, str]] = {}
        params: dict[str, dict[str, str]] = {}
        metrics: dict[str, list[Metric]] = {}
        for mid, k, v in conn.execute(
            select(
                s.logged_model_tags.c.model_id, s.logged_model_tags.c.tag_key, s.logged_model_tags.c.tag_value
            ).where(s.logged_model_tags.c.model_id.in_(model_ids))
        ):
            tags.setdefault(mid, {})[k] = v
        for mid, k, v in conn.execute(
            select(
                s.logged_model_params.c.model_id,
                s.logged_model_params.c.param_key,
                s.logged_model_params.c.param_value,
            ).where(s.logged_model_params.c.model_id.in_(model_ids))
        ):
            params.setdefault(mid, {})[k] = v
        mm = s.logged_model_metrics.c
        for row in conn.execute(select(s.logged_model_metrics).where(mm.model_id.in_(model_ids))):
            metrics.setdefault(row.model_id, []).append(
                Metric(
                    row.metric_name,
                    decode_metric_value(row.metric_value, row.value_kind),
                    row.metric_timestamp_ms,
                    row.metric_step,
                    row.run_id,
                    row.dataset_name,
                    row.dataset_digest,
                    row.model_id,
                )
            )
        out = []
        for mid in model_ids:
            r = rows.get(mid)
            if r is None:
                continue
            out.append(
                LoggedModel(
                    model_id=r.model_id,
                    experiment_id=str(r.experiment_id),
                    name=r.name,
                    artifact_location=r.artifact_location,
                    creation_timestamp=r.creation_timestamp_ms,
                    last_updated_timestamp=r.last_updated_timestamp_ms,
                    status=r.status,
                    model_type=r.model_type,
                    source_run_id=r.source_run_id,
                    status_message=r.status_message,
                    lifecycle_stage=r.lifecycle_stage,
                    creator_id=r.creator_id,
                    tags=tags.get(mid, {}),
                    params=params.get(mid, {}),
                    metrics=metrics.get(mid, []),
                )
            )
        return out
