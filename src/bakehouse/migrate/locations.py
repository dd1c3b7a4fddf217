"""Which source or destination a ``--from`` / ``--to`` argument names."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bakehouse.errors import InvalidParameterError
from bakehouse.migrate.errors import MigrationError
from bakehouse.migrate.sources.base import Source

_SQL_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mariadb")
_DB_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def redact(uri: str) -> str:
    """The URI with any password replaced (for messages and reports)."""
    scheme, sep, rest = uri.partition("://")
    if not sep or "@" not in rest:
        return uri
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else uri


def _scheme(uri: str) -> str:
    return urlparse(uri).scheme.split("+", 1)[0].lower()


def _as_local_path(spec: str) -> Path | None:
    if _scheme(spec) == "file":
        return Path(urlparse(spec).path)
    if _scheme(spec) in ("",) or (len(_scheme(spec)) == 1 and Path(spec).drive):
        return Path(spec).expanduser()
    return None


def open_source(spec: str, artifacts_destination: str | None = None) -> Source:
    """``http(s)://`` a server; ``sqlite:///``, ``postgresql://``, ``mysql://`` a database; a directory an
    MLflow file store; a ``*.db`` file a SQLite database."""
    scheme = _scheme(spec)
    description = redact(spec)
    if scheme in ("http", "https"):
        from bakehouse.migrate.sources.rest import RestSource  # HTTP client: only when a server is the source

        return RestSource(spec, description)
    if scheme in _SQL_SCHEMES:
        from bakehouse.migrate.sources.sql import SqlSource

        return SqlSource(spec, description, artifacts_destination)
    path = _as_local_path(spec)
    if path is None:
        raise InvalidParameterError(
            f"Unsupported source {spec!r}: expected a database URI (sqlite:///, postgresql://, mysql://), an "
            "MLflow file store directory (./mlruns) or a tracking server URL (http://...)"
        )
    if path.is_dir():
        from bakehouse.migrate.sources.files import FileStoreSource

        return FileStoreSource(path, description, artifacts_destination)
    if path.suffix in _DB_SUFFIXES and path.is_file():
        from bakehouse.migrate.sources.sql import SqlSource

        return SqlSource("sqlite:///" + str(path.resolve()), description, artifacts_destination)
    raise InvalidParameterError(f"No MLflow store at {spec!r}: no such directory or database file")


def destination_uri(spec: str) -> str:
    """A bare ``*.db`` path means SQLite (as for --tracking-uri)."""
    path = _as_local_path(spec)
    if path is not None:
        if path.suffix in _DB_SUFFIXES:
            return "sqlite:///" + str(path.resolve())
        raise InvalidParameterError(
            f"Unsupported destination {spec!r}: expected a Bakehouse tracking URI (sqlite:///bakehouse.db, "
            "postgresql://..., mysql://...) or a server URL (http://...)"
        )
    return spec


def server_kind(url: str) -> str:
    """ "bakehouse" or "mlflow": who answers at ``url`` (Bakehouse says so in its server-info)."""
    from bakehouse.wire.transport import HttpTransport  # HTTP client: only for server destinations

    transport = HttpTransport(url)
    try:
        info: dict[str, Any] = transport.call("GET", "/api/3.0/mlflow/server-info", {})
    except Exception:  # noqa: BLE001 - an older MLflow has no server-info: still an MLflow server
        info = {}
    finally:
        transport.close()
    return "bakehouse" if info.get("server") == "bakehouse" else "mlflow"


def refuse_mlflow_database(uri: str) -> None:
    """Writing Bakehouse tables into an MLflow database would corrupt it: say so before touching it."""
    from sqlalchemy import inspect

    from bakehouse.migrate.sources.sql import open_readonly_engine

    try:
        engine = open_readonly_engine(uri)
    except Exception:  # noqa: BLE001 - a database that does not exist yet is fine: it will be created
        return
    try:
        with engine.connect() as conn:
            names = set(inspect(conn).get_table_names())
            columns = (
                {c["name"] for c in inspect(conn).get_columns("metrics")} if "metrics" in names else set()
            )
    finally:
        engine.dispose()
    if "is_nan" in columns:
        raise MigrationError(
            f"The destination {redact(uri)} is an MLflow database; migrate into a Bakehouse database instead "
            "(a new sqlite:///bakehouse.db, or an empty PostgreSQL/MySQL database)"
        )
