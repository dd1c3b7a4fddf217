"""Experiments in the SQL store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, delete, select, update
from sqlalchemy.exc import IntegrityError

from bakehouse.clock import now_ms
from bakehouse.entities import Experiment, LifecycleStage, PagedList, ViewType
from bakehouse.errors import AlreadyExistsError, InvalidParameterError, NotFoundError
from bakehouse.store.db import schema as s
from bakehouse.store.db.transactions import inserted_id
from bakehouse.store.page_token import decode_page_token, encode_page_token
from bakehouse.store.tracking.base import SEARCH_MAX_RESULTS_THRESHOLD
from bakehouse.store.tracking.sql.connection import SqlConnection, append_to_uri
from bakehouse.store.validation import (
    validate_experiment_name,
    validate_key,
    validate_max_results,
    validate_string_value,
)


def _invalid_experiment_id(experiment_id: object) -> InvalidParameterError:
    return InvalidParameterError(
        f"Invalid experiment ID '{experiment_id}'. Experiment ID must be a valid integer."
    )


def parse_experiment_id(experiment_id: object) -> int:
    """SQL experiment ids are integers: anything else is a bad parameter (as in MLflow), and an integer out of
    the column's range simply does not exist."""
    if isinstance(experiment_id, bool):
        raise _invalid_experiment_id(experiment_id)
    try:
        value = int(str(experiment_id))
    except (TypeError, ValueError):
        raise _invalid_experiment_id(experiment_id) from None
    if value < 0 or value > 2**63 - 1:  # 64-bit: MLflow's file store ids are random 63-bit integers
        raise NotFoundError(f"No Experiment with id={experiment_id} exists")
    return value


