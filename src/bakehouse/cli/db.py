"""``bakehouse db``: database schema maintenance."""

from __future__ import annotations

import click

from bakehouse.cli import output
from bakehouse.cli.options import FullHelpGroup


@click.group("db", cls=FullHelpGroup)
def db_group() -> None:
    """Manage the tracking database schema."""


@db_group.command("upgrade")
@click.argument("url", metavar="URI")
def upgrade(url: str) -> None:
    """Upgrade the schema of the database at URI to the latest version.

    Back up the database first: a migration cannot be undone. Example:
    bakehouse db upgrade sqlite:///bakehouse.db
    """
    from bakehouse.store.db.engine import upgrade as run_upgrade  # SQLAlchemy + Alembic: only now

    def progress(*args: object, **_kwargs: object) -> None:
        output.info("  " + " ".join(str(a) for a in args))

    output.info(f"Upgrading {_redact(url)}")
    revision = run_upgrade(url, progress=progress)
    output.success(f"Database schema is up to date (revision {revision})")


def _redact(url: str) -> str:
    """Hide a password in ``scheme://user:password@host``."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
