"""``SqlTrackingStore``: the tracking store over SQLite, PostgreSQL or MySQL."""

from __future__ import annotations

from sqlalchemy import Engine, delete, select

from bakehouse import settings
from bakehouse.clock import now_ms
from bakehouse.entities import LifecycleStage
from bakehouse.store.db import schema as s
from bakehouse.store.db.engine import ensure_schema
from bakehouse.store.tracking.sql.assessments import AssessmentsMixin
from bakehouse.store.tracking.sql.connection import SqlConnection
from bakehouse.store.tracking.sql.experiments import ExperimentsMixin, parse_experiment_id
from bakehouse.store.tracking.sql.logged_models import LoggedModelsMixin
from bakehouse.store.tracking.sql.runs import RunsMixin
from bakehouse.store.tracking.sql.seal_schedule import SealSchedule
from bakehouse.store.tracking.sql.traces import TracesMixin


class SqlTrackingStore(ExperimentsMixin, RunsMixin, LoggedModelsMixin, TracesMixin, AssessmentsMixin):
    """Every tracking operation in plain SQL through SQLAlchemy Core, a few statements per call."""

    def __init__(self, db_uri: str, default_artifact_root: str | None = None) -> None:
        root = default_artifact_root or settings.artifact_root_from_env() or settings.default_artifact_root()
        self.db = SqlConnection(db_uri, root)
        self.metric_seals = SealSchedule()

    @classmethod
    def from_uri(cls, uri: str, artifact_uri: str | None = None) -> SqlTrackingStore:
        return cls(uri, artifact_uri)

    @property
    def tracking_uri(self) -> str:
        """The database URI (the registry lives in the same database unless told otherwise)."""
        return self.db.db_uri

    @property
    def engine(self) -> Engine:
        return self.db.engine

    @property
    def default_artifact_root(self) -> str:
        return self.db.default_artifact_root

    @property
    def answers_inline(self) -> bool:
        """Whether short calls may run on the server's event loop: true for SQLite, a local file where a
        read never waits and a write that would wait says so at once (``no_lock_wait``); a database
        server's round trips always go to a worker thread."""
        return self.db.sqlite

    def check_schema(self) -> None:
        """Raise a clear error naming ``bakehouse db upgrade`` when the schema is out of date."""
        ensure_schema(self.db.engine)

    # ------------------------------------------------------------------------ experiment gc
    def get_deleted_experiments(self, older_than_ms: int | None = None) -> list[str]:
        conditions = [s.experiments.c.lifecycle_stage == LifecycleStage.DELETED.value]
        if older_than_ms is not None:
            conditions.append(s.experiments.c.deleted_time <= now_ms() - older_than_ms)
        with self.db.read() as conn:
            return [str(r[0]) for r in conn.execute(select(s.experiments.c.experiment_id).where(*conditions))]

    def hard_delete_experiment(self, experiment_id: str) -> None:
        eid = parse_experiment_id(experiment_id)
        with self.db.write() as conn:
            self._experiment_row(conn, eid)
            self._hard_delete_experiment_traces(conn, eid)
            run_ids = [
                r[0] for r in conn.execute(select(s.runs.c.run_uuid).where(s.runs.c.experiment_id == eid))
            ]
            self._hard_delete_runs(conn, run_ids)
            model_ids = [
                r[0]
                for r in conn.execute(
                    select(s.logged_models.c.model_id).where(s.logged_models.c.experiment_id == eid)
                )
            ]
            if model_ids:
                for table in (s.logged_model_tags, s.logged_model_params, s.logged_model_metrics):
                    conn.execute(delete(table).where(table.c.model_id.in_(model_ids)))
                conn.execute(delete(s.logged_models).where(s.logged_models.c.model_id.in_(model_ids)))
            dataset_ids = [
                r[0]
                for r in conn.execute(
                    select(s.datasets.c.dataset_uuid).where(s.datasets.c.experiment_id == eid)
                )
            ]
            if dataset_ids:
                conn.execute(delete(s.datasets).where(s.datasets.c.dataset_uuid.in_(dataset_ids)))
            conn.execute(delete(s.experiment_tags).where(s.experiment_tags.c.experiment_id == eid))
            conn.execute(delete(s.experiments).where(s.experiments.c.experiment_id == eid))
