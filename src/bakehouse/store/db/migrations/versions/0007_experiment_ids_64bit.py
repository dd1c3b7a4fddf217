"""experiment ids are 64-bit

MLflow's file store names experiments with random 63-bit integers (``478401539429613433``); keeping those ids
when a team's ``./mlruns`` moves in needs a 64-bit column. SQLite's INTEGER already is: nothing changes there.
PostgreSQL and MySQL widen ``experiments.experiment_id`` and every column that refers to it; the foreign keys
are dropped around the change (MySQL refuses to alter a referenced column) and put back as they were.

Revision ID: 0007_experiment_ids_64bit
Revises: 0006_traces
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_experiment_ids_64bit"
down_revision = "0006_traces"
branch_labels = None
depends_on = None

_REFERRING = ("datasets", "experiment_tags", "logged_models", "runs", "trace_info", "spans")


def _foreign_keys() -> list[tuple[str, str]]:
    """(table, constraint name) of every foreign key that points at experiments.experiment_id."""
    inspector = sa.inspect(op.get_bind())
    found = []
    for table in _REFERRING:
        for fk in inspector.get_foreign_keys(table):
            name = fk.get("name")
            if fk["referred_table"] == "experiments" and name:
                found.append((table, name))
    return found


def _retype(new_type: sa.types.TypeEngine[int], old_type: sa.types.TypeEngine[int]) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        return  # INTEGER is 64-bit on SQLite; the declared type is Integer there (rowid alias)
    fks = _foreign_keys()
    for table, name in fks:
        op.drop_constraint(name, table, type_="foreignkey")
    keep_autoincrement = bind.dialect.name != "postgresql"  # MySQL's AUTO_INCREMENT is part of the type
    op.alter_column(
        "experiments",
        "experiment_id",
        type_=new_type,
        existing_type=old_type,
        existing_nullable=False,
        autoincrement=keep_autoincrement or None,
        existing_autoincrement=keep_autoincrement or None,
    )
    if bind.dialect.name == "postgresql":
        sequence = bind.execute(
            sa.text("SELECT pg_get_serial_sequence('experiments', 'experiment_id')")
        ).scalar()
        if sequence:
            op.execute(
                f"ALTER SEQUENCE {sequence} AS {'bigint' if isinstance(new_type, sa.BigInteger) else 'integer'}"
            )
    for table in _REFERRING:
        op.alter_column(
            table, "experiment_id", type_=new_type, existing_type=old_type, existing_nullable=False
        )
    for table, name in fks:
        op.create_foreign_key(name, table, "experiments", ["experiment_id"], ["experiment_id"])


def upgrade() -> None:
    _retype(sa.BigInteger(), sa.Integer())


def downgrade() -> None:
    _retype(sa.Integer(), sa.BigInteger())
