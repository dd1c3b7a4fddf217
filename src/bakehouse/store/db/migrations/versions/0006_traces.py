"""traces: trace info, tags, request metadata, spans, assessments and trace-run links

Revision ID: 0006_traces
Revises: 0005_auth_settings
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0006_traces"
down_revision = "0005_auth_settings"
branch_labels = None
depends_on = None


def _long_text() -> sa.types.TypeEngine[str]:
    return sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql")


def _trace_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["request_id"], ["trace_info.request_id"])


def upgrade() -> None:
    op.create_table(
        "trace_info",
        sa.Column("request_id", sa.String(length=50), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("execution_time_ms", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=50), nullable=False),
        sa.Column("client_request_id", sa.String(length=250), nullable=True),
        sa.Column("request_preview", sa.Text(), nullable=True),
        sa.Column("response_preview", sa.Text(), nullable=True),
        sa.Column("info_json", _long_text(), nullable=True),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.experiment_id"]),
        sa.PrimaryKeyConstraint("request_id"),
    )
    op.create_index(
        "index_trace_info_experiment_timestamp", "trace_info", ["experiment_id", "timestamp_ms"], unique=False
    )
    op.create_table(
        "trace_tags",
        sa.Column("request_id", sa.String(length=50), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", _long_text(), nullable=True),
        _trace_fk(),
        sa.PrimaryKeyConstraint("request_id", "key", name="trace_tag_pk"),
        sqlite_with_rowid=False,
    )
    op.create_index("index_trace_tags_key", "trace_tags", ["key"], unique=False)
    op.create_table(
        "trace_request_metadata",
        sa.Column("request_id", sa.String(length=50), nullable=False),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", _long_text(), nullable=True),
        _trace_fk(),
        sa.PrimaryKeyConstraint("request_id", "key", name="trace_request_metadata_pk"),
        sqlite_with_rowid=False,
    )
    op.create_index("index_trace_request_metadata_key", "trace_request_metadata", ["key"], unique=False)
    op.create_table(
        "spans",
        sa.Column("trace_id", sa.String(length=50), nullable=False),
        sa.Column("span_id", sa.String(length=16), nullable=False),
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("parent_span_id", sa.String(length=16), nullable=True),
        sa.Column("name", sa.String(length=500), nullable=True),
        sa.Column("type", sa.String(length=250), nullable=True),
        sa.Column("status", sa.String(length=50), nullable=False),
        sa.Column("start_time_unix_nano", sa.BigInteger(), nullable=False),
        sa.Column("end_time_unix_nano", sa.BigInteger(), nullable=True),
        sa.Column("content", _long_text(), nullable=False),
        sa.ForeignKeyConstraint(["trace_id"], ["trace_info.request_id"]),
        sa.PrimaryKeyConstraint("trace_id", "span_id", name="spans_pk"),
    )
    op.create_index("index_spans_experiment_name", "spans", ["experiment_id", "name"], unique=False)
    op.create_table(
        "assessments",
        sa.Column("assessment_id", sa.String(length=50), nullable=False),
        sa.Column("trace_id", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("assessment_type", sa.String(length=20), nullable=False),
        sa.Column("value", _long_text(), nullable=True),
        sa.Column("numeric_value", sa.Double(), nullable=True),
        sa.Column("payload", _long_text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("last_updated_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("source_type", sa.String(length=50), nullable=False),
        sa.Column("source_id", sa.String(length=250), nullable=True),
        sa.Column("span_id", sa.String(length=16), nullable=True),
        sa.Column("rationale", _long_text(), nullable=True),
        sa.Column("overrides", sa.String(length=50), nullable=True),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("assessment_metadata", _long_text(), nullable=True),
        sa.ForeignKeyConstraint(["trace_id"], ["trace_info.request_id"]),
        sa.PrimaryKeyConstraint("assessment_id"),
    )
    op.create_index("index_assessments_trace_name", "assessments", ["trace_id", "name"], unique=False)
    op.create_table(
        "trace_run_links",
        sa.Column("request_id", sa.String(length=50), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        _trace_fk(),
        sa.PrimaryKeyConstraint("request_id", "run_id", name="trace_run_link_pk"),
    )
    op.create_index("index_trace_run_links_run", "trace_run_links", ["run_id"], unique=False)


def downgrade() -> None:
    # Dropping a table drops its indexes (MySQL refuses to drop an index a foreign key still uses).
    for table in (
        "trace_run_links",
        "assessments",
        "spans",
        "trace_request_metadata",
        "trace_tags",
        "trace_info",
    ):
        op.drop_table(table)
