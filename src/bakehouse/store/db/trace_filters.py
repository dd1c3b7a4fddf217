"""The trace search query: a parsed trace filter (``store.search``, entity "trace") -> one ``Select``.

Fields are MLflow's: trace attributes (``trace.status``, ``trace.timestamp_ms``, ``trace.name``,
``trace.run_id``, ``trace.text``...), ``tags.``, ``metadata.``, ``span.name|type|status|attributes.<k>``,
``feedback.<name>`` and ``expectation.<name>``; as for runs, ``OR`` and parentheses work too. Every
comparison on a related table is an ``EXISTS`` on the trace's own rows, so they compose under ``OR``.

``trace.run_id`` matches traces made inside the run (metadata ``mlflow.sourceRun``) and traces linked
to it afterwards. ``span.attributes.<k>`` and ``trace.text`` look inside the spans' JSON content (the
attribute ``k`` with that value somewhere in a span of the trace).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    bindparam,
    exists,
    false,
    literal,
    or_,
    select,
    union,
)

from bakehouse.entities.trace import TraceMetadata, TraceTag
from bakehouse.errors import InvalidParameterError
from bakehouse.store.db import schema as s
from bakehouse.store.db.filters import (
    _attribute_order,
    _compare,
    _Compiler,
    _int_ids,
    _order,
    _paged,
    case_insensitive_like,
    case_sensitive_like,
)
from bakehouse.store.db.schema import TRACE_TAG_PREFIX
from bakehouse.store.search import (
    ATTRIBUTE,
    EXPECTATION,
    FEEDBACK,
    METADATA,
    SPAN,
    TAG,
    And,
    Comparison,
    Node,
    OrderKey,
    parse_filter,
    parse_order_by,
)

_TI = s.trace_info.c
_COLUMNS: dict[str, Any] = {
    "request_id": _TI.request_id,
    "status": _TI.status,
    "client_request_id": _TI.client_request_id,
    "timestamp_ms": _TI.timestamp_ms,
    "execution_time_ms": _TI.execution_time_ms,
    "experiment_id": _TI.experiment_id,
}


def _key_value(table: Any, key: str, c: Comparison) -> ColumnElement[bool]:
    keyed = exists().where(table.c.request_id == _TI.request_id, table.c.key == key)
    if c.op == "IS NULL":
        return ~keyed
    if c.op == "IS NOT NULL":
        return keyed
    return keyed.where(_compare(table.c.value, c.op, c.value))


def _run_condition(c: Comparison) -> ColumnElement[bool]:
    meta, links = s.trace_request_metadata.alias(), s.trace_run_links.alias()
    if c.op in ("LIKE", "ILIKE"):
        in_meta, in_links = _compare(meta.c.value, c.op, c.value), _compare(links.c.run_id, c.op, c.value)
    else:
        values = list(c.value) if isinstance(c.value, tuple) else [c.value]
        in_meta, in_links = meta.c.value.in_(values), links.c.run_id.in_(values)
    matched = or_(
        exists().where(meta.c.request_id == _TI.request_id, meta.c.key == TraceMetadata.SOURCE_RUN, in_meta),
        exists().where(links.c.request_id == _TI.request_id, in_links),
    )
    return ~matched if c.op in ("!=", "NOT IN") else matched


def _content_pattern(key: str, c: Comparison) -> list[str]:
    """LIKE patterns that find ``"key":<value>`` inside a span's compact JSON content."""
    quoted_key = json.dumps(key, ensure_ascii=False)
    if c.op in ("LIKE", "ILIKE"):
        return [f"%{quoted_key}:{c.value}%", f'%{quoted_key}:"{c.value}%']
    value = str(c.value)
    return [f"%{quoted_key}:{json.dumps(value, ensure_ascii=False)}%", f"%{quoted_key}:{value}" + "%"]


