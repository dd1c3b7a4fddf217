"""Search queries for every entity: a parsed filter (``store.search``) -> one SQLAlchemy Core ``Select``.

Each builder returns a ``Select`` of primary keys, already filtered, ordered, offset and limited, so the
store runs one cheap query and then loads only one page of rows.

Shape of the run query (the hot one)::

    SELECT runs.run_uuid FROM runs
      LEFT OUTER JOIN latest_metrics AS order_1 ON order_1.run_uuid = runs.run_uuid AND order_1.key = ?
    WHERE runs.experiment_id IN (...) AND runs.lifecycle_stage IN (...)
      AND EXISTS (SELECT 1 FROM latest_metrics WHERE run_uuid = runs.run_uuid AND key = ? AND value > ? ...)
    ORDER BY <missing/NaN last>, order_1.value DESC, runs.start_time DESC, runs.run_uuid LIMIT ? OFFSET ?

Every comparison on a metric/param/tag is an ``EXISTS`` on the run's own rows, so ``OR`` composes, ``!=``
never matches a run that lacks the key, and ``IS NULL`` is ``NOT EXISTS``. The correlated lookups hit the
(run_uuid, key) primary keys. Sorting on a key is a LEFT OUTER JOIN of an aliased table per order key;
missing values sort last in both directions via a CASE (portable: MySQL has no NULLS LAST).

Metric values follow ``schema.py``: ``value_kind`` 0 finite, 1 NaN, 2 +inf, 3 -inf; ``value`` holds 0 for
NaN and +/-DBL_MAX for infinities. As in IEEE arithmetic and MLflow, a NaN matches ``!=`` and no other
comparison; infinities compare as infinities.

``LIKE`` is case-sensitive on every database: a small dialect-compiled construct renders ``GLOB`` on SQLite
(with the pattern translated exactly), ``LIKE`` on PostgreSQL and a ``BINARY`` comparison on MySQL. In every
dialect ``%`` and ``_`` are the only wildcards and every other character (backslash included) is literal,
as in MLflow's file store. ``ILIKE`` is ``lower(x) LIKE lower(pattern)`` everywhere.
"""

from __future__ import annotations

import functools
import math
import operator
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Double,
    Select,
    String,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from bakehouse.entities import LifecycleStage
from bakehouse.entities.lifecycle import ViewType
from bakehouse.errors import InvalidParameterError
from bakehouse.store.db import schema as s
from bakehouse.store.search import (
    ATTRIBUTE,
    DATASET,
    METRIC,
    PARAM,
    TAG,
    And,
    Comparison,
    Node,
    OrderKey,
    Value,
    comparisons,
    parse_filter,
    parse_logged_model_order_by,
    parse_order_by,
)

__all__ = [
    "METRIC_RANGE_OPS",
    "build_experiment_search",
    "build_logged_model_search",
    "build_model_version_search",
    "build_registered_model_search",
    "build_run_search",
    "case_insensitive_like",
    "case_sensitive_like",
    "comparison_run_ids",
    "in_experiments",
    "metric_value_condition",
    "param_value_condition",
    "run_row_probes",
    "run_search_conditions",
    "run_tie_order",
    "run_tree_conditions",
]

DBL_MAX = sys.float_info.max
NAN_KIND, POS_INF_KIND, NEG_INF_KIND = 1, 2, 3
IS_PROMPT_TAG = "mlflow.prompt.is_prompt"
DATASET_CONTEXT_TAG = "mlflow.data.context"

# ---------------------------------------------------------------------------------- LIKE, portably

_LIKE_ESCAPE = "!"  # a character that needs no escaping inside SQL string literals on any database


def _like_pattern(pattern: str) -> str:
    """User pattern (only % and _ special) -> a LIKE pattern for ``ESCAPE '!'``."""
    return pattern.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2)


def _glob_pattern(pattern: str) -> str:
    """User LIKE pattern -> an equivalent, case-sensitive SQLite GLOB pattern."""
    out = []
    for ch in pattern:
        if ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        elif ch in "*?[":
            out.append(f"[{ch}]")
        else:
            out.append(ch)
    return "".join(out)


class case_sensitive_like(FunctionElement[bool]):
    """``column LIKE pattern``, case-sensitive on every dialect (see module doc)."""

    type = Boolean()
    inherit_cache = True
    name = "case_sensitive_like"

    def __init__(self, column: ColumnElement[Any], pattern: str) -> None:
        super().__init__(
            column,
            literal(_like_pattern(pattern), String()),
            literal(_glob_pattern(pattern), String()),
        )


@compiles(case_sensitive_like)
def _like_default(element: case_sensitive_like, compiler: Any, **kw: Any) -> str:
    column, like, _glob = list(element.clauses)
    return f"({compiler.process(column, **kw)} LIKE {compiler.process(like, **kw)} ESCAPE '{_LIKE_ESCAPE}')"


@compiles(case_sensitive_like, "sqlite")
def _like_sqlite(element: case_sensitive_like, compiler: Any, **kw: Any) -> str:
    column, _like, glob = list(element.clauses)
    return f"({compiler.process(column, **kw)} GLOB {compiler.process(glob, **kw)})"


