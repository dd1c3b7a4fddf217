"""Hot paths on the DB-API cursor itself: bulk reads of runs and metric histories, bulk metric inserts.

SQLAlchemy Core costs tens of microseconds per row (result objects, bind processing); for a page of 1,000
runs or a 100,000-point history that is most of the time. These few statements are plain SQL that every
supported dialect accepts, executed on the connection of the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection

_CHUNK = 900  # below SQLite's default limit of bound parameters per statement


def marker(conn: Connection) -> str:
    """The driver's placeholder: ``?`` for sqlite3, ``%s`` for psycopg and PyMySQL."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def fetch_all(conn: Connection, sql: str, params: Sequence[Any] = ()) -> Sequence[Any]:
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql, tuple(params))
        return cursor.fetchall()
    finally:
        cursor.close()


def fetch_in(
    conn: Connection,
    sql_prefix: str,
    values: Sequence[Any],
    sql_suffix: str = "",
    params_before: Sequence[Any] = (),
) -> list[tuple[Any, ...]]:
    """``<prefix> IN (?, ?, ...) <suffix>`` over ``values`` in chunks; rows of every chunk concatenated.

    ``params_before`` (bound ahead of each chunk) count against the statement's limit of parameters."""
    out: list[tuple[Any, ...]] = []
    mark = marker(conn)
    size = max(1, _CHUNK - len(params_before))
    for start in range(0, len(values), size):
        chunk = list(values[start : start + size])
        sql = f"{sql_prefix} IN ({', '.join([mark] * len(chunk))}) {sql_suffix}"
        out.extend(fetch_all(conn, sql, [*params_before, *chunk]))
    return out


def execute_many(conn: Connection, sql: str, rows: Iterable[Sequence[Any]]) -> None:
    cursor = conn.connection.cursor()
    try:
        cursor.executemany(sql, list(rows))
    finally:
        cursor.close()


def insert_ignore_sql(conn: Connection, table: str, columns: Sequence[str]) -> str:
    """An INSERT that skips rows whose primary key exists, in the dialect's spelling."""
    mark = marker(conn)
    values = ", ".join([mark] * len(columns))
    quote = conn.dialect.identifier_preparer.quote
    column_list = ", ".join(quote(c) for c in columns)
    name = conn.dialect.name
    if name == "sqlite":
        return f"INSERT OR IGNORE INTO {table} ({column_list}) VALUES ({values})"
    if name in ("mysql", "mariadb"):
        return f"INSERT IGNORE INTO {table} ({column_list}) VALUES ({values})"
    return f"INSERT INTO {table} ({column_list}) VALUES ({values}) ON CONFLICT DO NOTHING"


def upsert_sql(conn: Connection, table: str, columns: Sequence[str], keys: Sequence[str]) -> str:
    """An INSERT that overwrites the non-key ``columns`` of the row with the same primary key ``keys``, in
    the dialect's spelling (for ``execute_many`` with rows in ``columns`` order)."""
    mark = marker(conn)
    quote = conn.dialect.identifier_preparer.quote
    column_list = ", ".join(quote(c) for c in columns)
    values = ", ".join([mark] * len(columns))
    updated = [quote(c) for c in columns if c not in keys]
    insert = f"INSERT INTO {table} ({column_list}) VALUES ({values})"
    if conn.dialect.name in ("mysql", "mariadb"):
        return f"{insert} ON DUPLICATE KEY UPDATE " + ", ".join(f"{c} = VALUES({c})" for c in updated)
    conflict = ", ".join(quote(k) for k in keys)
    return f"{insert} ON CONFLICT ({conflict}) DO UPDATE SET " + ", ".join(
        f"{c} = excluded.{c}" for c in updated
    )


def columns(conn: Connection, *names: str) -> str:
    """Column names quoted as the dialect needs (``key`` is reserved in MySQL)."""
    quote = conn.dialect.identifier_preparer.quote
    return ", ".join(quote(n) for n in names)


def quoted(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)
