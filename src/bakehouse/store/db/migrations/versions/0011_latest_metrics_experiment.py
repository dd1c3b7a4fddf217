"""latest metrics carry their run's experiment

``latest_metrics`` gains ``experiment_id`` (the run's; a run never changes experiment), filled from
``runs``, and ``index_latest_metrics_key_value`` (key, value) becomes
``index_latest_metrics_experiment_key_value`` (experiment, key, value). A search ordered by one metric then
walks the metric of its own experiment only, in value order, and can count the experiment's runs that hold
the metric from the index alone: when that count equals the experiment's run count, no run lacks the
metric and the walk over runs without it (a scan of every run) is skipped.

Revision ID: 0011_latest_metrics_experiment
Revises: 0010_run_search_index
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_latest_metrics_experiment"
down_revision = "0010_run_search_index"
branch_labels = None
depends_on = None

_EXPERIMENT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_BACKFILL = {
    "postgresql": (
        "UPDATE latest_metrics SET experiment_id = runs.experiment_id FROM runs "
        "WHERE runs.run_uuid = latest_metrics.run_uuid"
    ),
    "mysql": (
        "UPDATE latest_metrics JOIN runs ON runs.run_uuid = latest_metrics.run_uuid "
        "SET latest_metrics.experiment_id = runs.experiment_id"
    ),
}
_BACKFILL["mariadb"] = _BACKFILL["mysql"]
_BACKFILL_PORTABLE = (
    "UPDATE latest_metrics SET experiment_id = "
    "(SELECT runs.experiment_id FROM runs WHERE runs.run_uuid = latest_metrics.run_uuid)"
)


def upgrade() -> None:
    bind = op.get_bind()
    op.add_column("latest_metrics", sa.Column("experiment_id", _EXPERIMENT_ID, nullable=True))
    op.execute(_BACKFILL.get(bind.dialect.name, _BACKFILL_PORTABLE))
    with op.batch_alter_table("latest_metrics") as batch:
        batch.alter_column("experiment_id", existing_type=_EXPERIMENT_ID, nullable=False)
        batch.create_index(
            "index_latest_metrics_experiment_key_value", ["experiment_id", "key", "value"], unique=False
        )
        batch.drop_index("index_latest_metrics_key_value")


def downgrade() -> None:
    with op.batch_alter_table("latest_metrics") as batch:
        batch.create_index("index_latest_metrics_key_value", ["key", "value"], unique=False)
        batch.drop_index("index_latest_metrics_experiment_key_value")
        batch.drop_column("experiment_id")