@compiles(case_sensitive_like, "mysql")
def _like_mysql(element: case_sensitive_like, compiler: Any, **kw: Any) -> str:
    column, like, _glob = list(element.clauses)
    col, pat = compiler.process(column, **kw), compiler.process(like, **kw)
    return f"(CAST({col} AS BINARY) LIKE CAST({pat} AS BINARY) ESCAPE '{_LIKE_ESCAPE}')"


class in_param_value_index(FunctionElement[bool]):
    """True for a ``params.value`` equal to a literal of up to ``PARAM_VALUE_INDEXED_BYTES``: on PostgreSQL
    the partial index's own condition (its planner uses ``index_params_key_value`` only when the query
    states it), elsewhere nothing (``1 = 1``; those databases index every value, or its prefix)."""

    type = Boolean()
    inherit_cache = True
    name = "in_param_value_index"


@compiles(in_param_value_index)
def _in_param_value_index_default(element: in_param_value_index, compiler: Any, **kw: Any) -> str:
    return "1 = 1"


@compiles(in_param_value_index, "postgresql")
def _in_param_value_index_postgresql(element: in_param_value_index, compiler: Any, **kw: Any) -> str:
    (column,) = list(element.clauses)
    # a literal bound, as in the index's WHERE: the planner proves the implication on the text alone
    return f"octet_length({compiler.process(column, **kw)}) <= {s.PARAM_VALUE_INDEXED_BYTES}"


def param_value_condition(column: ColumnElement[Any], op: str, value: Any) -> ColumnElement[bool]:
    """``params.value <op> value``, stating the index's condition when the literal is short enough that
    every equal value is in it (the condition is then implied: it never changes which rows match)."""
    compared = _compare(column, op, value)
    if op == "=" and len(str(value).encode()) <= s.PARAM_VALUE_INDEXED_BYTES:
        return and_(compared, in_param_value_index(column))
    return compared


class param_equals(FunctionElement[bool]):
    """``EXISTS`` a ``params`` row of the run (``run_id``) with this key and value: what ``params.X = 'v'``
    asks of each run a search tests. On SQLite it names ``index_params_key_value`` (key, value, run), one
    seek of a covering index: its planner otherwise takes the primary key (run, key) and then reads the
    table row for the value, a second random read per run tested."""

    type = Boolean()
    inherit_cache = True
    name = "param_equals"
    #: the value is short enough for PostgreSQL's partial index (a class, not a flag: compiled statements
    #: are cached by their structure, and the SQL differs)
    indexed = False

    def __init__(self, run_id: ColumnElement[Any], key: str, value: str) -> None:
        super().__init__(run_id, literal(key, String()), literal(value, String()))


class _indexed_param_equals(param_equals):
    """``param_equals`` of a value of up to ``PARAM_VALUE_INDEXED_BYTES``."""

    inherit_cache = True
    name = "indexed_param_equals"
    indexed = True


def param_equals_probe(run_id: ColumnElement[Any], key: str, value: str) -> param_equals:
    """``param_equals`` of the class the value's length asks for."""
    short = len(value.encode()) <= s.PARAM_VALUE_INDEXED_BYTES
    return (_indexed_param_equals if short else param_equals)(run_id, key, value)


def _param_equals_sql(element: param_equals, compiler: Any, hint: str = "", also: str = "", **kw: Any) -> str:
    run_id, key, value = (compiler.process(c, **kw) for c in element.clauses)
    k, v = compiler.preparer.quote("key"), compiler.preparer.quote("value")
    where = f"param_eq.run_uuid = {run_id} AND param_eq.{k} = {key} AND param_eq.{v} = {value}{also}"
    return f"(EXISTS (SELECT 1 FROM params AS param_eq{hint} WHERE {where}))"


@compiles(param_equals)
def _param_equals_default(element: param_equals, compiler: Any, **kw: Any) -> str:
    return _param_equals_sql(element, compiler, **kw)


@compiles(param_equals, "sqlite")
def _param_equals_sqlite(element: param_equals, compiler: Any, **kw: Any) -> str:
    return _param_equals_sql(element, compiler, hint=" INDEXED BY index_params_key_value", **kw)


@compiles(param_equals, "postgresql")
def _param_equals_postgresql(element: param_equals, compiler: Any, **kw: Any) -> str:
    # the partial index's condition when every equal value is in it (``param_value_condition``): then
    # PostgreSQL may answer from (key, value, run) alone, an index-only scan
    also = f" AND octet_length(param_eq.value) <= {s.PARAM_VALUE_INDEXED_BYTES}" if element.indexed else ""
    return _param_equals_sql(element, compiler, also=also, **kw)


#: the latest metric a comparison of the filter looks up (one name: each lookup is its own subquery)
_METRIC_PROBE = s.latest_metrics.alias("metric_probe")


