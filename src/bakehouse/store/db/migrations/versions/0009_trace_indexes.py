"""trace indexes: covering indexes for the default trace search order and for a status filter

``search_traces`` answers newest first (``timestamp_ms DESC, request_id``) within an experiment. With
the request id in the index and the time descending, a page is read straight off the index, in order,
without a sort or a visit to the wide ``trace_info`` rows; the second index does the same for a filter
on the trace's status.

Revision ID: 0009_trace_indexes
Revises: 0008_webhooks
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_trace_indexes"
down_revision = "0008_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "index_trace_info_experiment_time_id",
        "trace_info",
        ["experiment_id", sa.text("timestamp_ms DESC"), "request_id"],
        unique=False,
    )
    op.create_index(
        "index_trace_info_experiment_status_time_id",
        "trace_info",
        ["experiment_id", "status", sa.text("timestamp_ms DESC"), "request_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("index_trace_info_experiment_status_time_id", table_name="trace_info")
    op.drop_index("index_trace_info_experiment_time_id", table_name="trace_info")
