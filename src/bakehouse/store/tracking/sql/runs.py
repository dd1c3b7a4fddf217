"""Runs in the SQL store: life cycle, logging and search."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, delete, select, update

from bakehouse.clock import now_ms
from bakehouse.entities import (
    LifecycleStage,
    Metric,
    PagedList,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from bakehouse.entities.run import DatasetInput, ModelOutput
from bakehouse.errors import InvalidParameterError, NotFoundError
from bakehouse.store.db import schema as s
from bakehouse.store.names import generate_run_name
from bakehouse.store.page_token import decode_page_token, encode_page_token
from bakehouse.store.tracking.base import SEARCH_MAX_RESULTS_THRESHOLD
from bakehouse.store.tracking.sql import raw
from bakehouse.store.tracking.sql.connection import SqlConnection, append_to_uri
from bakehouse.store.tracking.sql.dialect import upsert, upsert_latest_metrics
from bakehouse.store.tracking.sql.experiments import load_experiments, parse_experiment_id
from bakehouse.store.tracking.sql.loading import load_runs, run_info_from_row
from bakehouse.store.tracking.sql.metric_sampling import sample_history
from bakehouse.store.tracking.sql.run_pages import run_id_page
from bakehouse.store.tracking.sql.seal_schedule import BLOCKS_PER_CHECK, SealSchedule
from bakehouse.store.validation import (
    MAX_MODEL_ID_LENGTH,
    MAX_USER_ID_LENGTH,
    decode_metric_value,
    encode_metric_value,
    validate_batch,
    validate_bounded_string,
    validate_dataset,
    validate_max_results,
    validate_run_name,
    validate_tag,
)

if TYPE_CHECKING:
    import numpy as np

RUN_NAME_TAG = "mlflow.runName"
MAX_HISTORY_PAGE = 25000


_MODEL_METRIC_COLUMNS = (
    "model_id",
    "metric_name",
    "metric_timestamp_ms",
    "metric_step",
    "metric_value",
    "value_kind",
    "run_id",
    "dataset_name",
    "dataset_digest",
)
_METRIC_COLUMNS = (
    "run_uuid",
    "key",
    "timestamp",
    "step",
    "value",
    "value_kind",
    "dataset_name",
    "dataset_digest",
    "model_id",
)


class RunsMixin:
    db: SqlConnection
    metric_seals: SealSchedule

    # ---------------------------------------------------------------------------------- life cycle
    def create_run(
        self,
        experiment_id: str,
        user_id: str | None = None,
        start_time: int | None = None,
        tags: Sequence[RunTag] | None = None,
        run_name: str | None = None,
    ) -> Run:
        eid = parse_experiment_id(experiment_id)
        tag_list = list(tags or [])
        for tag in tag_list:
            validate_tag(tag.key, tag.value)
        name_from_tag = next((t.value for t in tag_list if t.key == RUN_NAME_TAG), None)
        if run_name and name_from_tag and run_name != name_from_tag:
            raise InvalidParameterError(
                "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values "
                f"(run_name='{run_name}', mlflow.runName='{name_from_tag}')."
            )
        run_name = run_name or name_from_tag or generate_run_name()
        validate_run_name(run_name)
        tag_map = {t.key: t.value for t in tag_list}
        tag_map[RUN_NAME_TAG] = run_name
        if user_id is None:
            user_id = tag_map.get("mlflow.user", "unknown")
        validate_bounded_string(user_id, "user id", MAX_USER_ID_LENGTH)
        run_id = uuid.uuid4().hex
        start_time = now_ms() if start_time is None else int(start_time)
        with self.db.write() as conn:
            experiment = load_experiments(conn, [eid], self.db.default_artifact_root)[0]
            if experiment.lifecycle_stage != LifecycleStage.ACTIVE.value:
                raise InvalidParameterError(
                    f"The experiment {experiment_id} must be in the 'active' state. "
                    f"Current state is {experiment.lifecycle_stage}."
                )
            artifact_uri = append_to_uri(experiment.artifact_location, run_id, "artifacts")
            row = {
                "run_uuid": run_id,
                "name": run_name,
                "source_type": (tag_map.get("mlflow.source.type") or "UNKNOWN")[
                    :20
                ],  # the tag keeps the whole value
                "source_name": (tag_map.get("mlflow.source.name") or "")[:500],
                "entry_point_name": (tag_map.get("mlflow.project.entryPoint") or "")[:50],
                "user_id": user_id,
                "status": RunStatus.RUNNING.value,
                "start_time": start_time,
                "end_time": None,
                "deleted_time": None,
                "source_version": (tag_map.get("mlflow.source.git.commit") or "")[:50],
                "lifecycle_stage": LifecycleStage.ACTIVE.value,
                "artifact_uri": artifact_uri,
                "experiment_id": eid,
            }
            conn.execute(s.runs.insert(), row)
            conn.execute(
                s.tags.insert(), [{"run_uuid": run_id, "key": k, "value": v} for k, v in tag_map.items()]
            )
        info = RunInfo(
            run_id,
            str(eid),
            run_name,
            user_id,
            RunStatus.RUNNING.value,
            start_time,
            None,
            artifact_uri,
            LifecycleStage.ACTIVE.value,
        )
        return Run(info=info, data=RunData(tags=dict(tag_map)))

    def get_run(self, run_id: str) -> Run:
        with self.db.read() as conn:
            runs = load_runs(conn, [run_id], with_io=True)
        if not runs:
            raise NotFoundError(f"Run with id={run_id} not found")
        return runs[0]

    def update_run_info(
        self,
        run_id: str,
        run_status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo:
        values: dict[str, Any] = {}
        if run_status is not None:
            values["status"] = RunStatus.parse(run_status).value
        if end_time is not None:
            if isinstance(end_time, bool) or not isinstance(end_time, int) or end_time < 0:
                raise InvalidParameterError(f"Invalid end_time {end_time!r}: expected a non-negative integer")
            values["end_time"] = end_time
        if run_name:
            validate_run_name(run_name)
            values["name"] = run_name
        with self.db.write() as conn:
            row = self._run_row(conn, run_id)
            self._check_active(row)
            if values:
                conn.execute(update(s.runs).where(s.runs.c.run_uuid == run_id).values(**values))
            if run_name:
                upsert(
                    conn, s.tags, [{"run_uuid": run_id, "key": RUN_NAME_TAG, "value": run_name}], ["value"]
                )
            row = self._run_row(conn, run_id)
            return run_info_from_row(row)

    def delete_run(self, run_id: str) -> None:
        with self.db.write() as conn:
            self._run_row(conn, run_id)
            conn.execute(
                update(s.runs)
                .where(s.runs.c.run_uuid == run_id)
                .values(lifecycle_stage=LifecycleStage.DELETED.value, deleted_time=now_ms())
            )

    def restore_run(self, run_id: str) -> None:
        with self.db.write() as conn:
            self._run_row(conn, run_id)
            conn.execute(
                update(s.runs)
                .where(s.runs.c.run_uuid == run_id)
                .values(lifecycle_stage=LifecycleStage.ACTIVE.value, deleted_time=None)
            )

    # -------------------------------------------------------------------------------------- logging
    def log_metric(self, run_id: str, metric: Metric) -> None:
        self.log_batch(run_id, metrics=[metric])

    def log_param(self, run_id: str, param: Param) -> None:
        self.log_batch(run_id, params=[param])

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        self.log_batch(run_id, tags=[tag])

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
    ) -> None:
        """All-or-nothing: everything is validated first, then written in one transaction."""
        validate_batch(metrics, params, tags)
        with self.db.write() as conn:
            row = self._run_row(conn, run_id)
            self._check_active(row)
            if params:
                self._write_params(conn, run_id, params)
            if tags:
                self._write_tags(conn, run_id, tags)
            if metrics:
                self._write_metrics(conn, run_id, row.experiment_id, metrics)
        if metrics:
            self._seal_due(run_id, [m.key for m in metrics])

    def _seal_due(self, run_id: str, keys: Sequence[str]) -> None:
        """Seal the histories whose unsealed tail may have reached a block (``metric_blocks``), after the
        batch is committed: its points are stored whatever the sealing does. Write transactions of their
        own (~0.1-0.5 s per block, once per 100,000 points of a history): log_batch is therefore not an
        ``inline`` endpoint (``server.inline`` allows one write transaction)."""
        due = self.metric_seals.wrote(run_id, keys)
        if not due:
            return
        from bakehouse.store.tracking.sql.metric_blocks import seal_history  # numpy: only when due

        for key in due:
            seal_history(
                self.db.engine,
                run_id,
                key,
                self.metric_seals.block_points,
                max_blocks=BLOCKS_PER_CHECK,
                lag_ms=self.metric_seals.lag_ms,
            )

    def seal_metric_history(self, run_id: str, metric_key: str, verify: bool = True) -> int:
        """Pack the history's unsealed points into blocks now (an imported history, a benchmark); with
        ``verify``, blocks that no longer hold exactly their rows are dropped and sealed again first.
        Returns the blocks sealed."""
        from bakehouse.store.tracking.sql.metric_blocks import seal_history

        with self.db.read() as conn:
            self._run_row(conn, run_id)
        seals = self.metric_seals
        return seal_history(
            self.db.engine, run_id, metric_key, seals.block_points, verify=verify, lag_ms=seals.lag_ms
        )

    def _write_params(self, conn: Connection, run_id: str, params: Sequence[Param]) -> None:
        keys = [p.key for p in params]
        existing = dict(
            conn.execute(
                select(s.params.c.key, s.params.c.value).where(
                    s.params.c.run_uuid == run_id, s.params.c.key.in_(keys)
                )
            ).all()
        )
        for p in params:
            if p.key in existing and existing[p.key] != p.value:
                raise InvalidParameterError(
                    f"Changing param values is not allowed. Param with key='{p.key}' was already logged with "
                    f"value='{existing[p.key]}' for run ID='{run_id}'. Attempted logging new value '{p.value}'."
                )
        new_rows = [
            {"run_uuid": run_id, "key": p.key, "value": p.value} for p in params if p.key not in existing
        ]
        if new_rows:
            conn.execute(s.params.insert(), new_rows)

    def _write_tags(self, conn: Connection, run_id: str, tags: Sequence[RunTag]) -> None:
        latest = {t.key: t.value for t in tags}  # the last value of a key in one batch wins
        upsert(
            conn, s.tags, [{"run_uuid": run_id, "key": k, "value": v} for k, v in latest.items()], ["value"]
        )
        if RUN_NAME_TAG in latest:
            validate_run_name(latest[RUN_NAME_TAG])
            conn.execute(update(s.runs).where(s.runs.c.run_uuid == run_id).values(name=latest[RUN_NAME_TAG]))

    def _write_metrics(
        self, conn: Connection, run_id: str, experiment_id: int, metrics: Sequence[Metric]
    ) -> None:
        """Every point, plus the latest point per key; rows are plain tuples (this runs per logged batch)."""
        rows = []
        best: dict[str, tuple[Any, ...]] = {}  # key -> (step, timestamp, value, kind)
        for m in metrics:
            value, kind = encode_metric_value(m.value)
            step = m.step or 0
            rows.append(
                (run_id, m.key, m.timestamp, step, value, kind, m.dataset_name, m.dataset_digest, m.model_id)
            )
            point = (step, m.timestamp, value, kind)
            current = best.get(m.key)
            if current is None or point[:3] > current[:3]:
                best[m.key] = point
        raw.execute_many(conn, raw.insert_ignore_sql(conn, "metrics", _METRIC_COLUMNS), rows)
        with_model = [m for m in metrics if m.model_id is not None]
        if with_model:
            self._write_logged_model_metrics(conn, run_id, with_model)
        upsert_latest_metrics(
            conn,
            s.latest_metrics,
            [
                {
                    "run_uuid": run_id,
                    "key": key,
                    "step": step,
                    "timestamp": ts,
                    "value": value,
                    "value_kind": kind,
                    "experiment_id": experiment_id,
                }
                for key, (step, ts, value, kind) in best.items()
            ],
        )

    def _write_logged_model_metrics(self, conn: Connection, run_id: str, metrics: Sequence[Metric]) -> None:
        """Points logged with a ``model_id`` (MLflow 3) also belong to that logged model: its metrics in
        get_logged_model and search_logged_models (``metrics.accuracy > 0.9``) come from here. Points naming
        a model that does not exist stay run metrics only."""
        wanted = sorted({m.model_id for m in metrics if m.model_id is not None})
        existing = {
            r[0]
            for r in raw.fetch_in(
                conn, f"SELECT {raw.columns(conn, 'model_id')} FROM logged_models WHERE model_id", wanted
            )
        }
        rows = []
        for m in metrics:
            if m.model_id in existing:
                value, kind = encode_metric_value(m.value)
                rows.append(
                    (
                        m.model_id,
                        m.key,
                        m.timestamp,
                        m.step or 0,
                        value,
                        kind,
                        run_id,
                        m.dataset_name,
                        m.dataset_digest,
                    )
                )
        if rows:
            raw.execute_many(
                conn, raw.insert_ignore_sql(conn, "logged_model_metrics", _MODEL_METRIC_COLUMNS), rows
            )

    def delete_tag(self, run_id: str, key: str) -> None:
        with self.db.write() as conn:
            row = self._run_row(conn, run_id)
            self._check_active(row)
            result = conn.execute(delete(s.tags).where(s.tags.c.run_uuid == run_id, s.tags.c.key == key))
            if result.rowcount == 0:
                raise NotFoundError(f"No tag with name: {key} in run with id {run_id}")

    # ------------------------------------------------------------------------------ metric history
    def get_metric_history(
        self, run_id: str, metric_key: str, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList[Metric]:
        page = self.metric_history_rows(run_id, metric_key, max_results, page_token)
        return PagedList(
            [Metric(metric_key, value, ts, step, run_id) for value, ts, step in page], page.token
        )

    def iter_metric_history_arrays(self, run_id: str, metric_key: str) -> Iterator[np.ndarray]:
        """The history in chunks of ``RECORD`` arrays (``history_stream``); the run is checked now, the
        points are read as the chunks are asked for, on a connection of the iterating thread."""
        # numpy loads only when a history is streamed: opening a store stays cheap for a cold start
        from bakehouse.store.tracking.sql.history_stream import history_chunks

        with self.db.read() as conn:
            self._run_row(conn, run_id)
        return history_chunks(self.db.engine, run_id, metric_key)

    def metric_history_rows(
        self, run_id: str, metric_key: str, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList[tuple[float, int, int]]:
        """A history as ``(value, timestamp, step)`` tuples, in MLflow's order (timestamp, step, value).

        The server answers ``get-history`` from these directly: building 100,000 Metric objects only to
        turn them into JSON would double its work.
        """
        offset = decode_page_token(page_token) if page_token else 0
        if max_results is not None:
            validate_max_results(max_results, 10**9)
        with self.db.read() as conn:
            self._run_row(conn, run_id)
            mark = raw.marker(conn)
            sql = (
                f"SELECT {raw.columns(conn, 'value', 'value_kind', 'timestamp', 'step')} FROM metrics "
                f"WHERE run_uuid = {mark} AND {raw.quoted(conn, 'key')} = {mark} "
                f"ORDER BY {raw.columns(conn, 'timestamp', 'step', 'value')}"
            )
            params: list[Any] = [run_id, metric_key]
            if max_results is not None:
                sql += f" LIMIT {int(max_results) + 1} OFFSET {int(offset)}"
            elif offset:
                sql += f" LIMIT {2**62} OFFSET {int(offset)}"
            rows = raw.fetch_all(conn, sql, params)
        token = None
        if max_results is not None and len(rows) > max_results:
            rows = rows[:max_results]
            token = encode_page_token(offset + max_results)
        decode = decode_metric_value
        return PagedList(
            [(decode(value, kind) if kind else value, ts, step) for value, kind, ts, step in rows], token
        )

    def get_metric_history_bulk_interval(
        self,
        run_ids: Sequence[str],
        metric_key: str,
        max_results: int,
        start_step: int | None = None,
        end_step: int | None = None,
    ) -> list[Metric]:
        """Up to ``max_results`` points per run, evenly sampled by step with index seeks, first and last
        kept (``metric_sampling``: MLflow's points when every step has one point)."""
        if (start_step is None) != (end_step is None):
            raise InvalidParameterError(
                "Both start_step and end_step must be specified together, or neither may be specified."
            )
        max_results = max(1, int(max_results))
        out: list[Metric] = []
        with self.db.read() as conn:
            for run_id in run_ids:
                self._run_row(conn, run_id)
            for run_id in run_ids:
                rows = sample_history(conn, run_id, metric_key, max_results, start_step, end_step)
                out.extend(
                    Metric(metric_key, decode_metric_value(v, kind), ts, st, run_id)
                    for v, kind, ts, st in rows
                )
        return out

    # --------------------------------------------------------------------------------------- search
    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        run_view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        validate_max_results(max_results, SEARCH_MAX_RESULTS_THRESHOLD)
        if page_token:
            decode_page_token(page_token)  # a malformed token is refused before anything is read
        ids = [str(parse_experiment_id(e)) for e in experiment_ids]
        if not ids:
            return PagedList([], None)
        view = ViewType.parse(run_view_type)
        with self.db.read() as conn:
            page = run_id_page(conn, ids, filter_string, view, list(order_by or []), page_token, max_results)
            runs = load_runs(conn, page.run_ids, with_io=True) if page.run_ids else []
        return PagedList(runs, page.next_token)

    # -------------------------------------------------------------------------------------- inputs
    def log_inputs(
        self, run_id: str, datasets: Sequence[DatasetInput] = (), models: Sequence[str] = ()
    ) -> None:
        for d in datasets:
            validate_dataset(d)
        for model_id in models:
            validate_bounded_string(model_id, "logged model id", MAX_MODEL_ID_LENGTH)
        with self.db.write() as conn:
            row = self._run_row(conn, run_id)
            self._check_active(row)
            for d in datasets:
                existing = conn.execute(
                    select(s.datasets.c.dataset_uuid).where(
                        s.datasets.c.experiment_id == row.experiment_id,
                        s.datasets.c.name == d.name,
                        s.datasets.c.digest == d.digest,
                    )
                ).first()
                if existing is None:
                    dataset_uuid = uuid.uuid4().hex
                    conn.execute(
                        s.datasets.insert().values(
                            dataset_uuid=dataset_uuid,
                            experiment_id=row.experiment_id,
                            name=d.name,
                            digest=d.digest,
                            dataset_source_type=d.source_type or "",
                            dataset_source=d.source or "",
                            dataset_schema=d.schema,
                            dataset_profile=d.profile,
                        )
                    )
                else:
                    dataset_uuid = existing[0]
                link = conn.execute(
                    select(s.inputs.c.input_uuid).where(
                        s.inputs.c.source_type == "DATASET",
                        s.inputs.c.source_id == dataset_uuid,
                        s.inputs.c.destination_type == "RUN",
                        s.inputs.c.destination_id == run_id,
                    )
                ).first()
                if link is None:
                    input_uuid = uuid.uuid4().hex
                    conn.execute(
                        s.inputs.insert().values(
                            input_uuid=input_uuid,
                            source_type="DATASET",
                            source_id=dataset_uuid,
                            destination_type="RUN",
                            destination_id=run_id,
                            step=0,
                        )
                    )
                    if d.tags:
                        conn.execute(
                            s.input_tags.insert(),
                            [{"input_uuid": input_uuid, "name": k, "value": v} for k, v in d.tags.items()],
                        )
            model_rows = [
                {
                    "input_uuid": uuid.uuid4().hex,
                    "source_type": "MODEL",
                    "source_id": model_id,
                    "destination_type": "RUN",
                    "destination_id": run_id,
                    "step": 0,
                }
                for model_id in models
            ]
            if model_rows:
                conn.execute(s.inputs.insert(), model_rows)

    def log_outputs(self, run_id: str, models: Sequence[ModelOutput]) -> None:
        for out in models:
            validate_bounded_string(out.model_id, "logged model id", MAX_MODEL_ID_LENGTH)
        with self.db.write() as conn:
            row = self._run_row(conn, run_id)
            self._check_active(row)
            for out in models:
                exists = conn.execute(
                    select(s.inputs.c.input_uuid).where(
                        s.inputs.c.source_type == "RUN_OUTPUT",
                        s.inputs.c.source_id == run_id,
                        s.inputs.c.destination_type == "MODEL_OUTPUT",
                        s.inputs.c.destination_id == out.model_id,
                    )
                ).first()
                if exists is None:
                    conn.execute(
                        s.inputs.insert().values(
                            input_uuid=uuid.uuid4().hex,
                            source_type="RUN_OUTPUT",
                            source_id=run_id,
                            destination_type="MODEL_OUTPUT",
                            destination_id=out.model_id,
                            step=int(out.step or 0),
                        )
                    )

    # ---------------------------------------------------------------------------------------- gc
    def get_deleted_runs(self, older_than_ms: int | None = None) -> list[str]:
        conditions = [s.runs.c.lifecycle_stage == LifecycleStage.DELETED.value]
        if older_than_ms is not None:
            conditions.append(s.runs.c.deleted_time <= now_ms() - older_than_ms)
        with self.db.read() as conn:
            return [r[0] for r in conn.execute(select(s.runs.c.run_uuid).where(*conditions))]

    def hard_delete_run(self, run_id: str) -> None:
        with self.db.write() as conn:
            self._hard_delete_runs(conn, [run_id])

    def _hard_delete_runs(self, conn: Connection, run_ids: Sequence[str]) -> None:
        if not run_ids:
            return
        for table in (s.metric_blocks, s.metrics, s.latest_metrics, s.params, s.tags):
            conn.execute(delete(table).where(table.c.run_uuid.in_(run_ids)))
        input_ids = [
            r[0]
            for r in conn.execute(
                select(s.inputs.c.input_uuid).where(
                    (and_(s.inputs.c.destination_type == "RUN", s.inputs.c.destination_id.in_(run_ids)))
                    | (and_(s.inputs.c.source_type == "RUN_OUTPUT", s.inputs.c.source_id.in_(run_ids)))
                )
            )
        ]
        if input_ids:
            conn.execute(delete(s.input_tags).where(s.input_tags.c.input_uuid.in_(input_ids)))
            conn.execute(delete(s.inputs).where(s.inputs.c.input_uuid.in_(input_ids)))
        conn.execute(delete(s.trace_run_links).where(s.trace_run_links.c.run_id.in_(run_ids)))
        conn.execute(delete(s.runs).where(s.runs.c.run_uuid.in_(run_ids)))

    # ----------------------------------------------------------------------------------- helpers
    def _run_row(self, conn: Connection, run_id: str) -> Any:
        if not isinstance(run_id, str) or not run_id:
            raise InvalidParameterError(f"Invalid run ID: {run_id!r}")
        row = conn.execute(select(s.runs).where(s.runs.c.run_uuid == run_id)).first()
        if row is None:
            raise NotFoundError(f"Run with id={run_id} not found")
        return row

    @staticmethod
    def _check_active(row: Any) -> None:
        if row.lifecycle_stage != LifecycleStage.ACTIVE.value:
            raise InvalidParameterError(
                f"The run {row.run_uuid} must be in the 'active' state. Current state is {row.lifecycle_stage}."
            )