class metric_exists(FunctionElement[bool]):
    """``EXISTS`` a latest metric of the run (``run_id``) meeting ``conditions`` (on ``_METRIC_PROBE``):
    what a metric comparison asks of each run a search tests. On SQLite it names
    ``index_latest_metrics_run_key_value`` (run, key, value, kind), one seek of a covering index: its
    planner otherwise takes the primary key (run, key) and then reads the table row for the value."""

    type = Boolean()
    inherit_cache = True
    name = "metric_exists"

    def __init__(self, run_id: ColumnElement[Any], *conditions: ColumnElement[bool]) -> None:
        super().__init__(run_id, *conditions)

    @property
    def _from_objects(self) -> Any:
        # only the run id's table belongs to the query around it; the probe's own table is its subquery's
        return next(iter(self.clauses))._from_objects


def _metric_exists_sql(element: metric_exists, compiler: Any, hint: str = "", **kw: Any) -> str:
    run_id, *conditions = (compiler.process(c, **kw) for c in element.clauses)
    name = _METRIC_PROBE.name
    where = " AND ".join([f"{name}.run_uuid = {run_id}", *(f"({c})" for c in conditions)])
    return f"(EXISTS (SELECT 1 FROM latest_metrics AS {name}{hint} WHERE {where}))"


@compiles(metric_exists)
def _metric_exists_default(element: metric_exists, compiler: Any, **kw: Any) -> str:
    return _metric_exists_sql(element, compiler, **kw)


@compiles(metric_exists, "sqlite")
def _metric_exists_sqlite(element: metric_exists, compiler: Any, **kw: Any) -> str:
    return _metric_exists_sql(element, compiler, hint=" INDEXED BY index_latest_metrics_run_key_value", **kw)


def case_insensitive_like(column: ColumnElement[Any], pattern: str) -> ColumnElement[bool]:
    return func.lower(column).like(func.lower(literal(_like_pattern(pattern), String())), escape=_LIKE_ESCAPE)


# --------------------------------------------------------------------------------- comparisons

_PY_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _compare(column: ColumnElement[Any], op: str, value: Any) -> ColumnElement[bool]:
    """A plain comparison of a column with a parsed value (strings, numbers, lists)."""
    if op == "LIKE":
        return case_sensitive_like(column, value)
    if op == "ILIKE":
        return case_insensitive_like(column, value)
    if op == "IN":
        return column.in_(list(value))
    if op == "NOT IN":
        return column.not_in(list(value))
    if isinstance(value, float):
        value = literal(value, Double())
    result: ColumnElement[bool] = _PY_OPS[op](column, value)
    return result


def _number_condition(
    value_col: ColumnElement[Any], kind_col: ColumnElement[Any], op: str, v: float
) -> ColumnElement[bool]:
    """``metric <op> v`` over (value, value_kind): a NaN point matches ``!=`` only; infinities are exact."""
    if math.isfinite(v) and abs(v) < DBL_MAX:
        # The stand-ins (+/-DBL_MAX) already order infinities correctly against such a literal, which keeps
        # the comparison a plain range on (key, value) that the index can serve.
        if op == "!=":
            return or_(value_col != literal(float(v), Double()), kind_col == NAN_KIND)
        return and_(_PY_OPS[op](value_col, literal(float(v), Double())), kind_col != NAN_KIND)
    parts: list[ColumnElement[bool]] = []
    if math.isnan(v):  # the parser never produces one; a NaN literal compares with nothing
        return false()
    if op == "!=":
        parts.append(kind_col == NAN_KIND)
    if math.isinf(v):
        # finite op +/-inf is the same for every finite value
        finite: ColumnElement[bool] = (kind_col == 0) if _PY_OPS[op](0.0, v) else false()
    else:
        finite = and_(kind_col == 0, _PY_OPS[op](value_col, literal(float(v), Double())))
    parts.append(finite)
    if _PY_OPS[op](math.inf, v):
        parts.append(kind_col == POS_INF_KIND)
    if _PY_OPS[op](-math.inf, v):
        parts.append(kind_col == NEG_INF_KIND)
    return or_(*parts)


class _asc_nulls_last(FunctionElement[Any]):
    """``x ASC NULLS LAST``; on MySQL (no NULLS LAST) ``x IS NULL, x ASC``."""

    inherit_cache = True
    name = "asc_nulls_last"
    direction = "ASC"


class _desc_nulls_last(FunctionElement[Any]):
    """``x DESC NULLS LAST``: SQLite can still walk an index in this order (its NULLs sort first)."""

    inherit_cache = True
    name = "desc_nulls_last"
    direction = "DESC"


@compiles(_asc_nulls_last)
@compiles(_desc_nulls_last)
def _nulls_last_default(element: Any, compiler: Any, **kw: Any) -> str:
    (column,) = list(element.clauses)
    return f"{compiler.process(column, **kw)} {element.direction} NULLS LAST"


@compiles(_asc_nulls_last, "mysql")
@compiles(_desc_nulls_last, "mysql")
def _nulls_last_mysql(element: Any, compiler: Any, **kw: Any) -> str:
    (column,) = list(element.clauses)
    col = compiler.process(column, **kw)
    return f"{col} IS NULL, {col} {element.direction}"


