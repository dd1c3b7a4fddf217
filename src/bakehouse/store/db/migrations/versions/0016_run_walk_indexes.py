"""run walk indexes: a search ordered by a metric reads its walk and its runs from covering indexes

A filtered search ordered by ``metrics.X`` walks ``latest_metrics`` of the experiment along (experiment,
key, value) and tests each row's run: at a million runs ``metrics.m0 > 0.5 and params.p1 = 'v3'`` by
``metrics.m2 DESC`` walks ~6,000 rows for a page. Each row needed the table row too (its run id and value
kind are not in that index), and each run that passed the filter its ``runs`` row (experiment, stage, start
time) by the primary key and then the table. Two indexes hold what the walk reads:

* ``index_latest_metrics_experiment_key_value_run`` on (experiment, key, value, value_kind, run_uuid),
  instead of (experiment, key, value): the walk, the metric ranges and the counts of runs holding a metric
  read the index alone;
* ``index_runs_id_experiment_stage_start`` on (run_uuid, experiment, lifecycle stage, start time): the
  run's part of the test and its start time (the tie order) are one seek of an index;
* ``index_latest_metrics_run_key_value`` on (run_uuid, key, value, value_kind): a metric comparison of the
  filter (``metrics.m0 > 0.5``) is one seek of an index for each run tested, not the primary key's
  index and then the table row.

Revision ID: 0016_run_walk_indexes
Revises: 0015_param_value_index
"""

from alembic import op

revision = "0016_run_walk_indexes"
down_revision = "0015_param_value_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "index_latest_metrics_experiment_key_value_run",
        "latest_metrics",
        ["experiment_id", "key", "value", "value_kind", "run_uuid"],
        unique=False,
    )
    op.drop_index("index_latest_metrics_experiment_key_value", table_name="latest_metrics")
    op.create_index(
        "index_runs_id_experiment_stage_start",
        "runs",
        ["run_uuid", "experiment_id", "lifecycle_stage", "start_time"],
        unique=False,
    )
    op.create_index(
        "index_latest_metrics_run_key_value",
        "latest_metrics",
        ["run_uuid", "key", "value", "value_kind"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("index_latest_metrics_run_key_value", table_name="latest_metrics")
    op.drop_index("index_runs_id_experiment_stage_start", table_name="runs")
    op.create_index(
        "index_latest_metrics_experiment_key_value",
        "latest_metrics",
        ["experiment_id", "key", "value"],
        unique=False,
    )
    op.drop_index("index_latest_metrics_experiment_key_value_run", table_name="latest_metrics")
