"""run search index: the runs index of an experiment's search also holds the run id

``index_runs_experiment_stage_start`` (experiment, lifecycle stage, start time) becomes
``index_runs_experiment_stage_start_id`` with the run id appended. A search ordered by one metric ends by
walking every run of the experiment in start-time order to find those without the metric; with the id in
the index that walk no longer visits each wide ``runs`` row (SQLite and PostgreSQL; MySQL's secondary
indexes hold the primary key already). The new index is created before the old one is dropped: MySQL needs
an index that starts with ``experiment_id`` for the foreign key at every moment.

Revision ID: 0010_run_search_index
Revises: 0009_trace_indexes
"""

from alembic import op

revision = "0010_run_search_index"
down_revision = "0009_trace_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "index_runs_experiment_stage_start_id",
        "runs",
        ["experiment_id", "lifecycle_stage", "start_time", "run_uuid"],
        unique=False,
    )
    op.drop_index("index_runs_experiment_stage_start", table_name="runs")


def downgrade() -> None:
    op.create_index(
        "index_runs_experiment_stage_start",
        "runs",
        ["experiment_id", "lifecycle_stage", "start_time"],
        unique=False,
    )
    op.drop_index("index_runs_experiment_stage_start_id", table_name="runs")