def _order(column: ColumnElement[Any], ascending: bool, nullable: bool = True) -> list[ColumnElement[Any]]:
    """One sort key, with NULLs (missing values) last in both directions on every database."""
    if not nullable:
        return [column.asc() if ascending else column.desc()]
    return [_asc_nulls_last(column) if ascending else _desc_nulls_last(column)]


def _attribute_order(column: Any, ascending: bool) -> list[ColumnElement[Any]]:
    """A sort key on a column of the searched table itself (never NULL through a join)."""
    return _order(column, ascending, nullable=bool(column.nullable))


class _Compiler:
    """Turns a filter tree into one boolean expression, given a per-comparison callback."""

    def __init__(self, leaf: Callable[[Comparison], ColumnElement[bool]]) -> None:
        self.leaf = leaf

    def __call__(self, node: Node) -> ColumnElement[bool]:
        if isinstance(node, Comparison):
            return self.leaf(node)
        parts = [self(item) for item in node.items]
        return and_(*parts) if isinstance(node, And) else or_(*parts)


def _paged(query: Select[Any], offset: int, limit: int | None) -> Select[Any]:
    if offset < 0:
        raise InvalidParameterError(f"Invalid offset {offset}: must not be negative")
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return query


def _number(value: Value) -> float:
    """A metric comparison's value: the parser only lets numbers through."""
    if isinstance(value, tuple) or value is None:
        raise InvalidParameterError(f"Expected a number to compare a metric with, got {value!r}")
    return float(value)


def _listed(value: Value) -> tuple[str, ...]:
    """An IN comparison's values: the parser always gives a tuple."""
    if not isinstance(value, tuple):
        raise InvalidParameterError(f"Expected a list of values for IN, got {value!r}")
    return value


def _int_ids(values: Iterable[Any], what: str = "experiment id") -> list[int]:
    out = []
    for v in values:
        text = str(v).strip()
        if not text.lstrip("-").isdigit():
            raise InvalidParameterError(f"Invalid {what} {v!r}: expected an integer")
        out.append(int(text))
    return out


# ------------------------------------------------------------------------------------------ runs

_RUN_COLUMNS = {
    "run_id": s.runs.c.run_uuid,
    "run_name": s.runs.c.name,
    "status": s.runs.c.status,
    "user_id": s.runs.c.user_id,
    "artifact_uri": s.runs.c.artifact_uri,
    "lifecycle_stage": s.runs.c.lifecycle_stage,
    "start_time": s.runs.c.start_time,
    "end_time": s.runs.c.end_time,
}


def metric_value_condition(
    value_col: ColumnElement[Any], kind_col: ColumnElement[Any], c: Comparison
) -> ColumnElement[bool]:
    """A metric comparison of the filter over one ``latest_metrics`` row's (value, value_kind)."""
    return _number_condition(value_col, kind_col, c.op, _number(c.value))


def _run_leaf(c: Comparison, run_id: ColumnElement[Any] = s.runs.c.run_uuid) -> ColumnElement[bool]:
    """One comparison on ``runs``; its rows' lookups correlated with ``run_id`` (a column holding the run's
    id: ``runs.run_uuid``, or the id on another table's row when the search walks that table)."""
    if c.kind == ATTRIBUTE:
        return _compare(_RUN_COLUMNS[c.key], c.op, c.value)
    if c.kind == METRIC:
        lm = _METRIC_PROBE
        return metric_exists(
            run_id, lm.c.key == c.key, metric_value_condition(lm.c.value, lm.c.value_kind, c)
        )
    if c.kind in (PARAM, TAG):
        table = (s.params if c.kind == PARAM else s.tags).alias()
        keyed = exists().where(table.c.run_uuid == run_id, table.c.key == c.key)
        if c.op == "IS NULL":
            return ~keyed
        if c.op == "IS NOT NULL":
            return keyed
        if c.kind == PARAM and c.op == "=" and isinstance(c.value, str):
            return param_equals_probe(run_id, c.key, c.value)
        if c.kind == PARAM:
            return keyed.where(param_value_condition(table.c.value, c.op, c.value))
        return keyed.where(_compare(table.c.value, c.op, c.value))
    if c.kind == DATASET:
        inputs, datasets = s.inputs.alias(), s.datasets.alias()
        query = exists().where(
            inputs.c.destination_type == "RUN",
            inputs.c.destination_id == run_id,
            inputs.c.source_type == "DATASET",
            datasets.c.dataset_uuid == inputs.c.source_id,
        )
        if c.key == "context":
            tags = s.input_tags.alias()
            return query.where(
                tags.c.input_uuid == inputs.c.input_uuid,
                tags.c.name == DATASET_CONTEXT_TAG,
                _compare(tags.c.value, c.op, c.value),
            )
        return query.where(_compare(datasets.c[c.key], c.op, c.value))
    raise InvalidParameterError(f"Cannot filter runs on {c.kind} {c.key!r}")