def _span_condition(c: Comparison) -> ColumnElement[bool]:
    spans = s.spans.alias()
    base = [spans.c.trace_id == _TI.request_id]
    if c.key.startswith("attributes."):
        key = c.key[len("attributes.") :]
        if c.op in ("IN", "NOT IN"):
            assert isinstance(c.value, tuple)  # the parser gives IN and NOT IN a tuple
            parts: list[ColumnElement[bool]] = [
                case_sensitive_like(spans.c.content, p)
                for v in c.value
                for p in _content_pattern(key, Comparison(c.kind, c.key, "=", v))
            ]
        else:
            like = case_insensitive_like if c.op == "ILIKE" else case_sensitive_like
            parts = [like(spans.c.content, p) for p in _content_pattern(key, c)]
        found = exists().where(*base, or_(*parts))
        return ~found if c.op in ("!=", "NOT IN") else found
    column = {"name": spans.c.name, "type": spans.c.type, "status": spans.c.status}[c.key]
    value = c.value
    if c.key == "status" and isinstance(value, str):  # MLflow spells span states OK / ERROR / UNSET
        value = value.upper().removeprefix("STATUS_CODE_")
    elif c.key == "status" and isinstance(value, tuple):
        value = tuple(v.upper().removeprefix("STATUS_CODE_") for v in value)
    return exists().where(*base, _compare(column, c.op, value))


def _assessment_condition(c: Comparison) -> ColumnElement[bool]:
    a = s.assessments.alias()
    base = [
        a.c.trace_id == _TI.request_id,
        a.c.assessment_type == c.kind,
        a.c.name == c.key,
        a.c.valid.is_(True),
    ]
    if c.op == "IS NULL":
        return ~exists().where(*base)
    if c.op == "IS NOT NULL":
        return exists().where(*base)
    if c.op in ("<", "<=", ">", ">="):
        assert isinstance(c.value, (int, float, str))  # the parser gives an order comparison one scalar
        return exists().where(*base, _compare(a.c.numeric_value, c.op, float(c.value)))
    if isinstance(c.value, (int, float)):
        text = json.dumps(c.value)
        cond: ColumnElement[bool] = or_(a.c.value == text, a.c.numeric_value == float(c.value))
        return exists().where(*base, ~cond if c.op == "!=" else cond)
    if c.op in ("=", "!="):
        cond = or_(
            a.c.value == literal(c.value, String()), a.c.value == json.dumps(c.value, ensure_ascii=False)
        )
        return exists().where(*base, ~cond if c.op == "!=" else cond)
    return exists().where(*base, _compare(a.c.value, c.op, c.value))


def _trace_leaf(c: Comparison) -> ColumnElement[bool]:
    if c.kind == ATTRIBUTE:
        if c.key == "name":
            return _key_value(s.trace_tags.alias(), TraceTag.NAME, c)
        if c.key == "run_id":
            return _run_condition(c)
        if c.key == "text":
            if c.op not in ("LIKE", "ILIKE", "="):
                raise InvalidParameterError("trace.text only supports LIKE, ILIKE and =")
            spans = s.spans.alias()
            pattern = c.value if c.op != "=" else f"%{c.value}%"
            like = case_insensitive_like if c.op == "ILIKE" else case_sensitive_like
            return exists().where(spans.c.trace_id == _TI.request_id, like(spans.c.content, str(pattern)))
        if c.key == "end_time_ms":
            end = _TI.timestamp_ms + _TI.execution_time_ms
            return _compare(end, c.op, c.value)
        return _compare(_COLUMNS[c.key], c.op, c.value)
    if c.kind == TAG:
        return _key_value(s.trace_tags.alias(), c.key, c)
    if c.kind == METADATA:
        if c.key == TraceMetadata.SOURCE_RUN and c.op in ("=", "!=", "IN", "NOT IN"):
            return _run_condition(c)
        return _key_value(s.trace_request_metadata.alias(), c.key, c)
    if c.kind == SPAN:
        return _span_condition(c)
    if c.kind in (FEEDBACK, EXPECTATION):
        return _assessment_condition(c)
    return false()


def _run_ids(c: Node) -> list[str] | None:
    """The run ids of ``trace.run_id = | IN ...`` (or metadata ``mlflow.sourceRun``), else None."""
    if not isinstance(c, Comparison) or c.op not in ("=", "IN"):
        return None
    if not (c.kind == ATTRIBUTE and c.key == "run_id") and not (
        c.kind == METADATA and c.key == TraceMetadata.SOURCE_RUN
    ):
        return None
    values = list(c.value) if isinstance(c.value, tuple) else [c.value]
    return [str(v) for v in values] if all(isinstance(v, str) for v in values) else None


