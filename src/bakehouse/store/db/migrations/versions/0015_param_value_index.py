"""param value index: a search's ``params.X = 'v'`` and the UI's run counts read an index range

``params`` had an index on ``key`` alone, so ``params.lr = '0.01'`` read every ``lr`` row of every run (10^6
at a million runs) and a filtered run count probed every run of the experiment (~9 s). Two indexes:

* ``index_params_key_value`` on (key, value, run_uuid): the runs holding one value of a param are an index
  range (the count of a filter with such an equality is driven from it), and checking one run's value is
  one seek of the covering index. Values are unbounded (``LongText``), more than a b-tree entry may hold on
  PostgreSQL (~2.7 kB) and MySQL (3 kB): PostgreSQL indexes the values of up to 1,000 bytes (a partial
  index; the filter adds the same condition when its literal is that short), MySQL the first 255
  characters (a prefix index, which MySQL uses for an equality on the whole value by itself).
* ``index_runs_experiment_stage`` on (experiment, lifecycle stage): the UI's unfiltered run count reads a
  range of narrow entries instead of the four-column search index.

Revision ID: 0015_param_value_index
Revises: 0014_metric_step_index
"""

from alembic import op
from sqlalchemy import text

revision = "0015_param_value_index"
down_revision = "0014_metric_step_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "index_params_key_value",
        "params",
        ["key", "value", "run_uuid"],
        unique=False,
        mysql_length={"value": 255},
        postgresql_where=text("octet_length(value) <= 1000"),
    )
    op.create_index("index_runs_experiment_stage", "runs", ["experiment_id", "lifecycle_stage"], unique=False)


def downgrade() -> None:
    op.drop_index("index_runs_experiment_stage", table_name="runs")
    op.drop_index("index_params_key_value", table_name="params")