#: metric comparisons an index range of ``latest_metrics`` (experiment, key, value) can list
METRIC_RANGE_OPS = frozenset({"=", "<", "<=", ">", ">="})


def comparison_run_ids(c: Comparison, experiment_ids: Sequence[str]) -> Select[Any] | None:
    """``SELECT run_uuid`` of the runs one comparison holds for, read off one key's rows instead of
    probing run by run; None when no such listing exists (attributes, datasets, negations, patterns).

    For a param or tag the list spans every experiment (their rows carry no experiment); the run search
    still applies its own conditions to whatever it is given. ``EXISTS`` on the run's rows (``_run_leaf``)
    and membership in this list are the same condition, so a search may start from a short list.
    """
    if c.kind == METRIC and c.op in METRIC_RANGE_OPS:
        lm = s.latest_metrics
        return select(lm.c.run_uuid).where(
            in_experiments(lm.c.experiment_id, experiment_ids),
            lm.c.key == c.key,
            metric_value_condition(lm.c.value, lm.c.value_kind, c),
        )
    if c.kind == PARAM and c.op == "=":
        p = s.params
        return select(p.c.run_uuid).where(p.c.key == c.key, param_value_condition(p.c.value, c.op, c.value))
    if c.kind == TAG and c.op == "=":
        tags = s.tags
        return select(tags.c.run_uuid).where(tags.c.key == c.key, _compare(tags.c.value, c.op, c.value))
    return None


def in_experiments(column: ColumnElement[Any], experiment_ids: Sequence[str]) -> ColumnElement[bool]:
    """``column`` names one of these experiments (an equality for one: what an index seeks best)."""
    ids = _int_ids(experiment_ids)
    return column.in_(ids) if len(ids) != 1 else column == ids[0]


def run_search_conditions(
    experiment_ids: Sequence[str],
    filter_string: str | None,
    view_type: ViewType | str | int | None,
    among: Sequence[str] | None = None,
) -> list[ColumnElement[bool]]:
    """The WHERE of a run search (experiments, life cycle stages, the filter), on ``runs``: shared by the
    offset query below and the keyset walks of ``store.tracking.sql.run_keyset``.

    ``among``: run ids known to include every match (``run_pages.few_candidates``); the search then reads
    those runs by primary key instead of walking the experiment's.
    """
    where = list(_run_conditions(tuple(experiment_ids), filter_string, ViewType.parse(view_type)))
    if among is not None:
        where.append(s.runs.c.run_uuid.in_(list(among)))
    return where


@functools.lru_cache(maxsize=256)
def _run_conditions(
    experiment_ids: tuple[str, ...], filter_string: str | None, view: ViewType
) -> tuple[ColumnElement[bool], ...]:
    """Parsed and built once per search shape (SQLAlchemy expressions are immutable, so they are shared):
    parsing a filter and building its ``EXISTS`` clauses cost more CPU than a narrow search's SQL."""
    return tuple(run_tree_conditions(experiment_ids, parse_filter("run", filter_string), view))


def run_tree_conditions(
    experiment_ids: Sequence[str], tree: Node | None, view_type: ViewType | str | int | None
) -> list[ColumnElement[bool]]:
    """``run_search_conditions`` of a parsed filter (the run count drops the part it reads from an index)."""
    runs = s.runs
    stages = ViewType.parse(view_type).stages()
    where: list[ColumnElement[bool]] = [
        in_experiments(runs.c.experiment_id, experiment_ids),
        runs.c.lifecycle_stage.in_(stages) if len(stages) != 1 else runs.c.lifecycle_stage == stages[0],
    ]
    if tree is not None:
        where.append(_Compiler(_run_leaf)(tree))
    return where


@functools.lru_cache(maxsize=256)
def run_row_probes(
    filter_string: str | None, run_id: ColumnElement[Any]
) -> tuple[tuple[ColumnElement[bool], ...], Node | None]:
    """The filter split for a walk over another table's rows that carry the run's id (``run_id``): the
    parts ANDed into it that look at the run's own rows only (metrics, params, tags, datasets), as lookups
    correlated with ``run_id`` and cheapest first, and the rest (attribute comparisons), None if none.

    A walk then tests a row's run with index seeks keyed by the id it already holds and reads the run
    itself only for the rows that pass them. Equalities on params and tags go first (one seek, and an
    equality is usually the narrowest), then metric comparisons, then other key comparisons; ``run_id``
    must be hashable and long-lived (a module-level alias's column): it keys this cache.
    """
    tree = parse_filter("run", filter_string)
    items = list(tree.items) if isinstance(tree, And) else [tree] if tree is not None else []
    probes = [i for i in items if all(c.kind != ATTRIBUTE for c in comparisons(i))]
    rest = [i for i in items if any(c.kind == ATTRIBUTE for c in comparisons(i))]
    probes.sort(key=_probe_rank)
    compiled = tuple(_Compiler(functools.partial(_run_leaf, run_id=run_id))(i) for i in probes)
    return compiled, (And(tuple(rest)) if len(rest) > 1 else rest[0] if rest else None)


