"""Shared plumbing of the SQL store: the engine, read and write transactions, artifact locations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine

from bakehouse.errors import InvalidParameterError
from bakehouse.store.db.engine import ensure_schema, get_engine, is_sqlite
from bakehouse.store.db.transactions import write_transaction
from bakehouse.uri import is_local_uri


def append_to_uri(base: str, *parts: str) -> str:
    """Join path segments onto an artifact location, local path or URI alike."""
    if is_local_uri(base) and not base.startswith("file:"):
        return str(Path(base).joinpath(*parts))
    return base.rstrip("/") + "/" + "/".join(p.strip("/") for p in parts)


class SqlConnection:
    """Owns the engine and hands out transactions; SQLite writes take the lock up front."""

    def __init__(self, db_uri: str, default_artifact_root: str) -> None:
        self.db_uri = db_uri
        self.engine: Engine = get_engine(db_uri)
        ensure_schema(self.engine)
        if is_local_uri(default_artifact_root) and not default_artifact_root.startswith("file:"):
            default_artifact_root = str(Path(default_artifact_root).expanduser().resolve())
        self.default_artifact_root = default_artifact_root

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with write_transaction(self.engine) as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def check_artifact_location(self, location: str) -> str:
        """A user-given experiment location. Where it may point is the server's policy
        (``bakehouse.server.artifact_access``); a store used directly takes any location its user gives."""
        if not isinstance(location, str) or not location.strip():
            raise InvalidParameterError("artifact_location must be a non-empty string")
        if "\x00" in location:
            raise InvalidParameterError("artifact_location must not contain NUL characters")
        return location

    @property
    def sqlite(self) -> bool:
        return is_sqlite(self.engine)