class ExperimentsMixin:
    db: SqlConnection

    # ------------------------------------------------------------------------------------ writes
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, str] | None = None
    ) -> str:
        validate_experiment_name(name)
        tag_items = dict(tags or {})
        for key, value in tag_items.items():
            validate_key(key, "experiment tag")
            validate_string_value(value, "experiment tag", key)
        location = self.db.check_artifact_location(artifact_location) if artifact_location else None
        now = now_ms()
        try:
            with self.db.write() as conn:
                if conn.execute(
                    select(s.experiments.c.experiment_id).where(s.experiments.c.name == name)
                ).first():
                    raise AlreadyExistsError(f"Experiment(name={name}) already exists.")
                result = conn.execute(
                    s.experiments.insert().values(
                        name=name,
                        artifact_location=location,
                        lifecycle_stage=LifecycleStage.ACTIVE.value,
                        creation_time=now,
                        last_update_time=now,
                    )
                )
                experiment_id = inserted_id(result)
                if location is None:
                    conn.execute(
                        update(s.experiments)
                        .where(s.experiments.c.experiment_id == experiment_id)
                        .values(
                            artifact_location=append_to_uri(self.db.default_artifact_root, str(experiment_id))
                        )
                    )
                if tag_items:
                    conn.execute(
                        s.experiment_tags.insert(),
                        [
                            {"experiment_id": experiment_id, "key": k, "value": v}
                            for k, v in tag_items.items()
                        ],
                    )
        except IntegrityError as exc:  # a concurrent create won the race for the name
            raise AlreadyExistsError(f"Experiment(name={name}) already exists.") from exc
        return str(experiment_id)

    def delete_experiment(self, experiment_id: str) -> None:
        eid = parse_experiment_id(experiment_id)
        now = now_ms()
        with self.db.write() as conn:
            row = self._experiment_row(conn, eid)
            if row.lifecycle_stage != LifecycleStage.ACTIVE.value:
                raise NotFoundError(  # MLflow's code: only an active experiment can be found to delete
                    f"No active experiment with id={experiment_id} exists: it is already deleted"
                )
            conn.execute(
                update(s.experiments)
                .where(s.experiments.c.experiment_id == eid)
                .values(lifecycle_stage=LifecycleStage.DELETED.value, last_update_time=now, deleted_time=now)
            )
            conn.execute(
                update(s.runs)
                .where(s.runs.c.experiment_id == eid, s.runs.c.lifecycle_stage == LifecycleStage.ACTIVE.value)
                .values(lifecycle_stage=LifecycleStage.DELETED.value, deleted_time=now)
            )

    def restore_experiment(self, experiment_id: str) -> None:
        eid = parse_experiment_id(experiment_id)
        with self.db.write() as conn:
            row = self._experiment_row(conn, eid)
            if row.lifecycle_stage != LifecycleStage.DELETED.value:
                raise NotFoundError(  # MLflow's code: only a deleted experiment can be found to restore
                    f"No deleted experiment with id={experiment_id} exists: it is active"
                )
            conn.execute(
                update(s.experiments)
                .where(s.experiments.c.experiment_id == eid)
                .values(
                    lifecycle_stage=LifecycleStage.ACTIVE.value, last_update_time=now_ms(), deleted_time=None
                )
            )
            conn.execute(
                update(s.runs)
                .where(
                    s.runs.c.experiment_id == eid, s.runs.c.lifecycle_stage == LifecycleStage.DELETED.value
                )
                .values(lifecycle_stage=LifecycleStage.ACTIVE.value, deleted_time=None)
            )

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        validate_experiment_name(new_name)
        eid = parse_experiment_id(experiment_id)
        try:
            with self.db.write() as conn:
                row = self._experiment_row(conn, eid)
                if row.lifecycle_stage != LifecycleStage.ACTIVE.value:
                    raise InvalidParameterError("Cannot rename a non-active experiment.")
                clash = conn.execute(
                    select(s.experiments.c.experiment_id).where(
                        s.experiments.c.name == new_name, s.experiments.c.experiment_id != eid
                    )
                ).first()
                if clash:
                    raise AlreadyExistsError(f"Experiment(name={new_name}) already exists.")
                conn.execute(
                    update(s.experiments)
                    .where(s.experiments.c.experiment_id == eid)
                    .values(name=new_name, last_update_time=now_ms())
                )
        except IntegrityError as exc:
            raise AlreadyExistsError(f"Experiment(name={new_name}) already exists.") from exc

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        validate_key(key, "experiment tag")
        validate_string_value(value, "experiment tag", key)
        eid = parse_experiment_id(experiment_id)
        from bakehouse.store.tracking.sql.dialect import upsert

        with self.db.write() as conn:
            row = self._experiment_row(conn, eid)
            if row.lifecycle_stage != LifecycleStage.ACTIVE.value:
                raise InvalidParameterError(
                    f"The experiment {experiment_id} must be in the 'active' state. "
                    f"Current state is {row.lifecycle_stage}."
                )
            upsert(conn, s.experiment_tags, [{"experiment_id": eid, "key": key, "value": value}], ["value"])

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        eid = parse_experiment_id(experiment_id)
        with self.db.write() as conn:
            row = self._experiment_row(conn, eid)
            if row.lifecycle_stage != LifecycleStage.ACTIVE.value:
                raise InvalidParameterError(f"The experiment {experiment_id} must be in the 'active' state.")
            result = conn.execute(
                delete(s.experiment_tags).where(
                    s.experiment_tags.c.experiment_id == eid, s.experiment_tags.c.key == key
                )
            )
            if result.rowcount == 0:
                raise NotFoundError(f"No tag with name: {key} in experiment with id {experiment_id}")

    # ------------------------------------------------------------------------------------- reads
    def get_experiment(self, experiment_id: str) -> Experiment:
        eid = parse_experiment_id(experiment_id)
        with self.db.read() as conn:
            return load_experiments(conn, [eid], self.db.default_artifact_root)[0]

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        with self.db.read() as conn:
            row = conn.execute(
                select(s.experiments.c.experiment_id).where(s.experiments.c.name == name)
            ).first()
            if row is None:
                return None
            return load_experiments(conn, [row[0]], self.db.default_artifact_root)[0]

    def search_experiments(
        self,
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        from bakehouse.store.db.filters import build_experiment_search

        validate_max_results(max_results, SEARCH_MAX_RESULTS_THRESHOLD)
        offset = decode_page_token(page_token) if page_token else 0
        query = build_experiment_search(
            ViewType.parse(view_type), filter_string, list(order_by or []), offset, max_results + 1
        )
        with self.db.read() as conn:
            ids = [row[0] for row in conn.execute(query)]
            has_more = len(ids) > max_results
            ids = ids[:max_results]
            experiments = load_experiments(conn, ids, self.db.default_artifact_root) if ids else []
        token = encode_page_token(offset + max_results) if has_more else None
        return PagedList(experiments, token)

    # ----------------------------------------------------------------------------------- helpers
    def _experiment_row(self, conn: Connection, eid: int) -> Row[Any]:
        row = conn.execute(select(s.experiments).where(s.experiments.c.experiment_id == eid)).first()
        if row is None:
            raise NotFoundError(f"No Experiment with id={eid} exists")
        return row


def load_experiments(conn: Connection, ids: Sequence[int], default_artifact_root: str) -> list[Experiment]:
    """Experiments by id, with their tags, in the order asked; one missing id is a NotFoundError."""
    rows = {
        r.experiment_id: r
        for r in conn.execute(select(s.experiments).where(s.experiments.c.experiment_id.in_(ids)))
    }
    missing = [i for i in ids if i not in rows]
    if missing:
        raise NotFoundError(f"No Experiment with id={missing[0]} exists")
    tags: dict[int, dict[str, str]] = {i: {} for i in ids}
    for t in conn.execute(
        select(s.experiment_tags.c.experiment_id, s.experiment_tags.c.key, s.experiment_tags.c.value).where(
            s.experiment_tags.c.experiment_id.in_(ids)
        )
    ):
        tags[t.experiment_id][t.key] = t.value
    out = []
    for i in ids:
        r = rows[i]
        location = r.artifact_location or append_to_uri(default_artifact_root, str(i))
        out.append(
            Experiment(
                experiment_id=str(i),
                name=r.name,
                artifact_location=location,
                lifecycle_stage=r.lifecycle_stage,
                creation_time=r.creation_time,
                last_update_time=r.last_update_time,
                tags=tags[i],
            )
        )
    return out
