"""Alembic environment: runs on the connection handed over by ``bakehouse.store.db.engine.upgrade``.

SQLite needs batch mode (copy-and-move) for most ALTERs; it is on for every dialect so one chain works
everywhere.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from alembic import context
from alembic.runtime.migration import MigrationContext, MigrationInfo

from bakehouse.errors import InvalidParameterError
from bakehouse.store.db.schema import metadata

config = context.config
connection = config.attributes.get("connection")
progress = config.attributes.get("progress")


def _on_version_apply(
    ctx: MigrationContext, step: MigrationInfo, heads: Collection[Any], run_args: Mapping[str, Any]
) -> None:
    if progress:
        progress(f"Applied migration {step.up_revision_id}")


if connection is None:
    from sqlalchemy import create_engine

    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise InvalidParameterError("No database to migrate: set sqlalchemy.url in the Alembic configuration")
    engine = create_engine(url)
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        context.run_migrations()
else:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        on_version_apply=_on_version_apply,
    )
    context.run_migrations()
