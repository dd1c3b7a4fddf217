"""metric blocks: a packed read copy of long metric histories

``metric_blocks`` holds, per (run, key), consecutive blocks of a history's points in the order a history is
returned (timestamp, step, value, value kind), each a payload of little-endian (int64 step, int64
timestamp, float64 value) records with its point count and its first and last sort keys (the stored value
stand-in and kind, as in ``metrics``). The ``metrics`` rows stay the only source of truth: a streamed
history uses the blocks only when a count proves they hold exactly the rows up to the last sealed key
(``store/tracking/sql/metric_blocks.py``); every other reader ignores them. Deleting a run deletes them
(the foreign key cascades where foreign keys are enforced; the store deletes them itself as well).

SQLite also gets a trigger on ``metrics``: a point written at or before a history's last sealed point
deletes the blocks from the one it falls into onwards, so a stream trusts the blocks left without counting
the history (1.5-2 s at 10^7 points, loaded machine). PostgreSQL and MySQL count instead: a per-row
trigger on PostgreSQL made logging 35-45% slower, too much for a team server's write path. A migration
that rebuilds ``metrics`` on SQLite (as 0004 did) drops the trigger with the table and must create it
again.

Revision ID: 0017_metric_blocks
Revises: 0016_run_walk_indexes
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

# the trigger as it stood at this revision (a later change of it gets a revision of its own)
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
revision = "0017_metric_blocks"
down_revision = "0016_run_walk_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_blocks",
        sa.Column("run_uuid", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("block_no", sa.Integer(), nullable=False),
        sa.Column("n_points", sa.Integer(), nullable=False),
        sa.Column("first_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("first_step", sa.BigInteger(), nullable=False),
        sa.Column("first_value", sa.Double(), nullable=False),
        sa.Column("first_kind", sa.SmallInteger(), nullable=False),
        sa.Column("last_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("last_step", sa.BigInteger(), nullable=False),
        sa.Column("last_value", sa.Double(), nullable=False),
        sa.Column("last_kind", sa.SmallInteger(), nullable=False),
        sa.Column("payload", sa.LargeBinary().with_variant(mysql.LONGBLOB(), "mysql"), nullable=False),
        sa.ForeignKeyConstraint(["run_uuid"], ["runs.run_uuid"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_uuid", "key", "block_no", name="metric_block_pk"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # packed doubles do not compress: store them out of line as they are, never pglz-compressed
        op.execute("ALTER TABLE metric_blocks ALTER COLUMN payload SET STORAGE EXTERNAL")
    op.create_index("index_metric_blocks_last", "metric_blocks", ["run_uuid", "key", "last_timestamp"])
    if op.get_bind().dialect.name == "sqlite":
        op.execute(SQLITE_UNSEAL_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS metric_blocks_unseal")
    op.drop_index("index_metric_blocks_last", table_name="metric_blocks")
    op.drop_table("metric_blocks")