def _run_traces(tree: Node | None) -> tuple[Any, Node | None]:
    """When the filter requires the traces of given runs (at its top level): the ids of those traces, looked
    up in ``index_trace_request_metadata_search`` and the run links (0012_trace_tag_search), as a subquery
    to join, and the rest of the filter. Else (None, the filter as it was)."""
    items = list(tree.items) if isinstance(tree, And) else [tree] if tree is not None else []
    for n, item in enumerate(items):
        runs = _run_ids(item)
        if runs is None:
            continue
        meta, links = s.trace_request_metadata.alias("run_meta"), s.trace_run_links.alias("run_links")
        made_inside = select(meta.c.request_id).where(
            meta.c.key == TraceMetadata.SOURCE_RUN,
            meta.c.value_prefix.in_(sorted({r[:TRACE_TAG_PREFIX] for r in runs})),
            meta.c.value.in_(runs),
        )
        linked = select(links.c.request_id).where(links.c.run_id.in_(runs))
        rest = items[:n] + items[n + 1 :]
        remaining: Node | None = And(tuple(rest)) if len(rest) > 1 else rest[0] if rest else None
        return union(made_inside, linked).subquery("run_traces"), remaining
    return None, tree


def _newest_first(keys: Sequence[OrderKey]) -> bool:
    """The default order (newest first, then trace id), whether asked for or not."""
    return not keys or (
        len(keys) == 1
        and keys[0].kind == ATTRIBUTE
        and keys[0].key == "timestamp_ms"
        and not keys[0].ascending
    )


def _tag_equality(c: Node) -> tuple[str, str] | None:
    """(tag key, value) when ``c`` is ``tags.<k> = '<v>'`` or ``trace.name = '<v>'``."""
    if not isinstance(c, Comparison) or c.op != "=" or not isinstance(c.value, str):
        return None
    if c.kind == TAG:
        return c.key, c.value
    if c.kind == ATTRIBUTE and c.key == "name":
        return TraceTag.NAME, c.value
    return None


def _tag_driven_search(experiment_id: int, tree: Node | None) -> tuple[Select[Any], bool] | None:
    """The page of a filter that requires a tag to equal a value, newest first, read off
    ``index_trace_tags_search`` (0012_trace_tag_search): the matching tags come in the page's order and
    the rest of the filter is checked on those traces only. None when the filter has no such tag
    comparison at its top level (the rows are then walked in time order as for any filter).

    With ``True``: a tag is the whole filter, so the page's ids are taken from the index alone (``page_limit``
    and ``page_offset`` bound inside: the rows skipped by a later page's offset are never joined)."""
    items = list(tree.items) if isinstance(tree, And) else [tree] if tree is not None else []
    for n, item in enumerate(items):
        tag = _tag_equality(item)
        if tag is None:
            continue
        key, value = tag
        drive = s.trace_tags.alias("drive")
        rest = items[:n] + items[n + 1 :]
        where: list[ColumnElement[bool]] = [
            drive.c.experiment_id == experiment_id,  # the trace's own, copied by every write that moves it
            drive.c.key == key,
            drive.c.value_prefix == value[:TRACE_TAG_PREFIX],
        ]
        if len(value) >= TRACE_TAG_PREFIX:  # shorter: the prefix is the whole value
            where.append(drive.c.value == value)
        newest_first = (drive.c.timestamp_ms.desc(), drive.c.request_id.asc())
        if not rest:
            page = (
                select(drive.c.request_id, drive.c.timestamp_ms)
                .where(*where)
                .order_by(*newest_first)
                .limit(bindparam("page_limit", type_=Integer()))
                .offset(bindparam("page_offset", type_=Integer()))
                .subquery("page")
            )
            statement = (
                select(_TI.request_id)
                .select_from(page.join(s.trace_info, _TI.request_id == page.c.request_id))
                .order_by(page.c.timestamp_ms.desc(), page.c.request_id.asc())
            )
            return statement, True
        where.append(_Compiler(_trace_leaf)(And(tuple(rest))))
        statement = (
            select(_TI.request_id)
            .select_from(drive.join(s.trace_info, _TI.request_id == drive.c.request_id))
            .where(*where)
            .order_by(*newest_first)
        )
        return statement, False
    return None


