"""auth settings shared by every server: the default permission moves from a per-process flag to a row

``bakehouse server --auth-default-permission`` was read by each process, so replicas started with different
flags disagreed about what an ungranted user may do. The value now lives in ``auth_settings``; servers read
it from there (and a flag given at start writes it).

Revision ID: 0005_auth_settings
Revises: 0004_metrics_clustered
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_auth_settings"
down_revision = "0004_metrics_clustered"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_settings",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("auth_settings")
