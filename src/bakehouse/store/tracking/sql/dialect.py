"""The few statements that differ between SQL dialects: upserts (insert-or-ignore lives in ``raw.py``)."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Table, and_, or_


def upsert(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], update_columns: Sequence[str]
) -> None:
    """Insert rows or overwrite ``update_columns`` of the existing row with the same primary key."""
    if not rows:
        return
    keys = [c.name for c in table.primary_key.columns]
    name = conn.dialect.name
    if name in ("sqlite", "postgresql", "mysql", "mariadb"):
        conn.execute(_upsert_statement(name, table, tuple(update_columns)), rows)
    else:
        for row in rows:
            where = and_(*[table.c[k] == row[k] for k in keys])
            if conn.execute(table.select().where(where)).first() is None:
                conn.execute(table.insert(), row)
            else:
                conn.execute(table.update().where(where).values({c: row[c] for c in update_columns}))


def upsert_latest_metrics(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Keep ``latest_metrics`` at the point with the greatest (step, timestamp, value) per key.

    One statement on SQLite/PostgreSQL: the conditional ``ON CONFLICT DO UPDATE ... WHERE`` is atomic, so
    several servers writing the same run cannot lose the true latest point. ``rows`` holds one row per key.
    """
    if not rows:
        return
    name = conn.dialect.name
    if name in ("sqlite", "postgresql"):
        conn.execute(_latest_metrics_statement(name, table), rows)
        return
    # MySQL and others: read, compare, write inside the caller's transaction (rows locked FOR UPDATE).
    for row in rows:
        where = and_(table.c.run_uuid == row["run_uuid"], table.c.key == row["key"])
        current = conn.execute(table.select().where(where).with_for_update()).first()
        if current is None:
            conn.execute(table.insert(), row)
        elif (row["step"], row["timestamp"], row["value"]) > (current.step, current.timestamp, current.value):
            conn.execute(
                table.update()
                .where(where)
                .values({c: row[c] for c in ("timestamp", "step", "value", "value_kind")})
            )


def _dialect_module(name: str) -> Any:
    """SQLAlchemy's module for one dialect (already imported by the engine that uses it).

    Importing all three up front cost every SQLite process ~80 ms for PostgreSQL's dialect and its drivers'.
    """
    return importlib.import_module(f"sqlalchemy.dialects.{name}")


# Statements are built once per (dialect, table): building an upsert's ``excluded`` columns is a noticeable
# part of a single log_metric call, and the statement does not depend on the rows.
@lru_cache(maxsize=64)
def _upsert_statement(dialect: str, table: Table, update_columns: tuple[str, ...]) -> Any:
    keys = [c.name for c in table.primary_key.columns]
    if dialect in ("mysql", "mariadb"):
        stmt = _dialect_module("mysql").insert(table)
        return stmt.on_duplicate_key_update({c: stmt.inserted[c] for c in update_columns})
    stmt = _dialect_module(dialect).insert(table)
    return stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in update_columns})


@lru_cache(maxsize=8)
def _latest_metrics_statement(dialect: str, table: Table) -> Any:
    stmt = _dialect_module(dialect).insert(table)
    new = stmt.excluded
    newer = or_(
        new.step > table.c.step,
        and_(new.step == table.c.step, new.timestamp > table.c.timestamp),
        and_(new.step == table.c.step, new.timestamp == table.c.timestamp, new.value > table.c.value),
    )
    return stmt.on_conflict_do_update(
        index_elements=["run_uuid", "key"],
        set_={c: new[c] for c in ("timestamp", "step", "value", "value_kind")},
        where=newer,
    )