def _probe_rank(node: Node) -> int:
    """How early a probe runs (``run_row_probes``): key equalities, metric comparisons, the others."""
    if isinstance(node, Comparison):
        if node.kind in (PARAM, TAG) and node.op in ("=", "IN"):
            return 0
        if node.kind == METRIC:
            return 1
        return 2
    return 3


def build_run_search(
    experiment_ids: Sequence[str],
    filter_string: str | None,
    view_type: ViewType | str | int | None,
    order_by: Sequence[str] | None,
    offset: int,
    limit: int | None,
    among: Sequence[str] | None = None,
) -> Select[Any]:
    """``SELECT runs.run_uuid`` for one page of ``search_runs`` (MLflow's semantics, plus OR); ``among`` as
    in :func:`run_search_conditions`."""
    runs = s.runs
    keys = parse_order_by("run", list(order_by or []))
    source: Any = runs
    where = run_search_conditions(experiment_ids, filter_string, view_type, among)

    ordering: list[ColumnElement[Any]] = []
    for n, key in enumerate(keys, 1):
        if key.kind == ATTRIBUTE:
            ordering += _attribute_order(_RUN_COLUMNS[key.key], key.ascending)
            continue
        table = {METRIC: s.latest_metrics, PARAM: s.params, TAG: s.tags}[key.kind].alias(f"order_{n}")
        source = source.outerjoin(table, and_(table.c.run_uuid == runs.c.run_uuid, table.c.key == key.key))
        if key.kind == METRIC:
            # numbers first, then NaN, then runs without the metric -- in both directions
            ordering.append(
                case((table.c.value_kind == NAN_KIND, 1), (table.c.run_uuid.is_(None), 2), else_=0)
            )
            ordering.append(table.c.value.asc() if key.ascending else table.c.value.desc())
        else:
            ordering += _order(table.c.value, key.ascending)
    named = {(k.kind, k.key) for k in keys}
    if (ATTRIBUTE, "start_time") not in named:
        ordering += _attribute_order(runs.c.start_time, False)
    if (ATTRIBUTE, "run_id") not in named:
        ordering.append(runs.c.run_uuid.asc())

    query = select(runs.c.run_uuid).select_from(source).where(*where).order_by(*ordering)
    return _paged(query, offset, limit)


def run_tie_order(
    start_time: ColumnElement[Any] = s.runs.c.start_time, run_id: ColumnElement[Any] = s.runs.c.run_uuid
) -> list[ColumnElement[Any]]:
    """How runs that tie on every requested key are ordered: newest start first (none last), then id."""
    return [*_order(start_time, False), run_id.asc()]


# ------------------------------------------------------------------------------------ experiments

_EXPERIMENT_COLUMNS = {
    "name": s.experiments.c.name,
    "experiment_id": s.experiments.c.experiment_id,
    "creation_time": s.experiments.c.creation_time,
    "last_update_time": s.experiments.c.last_update_time,
}


def _experiment_leaf(c: Comparison) -> ColumnElement[bool]:
    experiments = s.experiments
    if c.kind == ATTRIBUTE:
        column = _EXPERIMENT_COLUMNS[c.key]
        if c.key == "experiment_id":
            if c.op in ("LIKE", "ILIKE"):
                return _compare(cast(column, String()), c.op, c.value)
            if c.op in ("IN", "NOT IN"):
                return _compare(column, c.op, _int_ids(_listed(c.value)))
            return _compare(column, c.op, _int_ids([c.value])[0])
        return _compare(column, c.op, c.value)
    if c.kind == TAG:
        tags = s.experiment_tags.alias()
        keyed = exists().where(tags.c.experiment_id == experiments.c.experiment_id, tags.c.key == c.key)
        if c.op == "IS NULL":
            return ~keyed
        if c.op == "IS NOT NULL":
            return keyed
        return keyed.where(_compare(tags.c.value, c.op, c.value))
    raise InvalidParameterError(f"Cannot filter experiments on {c.kind} {c.key!r}")


def build_experiment_search(
    view_type: ViewType | str | int | None,
    filter_string: str | None,
    order_by: Sequence[str] | None,
    offset: int,
    limit: int | None,
) -> Select[Any]:
    """``SELECT experiments.experiment_id`` for one page of ``search_experiments``."""
    experiments = s.experiments
    stages = ViewType.parse(view_type).stages()
    tree = parse_filter("experiment", filter_string)
    keys = parse_order_by("experiment", list(order_by or []))
    if not keys:
        keys = [OrderKey(ATTRIBUTE, "creation_time", False), OrderKey(ATTRIBUTE, "experiment_id", True)]
    elif not any(k.key == "experiment_id" for k in keys):
        keys.append(OrderKey(ATTRIBUTE, "experiment_id", False))  # MLflow's tie-breaker

    where: list[ColumnElement[bool]] = [experiments.c.lifecycle_stage.in_(stages)]
    if tree is not None:
        where.append(_Compiler(_experiment_leaf)(tree))
    ordering: list[ColumnElement[Any]] = []
    for key in keys:
        ordering += _attribute_order(_EXPERIMENT_COLUMNS[key.key], key.ascending)
    query = select(experiments.c.experiment_id).where(*where).order_by(*ordering)
    return _paged(query, offset, limit)


