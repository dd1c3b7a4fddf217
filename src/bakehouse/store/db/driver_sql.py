"""A SELECT compiled once into its driver's own SQL, then run on a pooled DB-API connection.

SQLAlchemy's execution of a statement, even one it has cached, costs ~0.15 ms of Python a call (the cache
key, a ``Connection`` and its transaction, the result objects); for a read whose SQL takes ~0.05 ms (a
search page read off an index) that is most of the call. A :class:`DriverStatement` keeps the text
SQLAlchemy compiled for the dialect and the values bound in it; each call fills in only the values named
as varying (a page's limit and offset) and hands the text to the driver's cursor. The statement must be
a single SELECT: it runs in the connection's own transaction (autocommit on SQLite, the driver's implicit
one elsewhere, rolled back when the connection goes back to the pool).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect, Engine, Select


@dataclass(frozen=True)
class DriverStatement:
    """A compiled SELECT: the driver's SQL text and how to build its parameters."""

    sql: str
    #: parameter names in placeholder order (qmark/format styles), None for named styles (pyformat)
    order: tuple[str, ...] | None
    #: every bound value but the varying ones, already through their types' bind processors
    fixed: Mapping[str, Any]
    #: bind processors of the varying values that have one
    processors: Mapping[str, Callable[[Any], Any]]

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        params = dict(self.fixed)
        for name, value in values.items():
            process = self.processors.get(name)
            params[name] = process(value) if process is not None else value
        if self.order is None:
            return params
        return tuple(params[name] for name in self.order)


def compile_statement(
    statement: Select[Any], dialect: Dialect, varying: Mapping[str, Any]
) -> DriverStatement:
    """``statement`` compiled for ``dialect``; ``varying`` names the bound parameters given per call (with
    sample values, used only to compile: expanding ``IN`` lists are rendered from the statement's own)."""
    expanded = statement.compile(dialect=dialect).construct_expanded_state(dict(varying))
    processors: dict[str, Callable[[Any], Any]] = dict(expanded.processors)
    fixed = {
        name: (processors[name](value) if name in processors else value)
        for name, value in expanded.parameters.items()
        if name not in varying
    }
    return DriverStatement(
        sql=expanded.statement,
        order=tuple(expanded.positiontup) if expanded.positiontup is not None else None,
        fixed=fixed,
        processors={name: p for name, p in processors.items() if name in varying},
    )


def fetch_rows(engine: Engine, statement: DriverStatement, values: Mapping[str, Any]) -> list[Any]:
    """The rows of ``statement`` with ``values``, read on a connection from ``engine``'s pool."""
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        try:
            cursor.execute(statement.sql, statement.parameters(values))
            return list(cursor.fetchall())
        finally:
            cursor.close()
    finally:
        connection.close()