def build_trace_search(
    experiment_ids: Sequence[str],
    filter_string: str | None,
    order_by: Sequence[str],
    offset: int,
    limit: int,
) -> Select[Any]:
    """``SELECT trace_info.request_id`` for one page of ``search_traces`` (newest first by default)."""
    if (
        (filter_string is None or isinstance(filter_string, str))
        and all(isinstance(e, str) for e in experiment_ids)
        and all(isinstance(o, str) for o in order_by)
    ):
        # a client pages through one search: parsed and built once (the statements are immutable)
        statement, pages_inside = _cached_search(tuple(experiment_ids), filter_string, tuple(order_by))
    else:  # refused by the parsers, with their message
        statement, pages_inside = _search(experiment_ids, filter_string, order_by)
    if pages_inside:
        _paged(statement, offset, None)  # the same check of the offset
        return statement.params(page_limit=limit, page_offset=offset)
    return _paged(statement, offset, limit)


def search_page_with_documents(
    experiment_ids: tuple[str, ...], filter_string: str | None, order_by: tuple[str, ...]
) -> Select[Any]:
    """``SELECT request_id, info_json`` for one page of the search, its limit and offset bound as
    ``page_limit`` and ``page_offset``: the rows :func:`build_trace_search` selects for that page, with
    each trace's stored document (compiled once per search shape by the SQL store)."""
    statement, pages_inside = _cached_search(experiment_ids, filter_string, order_by)
    if not pages_inside:
        statement = statement.limit(bindparam("page_limit", type_=Integer())).offset(
            bindparam("page_offset", type_=Integer())
        )
    return statement.add_columns(s.trace_info.c.info_json)


@functools.lru_cache(maxsize=256)
def _cached_search(
    experiment_ids: tuple[str, ...], filter_string: str | None, order_by: tuple[str, ...]
) -> tuple[Select[Any], bool]:
    return _search(experiment_ids, filter_string, order_by)


def _search(
    experiment_ids: Sequence[str], filter_string: str | None, order_by: Sequence[str]
) -> tuple[Select[Any], bool]:
    """The search's statement without its page's offset and limit, or with them as bound parameters
    ``page_limit`` and ``page_offset`` (then ``True``)."""
    tree = parse_filter("trace", filter_string)
    keys = parse_order_by("trace", list(order_by))
    ids = _int_ids(experiment_ids)
    source: Any = s.trace_info
    run_traces, tree = _run_traces(tree)
    if run_traces is not None:
        source = run_traces.join(s.trace_info, _TI.request_id == run_traces.c.request_id)
    elif len(ids) == 1 and _newest_first(keys):
        driven = _tag_driven_search(ids[0], tree)
        if driven is not None:
            return driven
    where: list[ColumnElement[bool]] = [
        _TI.experiment_id.in_(ids) if len(ids) != 1 else _TI.experiment_id == ids[0]
    ]
    if tree is not None:
        where.append(_Compiler(_trace_leaf)(tree))
    ordering: list[ColumnElement[Any]] = []
    for n, key in enumerate(keys, 1):
        if key.kind == ATTRIBUTE and key.key in _COLUMNS:
            ordering += _attribute_order(_COLUMNS[key.key], key.ascending)
            continue
        if key.kind == ATTRIBUTE and key.key == "end_time_ms":
            ordering += _order(_TI.timestamp_ms + _TI.execution_time_ms, key.ascending)
            continue
        if key.kind == ATTRIBUTE and key.key == "run_id":
            table, name = s.trace_request_metadata, TraceMetadata.SOURCE_RUN
        elif key.kind == ATTRIBUTE:  # name
            table, name = s.trace_tags, TraceTag.NAME
        else:
            table, name = (s.trace_tags if key.kind == TAG else s.trace_request_metadata), key.key
        joined = table.alias(f"order_{n}")
        source = source.outerjoin(joined, (joined.c.request_id == _TI.request_id) & (joined.c.key == name))
        ordering += _order(joined.c.value, key.ascending)
    named = {(k.kind, k.key) for k in keys}
    if (ATTRIBUTE, "timestamp_ms") not in named:
        ordering.append(_TI.timestamp_ms.desc())
    if (ATTRIBUTE, "request_id") not in named:
        ordering.append(_TI.request_id.asc())
    return select(_TI.request_id).select_from(source).where(*where).order_by(*ordering), False
