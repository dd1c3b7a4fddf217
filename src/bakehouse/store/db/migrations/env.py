"""Alembic environment: runs on the connection handed over by ``bakehouse.store.db.engine.upgrade``.

SQLite needs batch mode (copy-and-move) for most ALTERs; it is on for every dialect so one chain works
everywhere.
"""

from __future__ import annotations

from alembic import context

from bakehouse.store.db.schema import metadata

config = context.config
connection = config.attributes.get("connection")
progress = config.attributes.get("progress")


def _on_version_apply(ctx, step, heads, run_args):  # type: ignore[no-untyped-def]
    if progress:
        progress(f"Applied migration {step.up_revision_id}")


if connection is None:
    from sqlalchemy import create_engine

    engine = create_engine(config.get_main_option("sqlalchemy.url"))
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
