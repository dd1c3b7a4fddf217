"""metric step index: a chart's sampled history is found by index seeks on the step

``get-history-bulk-interval`` (what a chart asks) sampled a history by reading every distinct step of it:
~10 s for a 10,000,000-point history. ``index_metrics_step_seek`` on (run, key, step, timestamp, value,
value_kind) lets the sampler seek the first point at or after each bucket's step (one seek per point
returned). On SQLite (metrics is WITHOUT ROWID) the index holds the same columns whichever are named: a
secondary index there always carries the rest of the primary key.

Revision ID: 0014_metric_step_index
Revises: 0012_trace_tag_search
"""

from alembic import op

revision = "0014_metric_step_index"
down_revision = "0012_trace_tag_search"
branch_labels = None
depends_on = None

_COLUMNS = ["run_uuid", "key", "step", "timestamp", "value", "value_kind"]


def upgrade() -> None:
    op.create_index("index_metrics_step_seek", "metrics", _COLUMNS, unique=False)


def downgrade() -> None:
    op.drop_index("index_metrics_step_seek", table_name="metrics")
