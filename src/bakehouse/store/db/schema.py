"""The one relational schema, shared by SQLite, PostgreSQL and MySQL (SQLAlchemy Core tables).

The Alembic chain in ``migrations/`` must produce exactly this metadata; a test compares them.

Metric values: ``value_kind`` records what the float really was (0 finite, 1 NaN, 2 +inf, 3 -inf) so that
NaN and infinities round-trip exactly on every database (MySQL has no infinity, SQLite stores NaN as NULL),
while ``value`` keeps a sortable stand-in (0 for NaN, +/-DBL_MAX for infinities).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    event,
    text,
)
from sqlalchemy.dialects import mysql

from bakehouse.entities import LifecycleStage

#: The Alembic revision that creates this schema; written into ``alembic_version`` when a fresh database
#: is created directly from the metadata (faster than running the migration chain).
SCHEMA_HEAD = "0017_metric_blocks"

metadata = MetaData()

# Values may be up to 1 MiB (compat-traps: never truncate); MySQL's TEXT stops at 64 KiB.
LongText = Text().with_variant(mysql.MEDIUMTEXT(), "mysql")
#: Longest param value (UTF-8 bytes) in PostgreSQL's ``index_params_key_value``: a b-tree entry holds ~2.7 kB.
PARAM_VALUE_INDEXED_BYTES = 1000
# Keys are part of primary keys, so they need a bounded length everywhere.
Key = String(250)
# 64-bit: MLflow's file store names experiments with random 63-bit integers. SQLite keeps INTEGER, the type
# that makes the primary key an alias of the rowid (64-bit there anyway).
ExperimentId = BigInteger().with_variant(Integer(), "sqlite")
#: Characters of a trace tag's value copied into its indexed ``value_prefix``.
TRACE_TAG_PREFIX = 100

experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", ExperimentId, primary_key=True, autoincrement=True),
    Column("name", String(500), nullable=False, unique=True),
    Column("artifact_location", Text, nullable=True),
    Column("lifecycle_stage", String(32), nullable=False, default=LifecycleStage.ACTIVE.value),
    Column("creation_time", BigInteger, nullable=True),
    Column("last_update_time", BigInteger, nullable=True),
    Column("deleted_time", BigInteger, nullable=True),
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column("experiment_id", ExperimentId, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("key", Key, nullable=False),
    Column("value", LongText, nullable=True),
    PrimaryKeyConstraint("experiment_id", "key", name="experiment_tag_pk"),
)

runs = Table(
    "runs",
    metadata,
    Column("run_uuid", String(32), primary_key=True),
    Column("name", String(250), nullable=True),
    Column("source_type", String(20), nullable=True),
    Column("source_name", String(500), nullable=True),
    Column("entry_point_name", String(50), nullable=True),
    Column("user_id", String(256), nullable=True),
    Column("status", String(9), nullable=False),
    Column("start_time", BigInteger, nullable=True),
    Column("end_time", BigInteger, nullable=True),
    Column("deleted_time", BigInteger, nullable=True),
    Column("source_version", String(50), nullable=True),
    Column("lifecycle_stage", String(20), nullable=False, default=LifecycleStage.ACTIVE.value),
    Column("artifact_uri", Text, nullable=True),
    Column("experiment_id", ExperimentId, ForeignKey("experiments.experiment_id"), nullable=False),
    # the run id makes the walk over an experiment's runs read the index alone (0010_run_search_index)
    Index(
        "index_runs_experiment_stage_start_id", "experiment_id", "lifecycle_stage", "start_time", "run_uuid"
    ),
    # narrow entries for the UI's run count, a range count of the experiment's runs (0015)
    Index("index_runs_experiment_stage", "experiment_id", "lifecycle_stage"),
    # a walk over a metric's rows tests each row's run and reads its start time in one seek (0016)
    Index(
        "index_runs_id_experiment_stage_start", "run_uuid", "experiment_id", "lifecycle_stage", "start_time"
    ),
)

metrics = Table(
    "metrics",
    metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid"), nullable=False),
    Column("key", Key, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False, default=0),
    Column("value", Double, nullable=False),
    Column("value_kind", SmallInteger, nullable=False, default=0),
    Column("dataset_name", String(500), nullable=True),
    Column("dataset_digest", String(36), nullable=True),
    Column("model_id", String(64), nullable=True),
    # the primary key's order is the order of a metric history; on SQLite the table IS that b-tree
    PrimaryKeyConstraint("run_uuid", "key", "timestamp", "step", "value", "value_kind", name="metric_pk"),
    # a chart's sampled history seeks the first point at or after each bucket's step (0014_metric_step_index)
    Index("index_metrics_step_seek", "run_uuid", "key", "step", "timestamp", "value", "value_kind"),
    sqlite_with_rowid=False,
)

#: A packed read copy of long histories (0017_metric_blocks, ``tracking/sql/metric_blocks.py``): blocks of
#: points in history order, used by the streamed history only when proven complete against ``metrics``.
metric_blocks = Table(
    "metric_blocks",
    metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid", ondelete="CASCADE"), nullable=False),
    Column("key", Key, nullable=False),
    Column("block_no", Integer, nullable=False),
    Column("n_points", Integer, nullable=False),
    Column("first_timestamp", BigInteger, nullable=False),
    Column("first_step", BigInteger, nullable=False),
    Column("first_value", Double, nullable=False),
    Column("first_kind", SmallInteger, nullable=False),
    Column("last_timestamp", BigInteger, nullable=False),
    Column("last_step", BigInteger, nullable=False),
    Column("last_value", Double, nullable=False),
    Column("last_kind", SmallInteger, nullable=False),
    # little-endian (int64 step, int64 timestamp, float64 value) records: wire.metric_stream.RECORD
    Column("payload", LargeBinary().with_variant(mysql.LONGBLOB(), "mysql"), nullable=False),
    PrimaryKeyConstraint("run_uuid", "key", "block_no", name="metric_block_pk"),
    # SQLite's trigger below finds the blocks a late point falls into with one seek
    Index("index_metric_blocks_last", "run_uuid", "key", "last_timestamp"),
)

#: SQLite: a point written at or before a history's last sealed point deletes the blocks from the one it
#: falls into onwards, in the writing transaction, whoever writes it (the store, imports, plain SQL); one
#: writer at a time makes that exact, so a SQLite stream needs no count to trust the blocks left.
SQLITE_UNSEAL_TRIGGER = """
CREATE TRIGGER metric_blocks_unseal AFTER INSERT ON metrics
WHEN EXISTS (SELECT 1 FROM metric_blocks b WHERE b.run_uuid = NEW.run_uuid AND b.key = NEW.key
             AND b.last_timestamp >= NEW.timestamp)
