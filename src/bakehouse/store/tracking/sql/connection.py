"""Shared plumbing of the SQL store: the engine, read and write transactions, artifact locations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

from sqlalchemy import Connection, Engine

from bakehouse.errors import InvalidParameterError
from bakehouse.store.db.engine import ensure_schema, get_engine, is_sqlite
from bakehouse.store.db.transactions import write_transaction
from bakehouse.uri import is_local_uri


def local_path_of(uri: str) -> Path:
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(parsed.path)
    return Path(uri)


def append_to_uri(base: str, *parts: str) -> str:
    """Join path segments onto an artifact location, local path or URI alike."""
    if is_local_uri(base) and not base.startswith("file:"):
        return str(Path(base).joinpath(*parts))
    return base.rstrip("/") + "/" + "/".join(p.strip("/") for p in parts)


class SqlConnection:
    """Owns the engine and hands out transactions; SQLite writes take the lock up front."""

    def __init__(
        self, db_uri: str, default_artifact_root: str, restrict_artifact_locations: bool = False
    ) -> None:
        self.db_uri = db_uri
        self.engine: Engine = get_engine(db_uri)
        ensure_schema(self.engine)
        if is_local_uri(default_artifact_root) and not default_artifact_root.startswith("file:"):
            default_artifact_root = str(Path(default_artifact_root).expanduser().resolve())
        self.default_artifact_root = default_artifact_root
        self.restrict_artifact_locations = restrict_artifact_locations

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with write_transaction(self.engine) as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def check_artifact_location(self, location: str) -> str:
        """A user-given experiment location; on a server, a local one must stay inside the artifact root."""
        if not isinstance(location, str) or not location.strip():
            raise InvalidParameterError("artifact_location must be a non-empty string")
        if "\x00" in location:
            raise InvalidParameterError("artifact_location must not contain NUL characters")
        if not self.restrict_artifact_locations or not is_local_uri(location):
            return location
        root = self.default_artifact_root
        if not is_local_uri(root):
            raise InvalidParameterError(
                f"artifact_location {location!r} is a local path, but this server stores artifacts at {root!r}"
            )
        target = local_path_of(location).expanduser().resolve()
        root_path = local_path_of(root).resolve()
        if target != root_path and root_path not in target.parents:
            raise InvalidParameterError(
                f"artifact_location {location!r} is outside the server's artifact root {str(root_path)!r}"
            )
        return str(target)

    @property
    def sqlite(self) -> bool:
        return is_sqlite(self.engine)
