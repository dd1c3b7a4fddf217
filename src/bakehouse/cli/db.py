"""``bakehouse db``: database schema maintenance."""

from __future__ import annotations

import click

from bakehouse.cli import output
from bakehouse.cli.options import FullHelpGroup, resolve_store_uri, store_uri_file_option


@click.group("db", cls=FullHelpGroup)
def db_group() -> None:
    """Manage the tracking database schema."""


@db_group.command("upgrade")
@click.argument("url", metavar="[URI]", required=False)
@store_uri_file_option
def upgrade(url: str | None, store_uri_file: str | None) -> None:
    """Upgrade the schema of the database at URI to the latest version.

    Back up the database first: a migration cannot be undone. Example:
    bakehouse db upgrade sqlite:///bakehouse.db

    Without URI, the database is the server's: --backend-store-uri-file, BAKEHOUSE_BACKEND_STORE_URI or
    BAKEHOUSE_BACKEND_STORE_URI_FILE (so a password stays off the command line).
    """
    from bakehouse.store.db.engine import upgrade as run_upgrade  # SQLAlchemy + Alembic: only now

    url = resolve_store_uri(url, store_uri_file)
    if not url:
        raise click.UsageError(
            "Which database? Give its URI, --backend-store-uri-file, or set BAKEHOUSE_BACKEND_STORE_URI."
        )

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