BEGIN
  DELETE FROM metric_blocks WHERE run_uuid = NEW.run_uuid AND key = NEW.key
    AND (last_timestamp, last_step, last_value, last_kind)
        >= (NEW.timestamp, NEW.step, NEW.value, NEW.value_kind);
END
"""


@event.listens_for(metadata, "after_create")
def _metric_blocks_extras(_target: MetaData, connection: Connection, **_kw: Any) -> None:
    """What 0017_metric_blocks adds beyond the table: SQLite's trigger; PostgreSQL's payloads stored out of line
    uncompressed (packed doubles hardly compress, and pglz would cost every read)."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(SQLITE_UNSEAL_TRIGGER)
    elif connection.dialect.name == "postgresql":
        connection.exec_driver_sql("ALTER TABLE metric_blocks ALTER COLUMN payload SET STORAGE EXTERNAL")


latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid"), nullable=False),
    Column("key", Key, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("value", Double, nullable=False),
    Column("value_kind", SmallInteger, nullable=False, default=0),
    # the run's experiment (runs never move): a metric-ordered search walks its own experiment's values
    # and counts the runs holding the metric from the index alone (0011_latest_metrics_experiment)
    Column("experiment_id", ExperimentId, nullable=False),
    PrimaryKeyConstraint("run_uuid", "key", name="latest_metric_pk"),
    # the walk of a metric-ordered search reads its rows' kind and run from the index alone (0016)
    Index(
        "index_latest_metrics_experiment_key_value_run",
        "experiment_id",
        "key",
        "value",
        "value_kind",
        "run_uuid",
    ),
    # a metric comparison of a search's filter is one seek for each run it tests (0016)
    Index("index_latest_metrics_run_key_value", "run_uuid", "key", "value", "value_kind"),
)

