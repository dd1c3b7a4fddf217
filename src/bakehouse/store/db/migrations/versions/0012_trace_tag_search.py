"""trace tag search: trace tags carry their trace's experiment and time, and an indexed value prefix

``search_traces`` with ``tags.k = 'v'`` walked the experiment's traces newest first and probed each one's
tags: ~800 probes for a page of 100 when one trace in eight matches, every trace for a rare value. Each
``trace_tags`` row now also holds its trace's ``experiment_id`` and ``timestamp_ms`` and the first 100
characters of its value (``value_prefix``: the value itself is unbounded text, which no index takes on
MySQL and a PostgreSQL b-tree refuses past ~2.7 kB), and ``index_trace_tags_search`` on
(experiment, key, value prefix, time descending, trace id) gives the page of matches in order. Existing rows
are filled from ``trace_info`` here; the store keeps the copies up to date from then on. Trace metadata gets
the same value prefix, indexed with its key, so the traces of one run (``trace.run_id``, metadata
``mlflow.sourceRun``) are looked up instead of found by walking every trace of the experiment.

Revision ID: 0012_trace_tag_search
Revises: 0011_latest_metrics_experiment
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_trace_tag_search"
down_revision = "0011_latest_metrics_experiment"
branch_labels = None
depends_on = None

_PREFIX = 100  # schema.TRACE_TAG_PREFIX when this revision was written


def upgrade() -> None:
    with op.batch_alter_table("trace_tags") as batch:
        batch.add_column(
            sa.Column("experiment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch.add_column(sa.Column("timestamp_ms", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("value_prefix", sa.String(length=_PREFIX), nullable=True))
    op.execute(
        "UPDATE trace_tags SET "
        "experiment_id = (SELECT t.experiment_id FROM trace_info t WHERE t.request_id = trace_tags.request_id), "
        "timestamp_ms = (SELECT t.timestamp_ms FROM trace_info t WHERE t.request_id = trace_tags.request_id), "
        f"value_prefix = substr(value, 1, {_PREFIX})"
    )
    with op.batch_alter_table("trace_request_metadata") as batch:
        batch.add_column(sa.Column("value_prefix", sa.String(length=_PREFIX), nullable=True))
    op.execute(f"UPDATE trace_request_metadata SET value_prefix = substr(value, 1, {_PREFIX})")
    op.create_index(
        "index_trace_request_metadata_search",
        "trace_request_metadata",
        ["key", "value_prefix", "request_id"],
        unique=False,
    )
    op.create_index(
        "index_trace_tags_search",
        "trace_tags",
        ["experiment_id", "key", "value_prefix", sa.text("timestamp_ms DESC"), "request_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("index_trace_tags_search", table_name="trace_tags")
    op.drop_index("index_trace_request_metadata_search", table_name="trace_request_metadata")
    with op.batch_alter_table("trace_request_metadata", recreate="never") as batch:
        batch.drop_column("value_prefix")
    # SQLite drops the columns in place (no table copy, so the table stays WITHOUT ROWID)
    with op.batch_alter_table("trace_tags", recreate="never") as batch:
        batch.drop_column("value_prefix")
        batch.drop_column("timestamp_ms")
        batch.drop_column("experiment_id")