# ------------------------------------------------------------------------------------- registry


def _queries_prompts(tree: Node | None) -> bool:
    """MLflow hides prompts unless the filter asks for them by their tag."""
    for c in comparisons(tree):
        if c.kind != TAG or c.key != IS_PROMPT_TAG or not isinstance(c.value, str):
            continue
        if (c.op == "=" and c.value.lower() == "true") or (c.op == "!=" and c.value.lower() == "false"):
            return True
    return False


def _registry_filter(
    tree: Node | None,
    columns: Mapping[str, ColumnElement[Any]],
    tag_exists: Callable[[], tuple[Any, ColumnElement[bool]]],
) -> list[ColumnElement[bool]]:
    """Filter + prompt exclusion for registered models and model versions (same rules in MLflow)."""
    prompts = _queries_prompts(tree)

    def leaf(c: Comparison) -> ColumnElement[bool]:
        if c.kind == ATTRIBUTE:
            return _compare(columns[c.key], c.op, c.value)
        if c.kind == TAG:
            if c.key == IS_PROMPT_TAG and not prompts:
                return true()  # prompts are excluded below; a tag test on them is moot, as in MLflow
            table, correlation = tag_exists()
            return exists().where(correlation, table.c.key == c.key, _compare(table.c.value, c.op, c.value))
        raise InvalidParameterError(f"Cannot filter on {c.kind} {c.key!r}")

    where: list[ColumnElement[bool]] = []
    if tree is not None:
        where.append(_Compiler(leaf)(tree))
    if not prompts:
        table, correlation = tag_exists()
        where.append(
            ~exists().where(correlation, table.c.key == IS_PROMPT_TAG, func.lower(table.c.value) == "true")
        )
    return where


_REGISTERED_MODEL_COLUMNS = {
    "name": s.registered_models.c.name,
    "creation_timestamp": s.registered_models.c.creation_time,
    "last_updated_timestamp": s.registered_models.c.last_updated_time,
}


def build_registered_model_search(
    filter_string: str | None, order_by: Sequence[str] | None, offset: int, limit: int | None
) -> Select[Any]:
    """``SELECT registered_models.name`` for one page of ``search_registered_models``."""
    rm = s.registered_models
    tree = parse_filter("registered_model", filter_string)
    keys = parse_order_by("registered_model", list(order_by or []))

    def tag_exists() -> tuple[Any, ColumnElement[bool]]:
        tags = s.registered_model_tags.alias()
        return tags, tags.c.name == rm.c.name

    where = _registry_filter(tree, _REGISTERED_MODEL_COLUMNS, tag_exists)
    if not any(k.key == "name" for k in keys):
        keys.append(OrderKey(ATTRIBUTE, "name", True))
    ordering = [o for k in keys for o in _attribute_order(_REGISTERED_MODEL_COLUMNS[k.key], k.ascending)]
    return _paged(select(rm.c.name).where(*where).order_by(*ordering), offset, limit)


_MODEL_VERSION_COLUMNS = {
    "name": s.model_versions.c.name,
    "version_number": s.model_versions.c.version,
    "run_id": s.model_versions.c.run_id,
    "source_path": s.model_versions.c.source,
    "creation_timestamp": s.model_versions.c.creation_time,
    "last_updated_timestamp": s.model_versions.c.last_updated_time,
}
DELETED_VERSION_STAGE = "Deleted_Internal"


def build_model_version_search(
    filter_string: str | None, order_by: Sequence[str] | None, offset: int, limit: int | None
) -> Select[Any]:
    """``SELECT model_versions.name, model_versions.version`` for one page of ``search_model_versions``."""
    mv = s.model_versions
    tree = parse_filter("model_version", filter_string)
    keys = parse_order_by("model_version", list(order_by or []))
    if not keys:
        keys = [OrderKey(ATTRIBUTE, "last_updated_timestamp", False)]
    if not any(k.key == "name" for k in keys):
        keys.append(OrderKey(ATTRIBUTE, "name", True))
    if not any(k.key == "version_number" for k in keys):
        keys.append(OrderKey(ATTRIBUTE, "version_number", False))

    def tag_exists() -> tuple[Any, ColumnElement[bool]]:
        tags = s.model_version_tags.alias()
        return tags, and_(tags.c.name == mv.c.name, tags.c.version == mv.c.version)

    where = _registry_filter(tree, _MODEL_VERSION_COLUMNS, tag_exists)
    where.append(mv.c.current_stage != DELETED_VERSION_STAGE)
    ordering: list[ColumnElement[Any]] = []
    for k in keys:
        ordering += _attribute_order(_MODEL_VERSION_COLUMNS[k.key], k.ascending)
    return _paged(select(mv.c.name, mv.c.version).where(*where).order_by(*ordering), offset, limit)


