"""Write transactions shared by every SQL store (tracking, registry, users)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, CursorResult, Engine
from sqlalchemy.exc import DataError, DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from bakehouse.errors import BakehouseError, InvalidParameterError, TemporarilyUnavailableError
from bakehouse.store.db.engine import WRITE


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A write transaction whose database refusals a user can act on become Bakehouse errors.

    Every value is validated before it is written; a DataError (a value longer than its column, a number out
    of range) is the safety net for one that was missed: the transaction is rolled back and the client gets a
    400 naming the problem in the driver's words, never a 500."""
    try:
        with engine.connect().execution_options(**{WRITE: True}) as conn, conn.begin():
            yield conn
    except OperationalError as exc:
        if "database is locked" in str(exc):
            raise TemporarilyUnavailableError(
                "The database is busy (locked by another writer for too long); try again"
            ) from exc
        raise
    except DataError as exc:
        reason = " ".join(str(exc.orig).split()) if exc.orig is not None else "invalid value"
        raise InvalidParameterError(f"A value does not fit the database: {reason}") from exc


def inserted_id(result: CursorResult[Any]) -> int:
    """The integer primary key of the one row an INSERT wrote (SQLAlchemy types it as optional)."""
    key = result.inserted_primary_key
    if key is None:
        raise BakehouseError("The database reported no key for the row just written")
    return int(key[0])


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database could not be reached or dropped the connection (down, restarting,
    a failover, an exhausted pool), as opposed to a refused statement: worth retrying, never a bug."""
    if isinstance(exc, (DisconnectionError, PoolTimeoutError)):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return False
    if type(exc.orig).__module__ == "sqlite3":  # a local file: "no such table" and the like are not outages
        return any(words in str(exc.orig) for words in ("locked", "unable to open", "disk I/O"))
    return True