params = Table(
    "params",
    metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid"), nullable=False),
    Column("key", Key, nullable=False),
    Column("value", LongText, nullable=False),
    PrimaryKeyConstraint("run_uuid", "key", name="param_pk"),
    Index("index_params_key", "key"),
    # the runs holding one value of a param are an index range (0015_param_value_index); values are
    # unbounded, so PostgreSQL indexes those of up to PARAM_VALUE_INDEXED_BYTES and MySQL a prefix
    Index(
        "index_params_key_value",
        "key",
        "value",
        "run_uuid",
        mysql_length={"value": 255},
        postgresql_where=text(f"octet_length(value) <= {PARAM_VALUE_INDEXED_BYTES}"),
    ),
)

tags = Table(
    "tags",
    metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid"), nullable=False),
    Column("key", Key, nullable=False),
    Column("value", LongText, nullable=True),
    PrimaryKeyConstraint("run_uuid", "key", name="tag_pk"),
    Index("index_tags_key", "key"),
)

datasets = Table(
    "datasets",
    metadata,
    Column("dataset_uuid", String(36), primary_key=True),
    Column("experiment_id", ExperimentId, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("name", String(500), nullable=False),
    Column("digest", String(36), nullable=False),
    Column("dataset_source_type", String(36), nullable=False),
    Column("dataset_source", Text, nullable=False),
    Column("dataset_schema", LongText, nullable=True),
    Column("dataset_profile", LongText, nullable=True),
    Index("index_datasets_experiment_name_digest", "experiment_id", "name", "digest", unique=True),
)

inputs = Table(
    "inputs",
    metadata,
    Column("input_uuid", String(36), primary_key=True),
    Column("source_type", String(36), nullable=False),  # DATASET | MODEL | RUN_OUTPUT
    Column("source_id", String(36), nullable=False),
    Column("destination_type", String(36), nullable=False),  # RUN | MODEL_OUTPUT
    Column("destination_id", String(36), nullable=False),
    Column("step", BigInteger, nullable=False, default=0),
    Index("index_inputs_destination", "destination_type", "destination_id"),
    Index("index_inputs_source", "source_type", "source_id"),  # a run's model outputs, read by every search
)

input_tags = Table(
    "input_tags",
    metadata,
    Column("input_uuid", String(36), ForeignKey("inputs.input_uuid"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("value", String(500), nullable=False),
    PrimaryKeyConstraint("input_uuid", "name", name="input_tags_pk"),
)

logged_models = Table(
    "logged_models",
    metadata,
    Column("model_id", String(64), primary_key=True),
    Column("experiment_id", ExperimentId, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("name", String(500), nullable=False),
    Column("artifact_location", Text, nullable=False),
    Column("creation_timestamp_ms", BigInteger, nullable=False),
    Column("last_updated_timestamp_ms", BigInteger, nullable=False),
    Column("status", String(32), nullable=False),
    Column("lifecycle_stage", String(32), nullable=False, default=LifecycleStage.ACTIVE.value),
    Column("model_type", String(500), nullable=True),
    Column("source_run_id", String(32), nullable=True),
    Column("status_message", Text, nullable=True),
    Column("creator_id", String(256), nullable=True),
    Index("index_logged_models_experiment", "experiment_id", "creation_timestamp_ms"),
    Index("index_logged_models_source_run", "source_run_id"),
)

logged_model_tags = Table(
    "logged_model_tags",
    metadata,
    Column("model_id", String(64), ForeignKey("logged_models.model_id"), nullable=False),
    Column("tag_key", Key, nullable=False),
    Column("tag_value", LongText, nullable=False),
    PrimaryKeyConstraint("model_id", "tag_key", name="logged_model_tags_pk"),
)

logged_model_params = Table(
    "logged_model_params",
    metadata,
    Column("model_id", String(64), ForeignKey("logged_models.model_id"), nullable=False),
    Column("param_key", Key, nullable=False),
    Column("param_value", LongText, nullable=False),
    PrimaryKeyConstraint("model_id", "param_key", name="logged_model_params_pk"),
)

logged_model_metrics = Table(
    "logged_model_metrics",
    metadata,
    Column("model_id", String(64), ForeignKey("logged_models.model_id"), nullable=False),
    Column("metric_name", Key, nullable=False),
    Column("metric_timestamp_ms", BigInteger, nullable=False),
    Column("metric_step", BigInteger, nullable=False),
    Column("metric_value", Double, nullable=False),
    Column("value_kind", SmallInteger, nullable=False, default=0),
    Column("run_id", String(32), nullable=False),
    Column("dataset_name", String(500), nullable=True),
    Column("dataset_digest", String(36), nullable=True),
    PrimaryKeyConstraint(
        "model_id",
        "metric_name",
        "metric_timestamp_ms",
        "metric_step",
        "run_id",
        name="logged_model_metrics_pk",
    ),
)

# ---------------------------------------------------------------------------------------------- traces
# MLflow 3's traces: one row per trace, its tags and metadata, its spans (the OpenTelemetry fields that are
# filtered or sorted on as columns, the rest as one JSON document), assessments, and links to runs.

trace_info = Table(
    "trace_info",
    metadata,
    Column("request_id", String(50), primary_key=True),
    Column("experiment_id", ExperimentId, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("timestamp_ms", BigInteger, nullable=False),
    Column("execution_time_ms", BigInteger, nullable=True),
    Column("status", String(50), nullable=False),
    Column("client_request_id", String(250), nullable=True),
    Column("request_preview", Text, nullable=True),
    Column("response_preview", Text, nullable=True),
    # The whole TraceInfo as the API answers it (tags, metadata, assessments included), rewritten by every
    # write to the trace: a search page is then one read of 100 documents instead of ~1,000 rows.
    Column("info_json", LongText, nullable=True),
    Index("index_trace_info_experiment_timestamp", "experiment_id", "timestamp_ms"),
)
# search_traces' default order (newest first, then id) read straight off an index, with a status filter too
# (0009_trace_indexes)
Index(
    "index_trace_info_experiment_time_id",
    trace_info.c.experiment_id,
    trace_info.c.timestamp_ms.desc(),
    trace_info.c.request_id,
)
Index(
    "index_trace_info_experiment_status_time_id",
    trace_info.c.experiment_id,
    trace_info.c.status,
    trace_info.c.timestamp_ms.desc(),
    trace_info.c.request_id,
)

trace_tags = Table(
    "trace_tags",
    metadata,
    Column("request_id", String(50), ForeignKey("trace_info.request_id"), nullable=False),
    Column("key", Key, nullable=False),
    Column("value", LongText, nullable=True),
    # Copies kept for searching (0012_trace_tag_search): the trace's experiment and start time, and the
    # value's first TRACE_TAG_PREFIX characters (a bounded column an index can hold on every database).
    # ``store.tracking.sql.traces`` rewrites them with every write to a trace's tags, time or experiment.
    Column("experiment_id", ExperimentId, nullable=True),
    Column("timestamp_ms", BigInteger, nullable=True),
    Column("value_prefix", String(TRACE_TAG_PREFIX), nullable=True),
    PrimaryKeyConstraint("request_id", "key", name="trace_tag_pk"),
    Index("index_trace_tags_key", "key"),
    sqlite_with_rowid=False,  # a trace's tags side by side in key order (read together, small rows)
)
# ``tags.k = 'v'`` (and ``trace.name = 'v'``) in search_traces' default order: the matching traces, newest
# first, read straight off one index instead of probing every trace's tags in time order
Index(
    "index_trace_tags_search",
    trace_tags.c.experiment_id,
    trace_tags.c.key,
    trace_tags.c.value_prefix,
    trace_tags.c.timestamp_ms.desc(),
    trace_tags.c.request_id,
)

trace_request_metadata = Table(
    "trace_request_metadata",
    metadata,
    Column("request_id", String(50), ForeignKey("trace_info.request_id"), nullable=False),
    Column("key", Key, nullable=False),
    Column("value", LongText, nullable=True),
    # the value's first TRACE_TAG_PREFIX characters, indexed (0012_trace_tag_search): the traces of a run
    # (``mlflow.sourceRun``) are found without walking the experiment
    Column("value_prefix", String(TRACE_TAG_PREFIX), nullable=True),
    PrimaryKeyConstraint("request_id", "key", name="trace_request_metadata_pk"),
    Index("index_trace_request_metadata_key", "key"),
    Index("index_trace_request_metadata_search", "key", "value_prefix", "request_id"),
    sqlite_with_rowid=False,
)

spans = Table(
    "spans",
    metadata,
    Column("trace_id", String(50), ForeignKey("trace_info.request_id"), nullable=False),
    Column("span_id", String(16), nullable=False),
    Column("experiment_id", ExperimentId, nullable=False),
    Column("parent_span_id", String(16), nullable=True),
    Column("name", String(500), nullable=True),
    Column("type", String(250), nullable=True),
    Column("status", String(50), nullable=False),
    Column("start_time_unix_nano", BigInteger, nullable=False),
    Column("end_time_unix_nano", BigInteger, nullable=True),
    Column("content", LongText, nullable=False),  # attributes, events and status message as JSON
    PrimaryKeyConstraint("trace_id", "span_id", name="spans_pk"),
    Index("index_spans_experiment_name", "experiment_id", "name"),
)

assessments = Table(
    "assessments",
    metadata,
    Column("assessment_id", String(50), primary_key=True),
    Column("trace_id", String(50), ForeignKey("trace_info.request_id"), nullable=False),
    Column("name", Key, nullable=False),
    Column("assessment_type", String(20), nullable=False),  # feedback | expectation
    Column("value", LongText, nullable=True),  # the plain value as JSON text
    Column("numeric_value", Double, nullable=True),  # the value when it is a number or a boolean
    Column("payload", LongText, nullable=False),  # the feedback/expectation message as sent
    Column("error", Text, nullable=True),
    Column("created_timestamp", BigInteger, nullable=False),
    Column("last_updated_timestamp", BigInteger, nullable=False),
    Column("source_type", String(50), nullable=False),
    Column("source_id", String(250), nullable=True),
    Column("span_id", String(16), nullable=True),
    Column("rationale", LongText, nullable=True),
    Column("overrides", String(50), nullable=True),
    Column("valid", Boolean, nullable=False, default=True),
    Column("assessment_metadata", LongText, nullable=True),
    Index("index_assessments_trace_name", "trace_id", "name"),
)

trace_run_links = Table(
    "trace_run_links",
    metadata,
    Column("request_id", String(50), ForeignKey("trace_info.request_id"), nullable=False),
    Column("run_id", String(32), nullable=False),
    PrimaryKeyConstraint("request_id", "run_id", name="trace_run_link_pk"),
    Index("index_trace_run_links_run", "run_id"),
)

# ---------------------------------------------------------------------------------------------- registry

registered_models = Table(
    "registered_models",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("description", Text, nullable=True),
    Column("user_id", String(256), nullable=True),
    # The next version number to hand out: incremented atomically, so concurrent registrations through
    # several servers never collide and deleted version numbers are never reused.
    Column("next_version", Integer, nullable=False, default=1),
)

registered_model_tags = Table(
    "registered_model_tags",
    metadata,
    Column("name", String(256), nullable=False),
    Column("key", Key, nullable=False),
    Column("value", LongText, nullable=True),
    PrimaryKeyConstraint("name", "key", name="registered_model_tag_pk"),
)

registered_model_aliases = Table(
    "registered_model_aliases",
    metadata,
    Column("name", String(256), nullable=False),
    Column("alias", String(256), nullable=False),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("name", "alias", name="registered_model_alias_pk"),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("name", String(256), nullable=False),
    Column("version", Integer, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("description", Text, nullable=True),
    Column("user_id", String(256), nullable=True),
    Column("current_stage", String(20), nullable=False, default="None"),
    Column("source", Text, nullable=True),
    Column("storage_location", Text, nullable=True),
    Column("run_id", String(32), nullable=True),
    Column("run_link", Text, nullable=True),
    Column("model_id", String(64), nullable=True),
    Column("status", String(20), nullable=False, default="READY"),
    Column("status_message", Text, nullable=True),
    PrimaryKeyConstraint("name", "version", name="model_version_pk"),
    Index("index_model_versions_run_id", "run_id"),
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("name", String(256), nullable=False),
    Column("version", Integer, nullable=False),
    Column("key", Key, nullable=False),
    Column("value", LongText, nullable=True),
    PrimaryKeyConstraint("name", "version", "key", name="model_version_tag_pk"),
)

# The audit trail MLflow lacks: every alias move and stage transition, who and when.
registry_events = Table(
    "registry_events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(256), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("user_id", String(256), nullable=True),
    Column("alias", String(256), nullable=True),
    Column("version", Integer, nullable=True),
    Column("from_value", String(256), nullable=True),
    Column("to_value", String(256), nullable=True),
    Index("index_registry_events_name_time", "name", "timestamp"),
)

# ------------------------------------------------------------------------------------------ webhooks
# MLflow 3's registry webhooks. The secret column holds ciphertext only (see store/webhooks/secrets.py).
webhooks = Table(
    "webhooks",
    metadata,
    Column("webhook_id", String(64), primary_key=True),
    Column("name", String(256), nullable=False),
    Column("description", String(1000), nullable=True),
    Column("url", String(2048), nullable=False),
    Column("status", String(20), nullable=False),
    Column("secret", Text, nullable=True),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("webhook_id", String(64), ForeignKey("webhooks.webhook_id", ondelete="CASCADE"), nullable=False),
    Column("entity", String(50), nullable=False),
    Column("action", String(50), nullable=False),
    PrimaryKeyConstraint("webhook_id", "entity", "action", name="webhook_event_pk"),
    Index("index_webhook_events_entity_action", "entity", "action"),
)

# The outbox and the delivery log in one: a row is written in the transaction of the registry change it
# reports, so it exists exactly when the change was committed; server processes claim due rows, send them
# and record every attempt. No foreign key: the log outlives a deleted webhook.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("delivery_id", String(36), primary_key=True),
    Column("webhook_id", String(64), nullable=False),
    Column("entity", String(50), nullable=False),
    Column("action", String(50), nullable=False),
    Column("payload", LongText, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("creation_time", BigInteger, nullable=False),
    Column("next_attempt_time", BigInteger, nullable=True),
    Column("lease_until", BigInteger, nullable=True),
    Column("delivered_time", BigInteger, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Index("index_webhook_deliveries_due", "status", "next_attempt_time"),
    Index("index_webhook_deliveries_webhook", "webhook_id", "creation_time"),
)

webhook_delivery_attempts = Table(
    "webhook_delivery_attempts",
    metadata,
    Column("delivery_id", String(36), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    PrimaryKeyConstraint("delivery_id", "attempt", name="webhook_delivery_attempt_pk"),
)

# ---------------------------------------------------------------------------------------------- auth

users = Table(
    "auth_users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(255), nullable=False, unique=True),
    Column("password_hash", String(512), nullable=False),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("created_time", BigInteger, nullable=True),
)

api_tokens = Table(
    "auth_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("auth_users.id"), nullable=False),
    Column("name", String(255), nullable=True),
    Column("token_prefix", String(16), nullable=False),
    Column("token_hash", String(128), nullable=False, unique=True),
    Column("created_time", BigInteger, nullable=False),
    Column("expires_time", BigInteger, nullable=True),
    Column("revoked", Boolean, nullable=False, default=False),
)

experiment_permissions = Table(
    "auth_experiment_permissions",
    metadata,
    Column("experiment_id", String(64), nullable=False),
    Column("user_id", Integer, ForeignKey("auth_users.id"), nullable=False),
    Column("permission", String(32), nullable=False),
    PrimaryKeyConstraint("experiment_id", "user_id", name="auth_experiment_permission_pk"),
)

registered_model_permissions = Table(
    "auth_registered_model_permissions",
    metadata,
    Column("name", String(256), nullable=False),
    Column("user_id", Integer, ForeignKey("auth_users.id"), nullable=False),
    Column("permission", String(32), nullable=False),
    PrimaryKeyConstraint("name", "user_id", name="auth_registered_model_permission_pk"),
)

#: Server-wide authentication settings every server process reads (so replicas cannot disagree):
#: ``default_permission`` is the level users have on resources nobody granted them.
auth_settings = Table(
    "auth_settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(256), nullable=False),
)