# ---------------------------------------------------------------------------------- logged models

_LOGGED_MODEL_COLUMNS = {
    "name": s.logged_models.c.name,
    "model_id": s.logged_models.c.model_id,
    "model_type": s.logged_models.c.model_type,
    "status": s.logged_models.c.status,
    "source_run_id": s.logged_models.c.source_run_id,
    "creation_timestamp": s.logged_models.c.creation_timestamp_ms,
    "last_updated_timestamp": s.logged_models.c.last_updated_timestamp_ms,
}


def _dataset_match(metrics: Any, datasets: Sequence[Mapping[str, Any]] | None) -> list[ColumnElement[bool]]:
    if not datasets:
        return []
    options = []
    for d in datasets:
        name = d.get("dataset_name")
        if not name:
            raise InvalidParameterError("`dataset_name` in the `datasets` clause must be specified.")
        cond = metrics.c.dataset_name == name
        if d.get("dataset_digest"):
            cond = and_(cond, metrics.c.dataset_digest == d["dataset_digest"])
        options.append(cond)
    return [or_(*options)]


def build_logged_model_search(
    experiment_ids: Sequence[str],
    filter_string: str | None,
    order_by: Sequence[Mapping[str, Any] | str] | None,
    offset: int,
    limit: int | None,
    datasets: Sequence[Mapping[str, Any]] | None = None,
) -> Select[Any]:
    """``SELECT logged_models.model_id`` for one page of ``search_logged_models``.

    A metric comparison matches a model if any of its metric points matches (MLflow's SQL store);
    ``datasets`` restricts metric comparisons to those datasets, and without a metric comparison keeps
    only models that have a metric on one of them.
    """
    lm = s.logged_models
    tree = parse_filter("logged_model", filter_string)
    keys = parse_logged_model_order_by(list(order_by or []))
    ids = _int_ids(experiment_ids)

    def leaf(c: Comparison) -> ColumnElement[bool]:
        if c.kind == ATTRIBUTE:
            return _compare(_LOGGED_MODEL_COLUMNS[c.key], c.op, c.value)
        if c.kind == METRIC:
            m = s.logged_model_metrics.alias()
            return exists().where(
                m.c.model_id == lm.c.model_id,
                m.c.metric_name == c.key,
                _number_condition(m.c.metric_value, m.c.value_kind, c.op, _number(c.value)),
                *_dataset_match(m, datasets),
            )
        if c.kind == PARAM:
            p = s.logged_model_params.alias()
            return exists().where(
                p.c.model_id == lm.c.model_id,
                p.c.param_key == c.key,
                _compare(p.c.param_value, c.op, c.value),
            )
        if c.kind == TAG:
            t = s.logged_model_tags.alias()
            return exists().where(
                t.c.model_id == lm.c.model_id, t.c.tag_key == c.key, _compare(t.c.tag_value, c.op, c.value)
            )
        raise InvalidParameterError(f"Cannot filter logged models on {c.kind} {c.key!r}")

    where: list[ColumnElement[bool]] = [
        lm.c.experiment_id.in_(ids),
        lm.c.lifecycle_stage != LifecycleStage.DELETED.value,
    ]
    if tree is not None:
        where.append(_Compiler(leaf)(tree))
    if datasets and not any(c.kind == METRIC for c in comparisons(tree)):
        m = s.logged_model_metrics.alias()
        where.append(exists().where(m.c.model_id == lm.c.model_id, *_dataset_match(m, datasets)))

    ordering: list[ColumnElement[Any]] = []
    for key in keys:
        if key.kind == ATTRIBUTE:
            ordering += _attribute_order(_LOGGED_MODEL_COLUMNS[key.key], key.ascending)
            continue
        # the model's latest point of the metric (optionally on one dataset)
        m = s.logged_model_metrics.alias()
        latest = (
            select(m.c.metric_value, m.c.value_kind)
            .where(m.c.model_id == lm.c.model_id, m.c.metric_name == key.key)
            .order_by(m.c.metric_timestamp_ms.desc(), m.c.metric_step.desc(), m.c.run_id.asc())
            .limit(1)
        )
        if key.dataset_name:
            latest = latest.where(m.c.dataset_name == key.dataset_name)
        if key.dataset_digest:
            latest = latest.where(m.c.dataset_digest == key.dataset_digest)
        value = latest.with_only_columns(m.c.metric_value).scalar_subquery()
        kind = latest.with_only_columns(m.c.value_kind).scalar_subquery()
        ordering.append(case((kind == NAN_KIND, 1), (kind.is_(None), 2), else_=0))
        ordering.append(value.asc() if key.ascending else value.desc())
    named = {(k.kind, k.key) for k in keys}
    if (ATTRIBUTE, "creation_timestamp") not in named:
        ordering.append(lm.c.creation_timestamp_ms.desc())
    if (ATTRIBUTE, "model_id") not in named:
        ordering.append(lm.c.model_id.asc())
    return _paged(select(lm.c.model_id).where(*where).order_by(*ordering), offset, limit)
