"""The search language shared by every store: filter strings and order_by clauses -> a small AST.

MLflow's grammar (``metrics.acc > 0.9 AND params.lr = '0.1'``) is parsed by hand instead of through
sqlparse, so errors can say *where* the problem is, and so we can go beyond MLflow: ``OR`` and parentheses
(``AND`` binds tighter than ``OR``) and case-insensitive keywords. Everything MLflow accepts for an entity is
accepted here with the same meaning; what MLflow refuses is refused with an :class:`InvalidParameterError`
(never any other exception) that quotes the offending token and its 0-based position.

Pure Python on purpose: clients import it to validate filters before any request is sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

from bakehouse.errors import InvalidParameterError

__all__ = [
    "ATTRIBUTE",
    "DATASET",
    "ENTITIES",
    "EXPECTATION",
    "FEEDBACK",
    "METADATA",
    "METRIC",
    "PARAM",
    "SPAN",
    "TAG",
    "And",
    "Comparison",
    "Node",
    "Or",
    "OrderKey",
    "Value",
    "comparisons",
    "parse_filter",
    "parse_logged_model_order_by",
    "parse_order_by",
]

# ------------------------------------------------------------------------------------------------ AST

#: What a comparison value can be: a number, a string, a tuple of strings (IN lists) or None (IS NULL).
Value = float | int | str | tuple[str, ...] | None


@dataclass(frozen=True)
class Comparison:
    """``kind`` is one of attribute/metric/param/tag/dataset; ``key`` is canonical (aliases resolved).

    ``op`` is one of ``= != < <= > >= LIKE ILIKE IN NOT IN IS NULL IS NOT NULL``.
    """

    kind: str
    key: str
    op: str
    value: Value


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


Node = Comparison | And | Or


@dataclass(frozen=True)
class OrderKey:
    kind: str
    key: str
    ascending: bool = True
    #: Logged-model metric ordering may be restricted to one dataset (MLflow's order_by dict fields).
    dataset_name: str | None = None
    dataset_digest: str | None = None


def comparisons(node: Node | None) -> Iterable[Comparison]:
    """Every comparison in a tree, left to right."""
    if node is None:
        return
    if isinstance(node, Comparison):
        yield node
        return
    for item in node.items:
        yield from comparisons(item)


# ------------------------------------------------------------------------------------ entity grammars

ATTRIBUTE, METRIC, PARAM, TAG, DATASET = "attribute", "metric", "param", "tag", "dataset"
# trace searches (MLflow's trace filter fields)
METADATA, SPAN, FEEDBACK, EXPECTATION = "metadata", "span", "feedback", "expectation"

_PREFIXES: dict[str, str] = {
    "attribute": ATTRIBUTE,
    "attributes": ATTRIBUTE,
    "attr": ATTRIBUTE,
    "run": ATTRIBUTE,
    "metric": METRIC,
    "metrics": METRIC,
    "param": PARAM,
    "params": PARAM,
    "parameter": PARAM,
    "parameters": PARAM,
    "tag": TAG,
    "tags": TAG,
    "dataset": DATASET,
    "datasets": DATASET,
}
_PREFIX_HINT = {
    ATTRIBUTE: "attributes",
    METRIC: "metrics",
    PARAM: "params",
    TAG: "tags",
    DATASET: "datasets",
    METADATA: "metadata",
    SPAN: "span",
    FEEDBACK: "feedback",
    EXPECTATION: "expectation",
}

NUMERIC_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
STRING_OPS = frozenset({"=", "!=", "LIKE", "ILIKE"})
LIST_OPS = frozenset({"IN", "NOT IN"})
NULL_OPS = frozenset({"IS NULL", "IS NOT NULL"})
_OP_ORDER = ("=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL")


@dataclass(frozen=True)
class _Grammar:
    """What one entity's filters may name, and with which operators."""

    name: str
    string_attrs: Mapping[str, str]  # spelling -> canonical key
    numeric_attrs: Mapping[str, str]
    list_attrs: frozenset[str] | None  # canonical string attributes that accept IN; None = all of them
    kind_ops: Mapping[str, frozenset[str]]  # metric/param/tag/dataset -> allowed operators
    order_attrs: Mapping[str, str]
    order_kinds: frozenset[str]
    dataset_keys: frozenset[str] = frozenset()
    #: numeric attributes that also take a quoted integer (MLflow: ``version_number = '3'``)
    quoted_numbers: frozenset[str] = field(default_factory=frozenset)
    #: entity prefixes only this grammar knows (``trace.status``, ``metadata.x``, ``span.name``...)
    extra_prefixes: Mapping[str, str] = field(default_factory=dict)
    #: kinds compared with numbers as well as strings (trace assessments: ``feedback.score > 0.5``)
    number_kinds: frozenset[str] = field(default_factory=frozenset)
    #: keys a kind accepts, by kind (a key may also be a prefix ending in ".": ``attributes.``)
    kind_keys: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def attr_names(self) -> list[str]:
        return sorted(set(self.string_attrs.values()) | set(self.numeric_attrs.values()))


_RUN_STRING = {
    "run_id": "run_id",
    "run_name": "run_name",
    "run name": "run_name",
    "Run name": "run_name",
    "Run Name": "run_name",
    "status": "status",
    "user_id": "user_id",
    "artifact_uri": "artifact_uri",
    "lifecycle_stage": "lifecycle_stage",
}
_RUN_NUMERIC = {
    "start_time": "start_time",
    "end_time": "end_time",
    "created": "start_time",
    "Created": "start_time",
}

_GRAMMARS: dict[str, _Grammar] = {
    "run": _Grammar(
        name="run",
        string_attrs=_RUN_STRING,
        numeric_attrs=_RUN_NUMERIC,
        list_attrs=frozenset({"run_id"}),
        kind_ops={
            METRIC: NUMERIC_OPS,
            PARAM: STRING_OPS | NULL_OPS,
            TAG: STRING_OPS | NULL_OPS,
            DATASET: STRING_OPS | LIST_OPS,
        },
        order_attrs={**_RUN_STRING, **_RUN_NUMERIC},
        order_kinds=frozenset({ATTRIBUTE, METRIC, PARAM, TAG}),
        dataset_keys=frozenset({"name", "digest", "context"}),
    ),
    "experiment": _Grammar(
        name="experiment",
        string_attrs={"name": "name", "experiment_id": "experiment_id"},
        numeric_attrs={"creation_time": "creation_time", "last_update_time": "last_update_time"},
        list_attrs=frozenset({"experiment_id"}),
        kind_ops={TAG: STRING_OPS | NULL_OPS},
        order_attrs={
            "name": "name",
            "experiment_id": "experiment_id",
            "creation_time": "creation_time",
            "last_update_time": "last_update_time",
        },
        order_kinds=frozenset({ATTRIBUTE}),
    ),
    "registered_model": _Grammar(
        name="registered_model",
        string_attrs={"name": "name"},
        numeric_attrs={},
        list_attrs=frozenset({"name"}),
        kind_ops={TAG: STRING_OPS},
        order_attrs={
            "name": "name",
            "creation_timestamp": "creation_timestamp",
            "last_updated_timestamp": "last_updated_timestamp",
            # MLflow's SQL store sorts "timestamp" by the last update time.
            "timestamp": "last_updated_timestamp",
        },
        order_kinds=frozenset({ATTRIBUTE}),
    ),
    "model_version": _Grammar(
        name="model_version",
        string_attrs={"name": "name", "run_id": "run_id", "source_path": "source_path"},
        numeric_attrs={"version_number": "version_number"},
        list_attrs=frozenset({"name", "run_id"}),
        kind_ops={TAG: STRING_OPS},
        order_attrs={
            "name": "name",
            "version_number": "version_number",
            "creation_timestamp": "creation_timestamp",
            "last_updated_timestamp": "last_updated_timestamp",
        },
        order_kinds=frozenset({ATTRIBUTE}),
        quoted_numbers=frozenset({"version_number"}),
    ),
    "logged_model": _Grammar(
        name="logged_model",
        string_attrs={
            "name": "name",
            "model_id": "model_id",
            "model_type": "model_type",
            "status": "status",
            "source_run_id": "source_run_id",
        },
        numeric_attrs={
            "creation_time": "creation_timestamp",
            "creation_timestamp": "creation_timestamp",
            "last_updated_time": "last_updated_timestamp",
            "last_updated_timestamp": "last_updated_timestamp",
        },
        list_attrs=None,
        kind_ops={METRIC: NUMERIC_OPS, PARAM: STRING_OPS | LIST_OPS, TAG: STRING_OPS | LIST_OPS},
        order_attrs={
            "name": "name",
            "model_id": "model_id",
            "model_type": "model_type",
            "status": "status",
            "source_run_id": "source_run_id",
            "creation_time": "creation_timestamp",
            "creation_timestamp": "creation_timestamp",
            "last_updated_time": "last_updated_timestamp",
            "last_updated_timestamp": "last_updated_timestamp",
        },
        order_kinds=frozenset({ATTRIBUTE, METRIC}),
    ),
}

_TRACE_STRING = {
    "request_id": "request_id",
    "trace_id": "request_id",
    "status": "status",
    "state": "status",
    "client_request_id": "client_request_id",
    "name": "name",
    "run_id": "run_id",
    "text": "text",
}
_TRACE_NUMERIC = {
    "timestamp_ms": "timestamp_ms",
    "timestamp": "timestamp_ms",
    "execution_time_ms": "execution_time_ms",
    "execution_time": "execution_time_ms",
    "end_time_ms": "end_time_ms",
    "end_time": "end_time_ms",
}
_ASSESSMENT_OPS = STRING_OPS | NULL_OPS | NUMERIC_OPS

_GRAMMARS["trace"] = _Grammar(
    name="trace",
    string_attrs=_TRACE_STRING,
    numeric_attrs=_TRACE_NUMERIC,
    list_attrs=frozenset({"request_id", "status", "name", "run_id", "client_request_id"}),
    kind_ops={
        TAG: STRING_OPS | NULL_OPS,
        METADATA: STRING_OPS | NULL_OPS,
        SPAN: STRING_OPS | LIST_OPS,
        FEEDBACK: _ASSESSMENT_OPS,
        EXPECTATION: _ASSESSMENT_OPS,
    },
    order_attrs={
        **{k: v for k, v in _TRACE_STRING.items() if k not in ("text", "client_request_id")},
        **_TRACE_NUMERIC,
        "experiment_id": "experiment_id",
    },
    order_kinds=frozenset({ATTRIBUTE, TAG, METADATA}),
    extra_prefixes={
        "trace": ATTRIBUTE,
        "metadata": METADATA,
        "request_metadata": METADATA,
        "span": SPAN,
        "spans": SPAN,
        "feedback": FEEDBACK,
        "expectation": EXPECTATION,
    },
    number_kinds=frozenset({FEEDBACK, EXPECTATION}),
    kind_keys={SPAN: frozenset({"name", "type", "status", "attributes."})},
)

#: The entity names accepted by :func:`parse_filter` and :func:`parse_order_by`.
ENTITIES = tuple(_GRAMMARS)


def _grammar(entity: str) -> _Grammar:
    try:
        return _GRAMMARS[entity]
    except KeyError:
        raise InvalidParameterError(
            f"Unknown search entity {entity!r}; expected one of {', '.join(ENTITIES)}"
        )


# ------------------------------------------------------------------------------------------- tokenizer

_KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE"})
# An identifier: a word, optionally followed by .segments; a segment may be backticked or double-quoted.
_SEGMENT = r"(?:[\w\-/:]+|`[^`]*`|\"(?:[^\"\\]|\\.|\"\")*\")"
_WORD_RE = re.compile(r"[^\W\d][\w\-/:]*(?:\." + _SEGMENT + r")*")
_BACKTICK_RE = re.compile(r"`[^`]*`(?:\." + _SEGMENT + r")*")
_NUMBER_RE = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_OPERATOR_RE = re.compile(r"!=|<>|>=|<=|==|=|<|>")
_NUMBER_END_RE = re.compile(r"[\w.]")


@dataclass(frozen=True)
class _Token:
    type: str  # WORD KEYWORD BACKTICK STRING DSTRING NUMBER OP LPAREN RPAREN COMMA EOF
    text: str  # the source text
    pos: int
    value: Any = None  # unquoted string, keyword in upper case, number text


class _Tokenizer:
    def __init__(self, source: str, fail: Callable[[str], NoReturn]) -> None:
        self.source = source
        self.fail = fail

    def tokens(self) -> list[_Token]:
        src, out, i, n = self.source, [], 0, len(self.source)
        while i < n:
            ch = src[i]
            if ch.isspace():
                i += 1
                continue
            if ch == "(":
                out.append(_Token("LPAREN", ch, i))
                i += 1
            elif ch == ")":
                out.append(_Token("RPAREN", ch, i))
                i += 1
            elif ch == ",":
                out.append(_Token("COMMA", ch, i))
                i += 1
            elif ch in "'\"":
                end, value = self._string(i, ch)
                out.append(_Token("STRING" if ch == "'" else "DSTRING", src[i:end], i, value))
                i = end
            elif ch == "`":
                m = _BACKTICK_RE.match(src, i)
                if m is None:
                    self.fail(f"unterminated backtick quote starting at position {i}")
                out.append(_Token("BACKTICK", m.group(), i))
                i = m.end()
            elif (m := _OPERATOR_RE.match(src, i)) is not None:
                out.append(_Token("OP", m.group(), i, {"==": "=", "<>": "!="}.get(m.group(), m.group())))
                i = m.end()
            elif (m := _NUMBER_RE.match(src, i)) is not None:
                end = m.end()
                if end < n and _NUMBER_END_RE.match(src, end):
                    bad = re.match(r"[\w.\-+]+", src[i:])
                    text = bad.group() if bad else src[i : end + 1]
                    self.fail(f"invalid number {text!r} at position {i}")
                out.append(_Token("NUMBER", m.group(), i, m.group()))
                i = end
            elif (m := _WORD_RE.match(src, i)) is not None:
                text, end = m.group(), m.end()
                if end < n and src[end] == ".":  # the identifier stops short of a key
                    nxt = src[end + 1] if end + 1 < n else ""
                    if nxt in ("`", '"'):
                        quote = "backtick quote" if nxt == "`" else "double quote"
                        self.fail(f"unterminated {quote} starting at position {end + 1}")
                    self.fail(f"expected a key after {src[i : end + 1]!r} at position {end + 1}")
                if "." not in text and text.upper() in _KEYWORDS:
                    out.append(_Token("KEYWORD", text, i, text.upper()))
                else:
                    out.append(_Token("WORD", text, i))
                i = m.end()
            else:
                self.fail(f"unexpected character {ch!r} at position {i}")
        out.append(_Token("EOF", "", n))
        return out

    def _string(self, start: int, quote: str) -> tuple[int, str]:
        """A quoted string: a doubled quote or a backslash before the quote (or a backslash) escapes it."""
        src, i, n, chars = self.source, start + 1, len(self.source), []
        while i < n:
            ch = src[i]
            if ch == "\\" and i + 1 < n and src[i + 1] in (quote, "\\"):
                chars.append(src[i + 1])
                i += 2
                continue
            if ch == quote:
                if i + 1 < n and src[i + 1] == quote:
                    chars.append(quote)
                    i += 2
                    continue
                return i + 1, "".join(chars)
            chars.append(ch)
            i += 1
        self.fail(f"unterminated string starting at position {start}")


def _unquote_segment(segment: str) -> str:
    if len(segment) >= 2 and segment[0] == segment[-1] and segment[0] in '`"':
        inner = segment[1:-1]
        if segment[0] == '"':
            inner = re.sub(r'\\(["\\])|""', lambda m: m.group(1) or '"', inner)
        return inner
    return segment


def _split_identifier(text: str) -> tuple[str | None, str]:
    """``tags.`a.b``` -> ("tags", "a.b"); ``status`` -> (None, "status"); ```run name``` -> (None, "run name")."""
    if text[0] in '`"':
        m = re.match(_SEGMENT, text)
        assert m is not None
        if m.end() == len(text):
            return None, _unquote_segment(text)
        head, rest = m.group(), text[m.end() + 1 :]
        return _unquote_segment(head), _unquote_segment(rest)
    if "." not in text:
        return None, text
    head, rest = text.split(".", 1)
    return head, _unquote_segment(rest)


# --------------------------------------------------------------------------------------------- parser

_MAX_DEPTH = 50  # bounds the recursion on "(((((...": a clear error instead of a RecursionError
#: Comparisons in one filter: every database has a limit on expression size (SQLite's is a tree depth of
#: 1000), and a filter long enough to reach it should be refused by name rather than fail inside the database.
MAX_FILTER_COMPARISONS = 100
#: Values in one IN (...) list (SQLite allows 32,766 bound parameters per statement)
MAX_IN_VALUES = 10000


class _Parser:
    def __init__(self, grammar: _Grammar, source: str, what: str = "filter") -> None:
        self.grammar = grammar
        self.source = source
        self.what = what
        self.tokens = _Tokenizer(source, self.fail).tokens()
        self.i = 0
        self.depth = 0

    # -- plumbing
    def fail(self, problem: str) -> NoReturn:
        raise InvalidParameterError(f"Invalid {self.what} {self.source!r}: {problem}")

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def advance(self) -> _Token:
        tok = self.tokens[self.i]
        if tok.type != "EOF":
            self.i += 1
        return tok

    def is_keyword(self, *words: str) -> bool:
        return self.tok.type == "KEYWORD" and self.tok.value in words

    @staticmethod
    def describe(tok: _Token) -> str:
        return "end of input" if tok.type == "EOF" else repr(tok.text)

    # -- grammar
    def parse(self) -> Node:
        node = self.or_expr()
        if self.tok.type != "EOF":
            if self.tok.type == "RPAREN":
                self.fail(f"unbalanced ')' at position {self.tok.pos}")
            self.fail(
                f"expected AND, OR or the end of the filter at position {self.tok.pos}, found {self.describe(self.tok)}"
            )
        return node

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while self.is_keyword("OR"):
            self.advance()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Node:
        items = [self.primary()]
        while self.is_keyword("AND"):
            self.advance()
            items.append(self.primary())
        flat: list[Node] = []
        for item in items:
            flat.extend(item.items if isinstance(item, And) else (item,))
        return flat[0] if len(flat) == 1 else And(tuple(flat))

    def primary(self) -> Node:
        tok = self.tok
        if tok.type == "LPAREN":
            self.depth += 1
            if self.depth > _MAX_DEPTH:
                self.fail(f"parentheses nested more than {_MAX_DEPTH} deep at position {tok.pos}")
            self.advance()
            node = self.or_expr()
            self.depth -= 1
            if self.tok.type != "RPAREN":
                self.fail(
                    f"missing ')' to close the '(' at position {tok.pos}: found {self.describe(self.tok)} "
                    f"at position {self.tok.pos}"
                )
            self.advance()
            return node
        if tok.type in ("WORD", "BACKTICK", "DSTRING"):
            return self.comparison()
        previous = self.tokens[self.i - 1] if self.i else None
        after = f" after {previous.text!r}" if previous is not None else ""
        self.fail(f"expected a comparison{after} at position {tok.pos}, found {self.describe(tok)}")

    def identifier(self) -> tuple[str, str, _Token]:
        tok = self.advance()
        raw = tok.text
        if tok.type == "DSTRING":
            prefix, key = None, tok.value
        else:
            prefix, key = _split_identifier(raw)
        g = self.grammar
        if prefix is None:
            kind = ATTRIBUTE
        else:
            kind = g.extra_prefixes.get(prefix.lower()) or _PREFIXES.get(prefix.lower(), "")
            if not kind:
                self.fail(
                    f"unknown entity type {prefix!r} in {raw!r} at position {tok.pos}; expected one of "
                    + ", ".join(sorted({_PREFIX_HINT[k] for k in self.allowed_kinds()}))
                )
            if kind not in self.allowed_kinds():
                self.fail(
                    f"{_PREFIX_HINT[kind]} cannot be used in a {g.name.replace('_', ' ')} {self.what} "
                    f"({raw!r} at position {tok.pos}); expected one of "
                    + ", ".join(sorted({_PREFIX_HINT[k] for k in self.allowed_kinds()}))
                )
        if not key:
            self.fail(f"empty key in {raw!r} at position {tok.pos}")
        return kind, key, tok

    def allowed_kinds(self) -> set[str]:
        return {ATTRIBUTE, *self.grammar.kind_ops}

    def comparison(self) -> Comparison:
        g = self.grammar
        kind, key, id_tok = self.identifier()
        numeric = False
        if kind == ATTRIBUTE:
            if key in g.string_attrs:
                key = g.string_attrs[key]
            elif key in g.numeric_attrs:
                key, numeric = g.numeric_attrs[key], True
            else:
                hint = ""
                if g.kind_ops:
                    hint = "; prefix other keys with " + " or ".join(
                        f"'{_PREFIX_HINT[k]}.'" for k in sorted(g.kind_ops)
                    )
                self.fail(
                    f"unknown attribute {key!r} at position {id_tok.pos}; valid attributes are "
                    + ", ".join(g.attr_names())
                    + hint
                )
            allowed = set(NUMERIC_OPS if numeric else STRING_OPS)
            if not numeric and (g.list_attrs is None or key in g.list_attrs):
                allowed |= LIST_OPS
        elif kind in g.kind_keys:
            keys = g.kind_keys[kind]
            if key not in keys and not any(k.endswith(".") and key.startswith(k) and key != k for k in keys):
                self.fail(
                    f"unknown {kind} key {key!r} at position {id_tok.pos}; valid keys are "
                    + ", ".join(sorted(k + "<key>" if k.endswith(".") else k for k in keys))
                )
            allowed = set(g.kind_ops[kind])
        elif kind == DATASET:
            if key not in g.dataset_keys:
                self.fail(
                    f"unknown dataset key {key!r} at position {id_tok.pos}; valid keys are "
                    + ", ".join(sorted(g.dataset_keys))
                )
            allowed = set(g.kind_ops[kind])
        else:
            allowed = set(g.kind_ops[kind])
            numeric = kind == METRIC

        op, op_tok = self.operator(id_tok)
        subject = f"attribute {key!r}" if kind == ATTRIBUTE else f"{kind} {key!r}"
        if op not in allowed:
            self.fail(
                f"operator {op!r} at position {op_tok.pos} is not allowed for {subject}; allowed: "
                + ", ".join(o for o in _OP_ORDER if o in allowed)
            )
        if op in NULL_OPS:
            return Comparison(kind, key, op, None)
        if op in LIST_OPS:
            return Comparison(kind, key, op, self.string_list(op_tok))

        tok = self.advance()
        if tok.type == "EOF":
            self.fail(f"expected a value after {op_tok.text!r} at position {tok.pos}")
        if numeric:
            if tok.type == "NUMBER":
                return Comparison(kind, key, op, self.number(tok, integral=kind == ATTRIBUTE))
            if (
                tok.type in ("STRING", "DSTRING")
                and key in g.quoted_numbers
                and re.fullmatch(r"\d+", tok.value)
            ):
                return Comparison(kind, key, op, int(tok.value))
            self.fail(
                f"{subject} must be compared with a number, found {self.describe(tok)} at position {tok.pos}"
            )
        if kind in g.number_kinds and tok.type == "NUMBER":
            return Comparison(kind, key, op, self.number(tok, integral=False))
        if kind in g.number_kinds and op in ("<", "<=", ">", ">="):
            self.fail(
                f"{subject} must be compared with a number, found {self.describe(tok)} at position {tok.pos}"
            )
        if tok.type in ("STRING", "DSTRING"):
            return Comparison(kind, key, op, tok.value)
        self.fail(
            f"{subject} must be compared with a quoted string (e.g. 'value'), found {self.describe(tok)} "
            f"at position {tok.pos}"
        )

    def operator(self, id_tok: _Token) -> tuple[str, _Token]:
        tok = self.advance()
        if tok.type == "OP":
            return tok.value, tok
        if tok.type == "KEYWORD":
            if tok.value in ("LIKE", "ILIKE", "IN"):
                return tok.value, tok
            if tok.value == "NOT":
                nxt = self.advance()
                if nxt.type == "KEYWORD" and nxt.value == "IN":
                    return "NOT IN", tok
                self.fail(f"expected IN after NOT at position {nxt.pos}, found {self.describe(nxt)}")
            if tok.value == "IS":
                nxt = self.advance()
                if nxt.type == "KEYWORD" and nxt.value == "NULL":
                    return "IS NULL", tok
                if nxt.type == "KEYWORD" and nxt.value == "NOT":
                    last = self.advance()
                    if last.type == "KEYWORD" and last.value == "NULL":
                        return "IS NOT NULL", tok
                    self.fail(
                        f"expected NULL after IS NOT at position {last.pos}, found {self.describe(last)}"
                    )
                self.fail(
                    f"expected NULL or NOT NULL after IS at position {nxt.pos}, found {self.describe(nxt)}"
                )
        self.fail(
            f"expected a comparison operator after {id_tok.text!r} at position {tok.pos}, "
            f"found {self.describe(tok)}"
        )

    def string_list(self, op_tok: _Token) -> tuple[str, ...]:
        tok = self.advance()
        if tok.type != "LPAREN":
            self.fail(
                f"expected '(' after {op_tok.text.upper()} at position {tok.pos}, found {self.describe(tok)}"
            )
        values: list[str] = []
        while True:
            tok = self.advance()
            if tok.type == "RPAREN" and values:
                break
            if tok.type == "RPAREN":
                self.fail(f"empty list at position {tok.pos}: expected at least one quoted string")
            if tok.type not in ("STRING", "DSTRING"):
                self.fail(
                    f"expected a quoted string in the list at position {tok.pos}, found {self.describe(tok)}"
                )
            values.append(tok.value)
            sep = self.advance()
            if sep.type == "RPAREN":
                break
            if sep.type != "COMMA":
                self.fail(
                    f"expected ',' or ')' in the list at position {sep.pos}, found {self.describe(sep)}"
                )
            if self.tok.type == "RPAREN":  # a trailing comma, as Python tuples allow
                self.advance()
                break
        return tuple(values)

    def number(self, tok: _Token, integral: bool) -> float | int:
        text = tok.value
        try:
            if integral and re.fullmatch(r"[+-]?\d+", text):
                number = int(text)
                if -(2**63) <= number < 2**63:
                    return number
            return float(text)
        except (ValueError, OverflowError):
            self.fail(f"invalid number {text!r} at position {tok.pos}")


def parse_filter(entity: str, filter_string: str | None) -> Node | None:
    """Parse one entity's filter string; ``None`` for an empty filter.

    ``entity`` is one of :data:`ENTITIES` ("run", "experiment", "registered_model", "model_version",
    "logged_model").
    """
    grammar = _grammar(entity)
    if filter_string is None:
        return None
    if not isinstance(filter_string, str):
        raise InvalidParameterError(f"Invalid filter {filter_string!r}: expected a string")
    if not filter_string.strip():
        return None
    if "\x00" in filter_string:  # PostgreSQL cannot compare text with NUL: refused for every backend alike
        raise InvalidParameterError(f"Invalid filter {filter_string!r}: NUL characters are not allowed")
    tree = _Parser(grammar, filter_string).parse()
    found = list(comparisons(tree))
    if len(found) > MAX_FILTER_COMPARISONS:
        raise InvalidParameterError(
            f"Invalid filter: it has {len(found)} comparisons; the limit is {MAX_FILTER_COMPARISONS}"
        )
    for comparison in found:
        if isinstance(comparison.value, (list, tuple)) and len(comparison.value) > MAX_IN_VALUES:
            raise InvalidParameterError(
                f"Invalid filter: an IN list has {len(comparison.value)} values; the limit is {MAX_IN_VALUES}"
            )
    return tree


# ------------------------------------------------------------------------------------------- order_by


def _parse_order_clause(grammar: _Grammar, clause: str) -> OrderKey:
    if not isinstance(clause, str):
        raise InvalidParameterError(f"Invalid order_by clause {clause!r}: expected a string")
    if "\x00" in clause:
        raise InvalidParameterError(f"Invalid order_by clause {clause!r}: NUL characters are not allowed")
    parser = _Parser(grammar, clause, what="order_by clause")
    tok = parser.tok
    if tok.type not in ("WORD", "BACKTICK", "DSTRING"):
        parser.fail(f"expected a field name at position {tok.pos}, found {parser.describe(tok)}")
    kind, key, id_tok = parser.identifier()
    if kind not in grammar.order_kinds:
        parser.fail(
            f"cannot order by {_PREFIX_HINT[kind]} ({id_tok.text!r}); "
            + (
                "valid fields are " + ", ".join(sorted(grammar.order_attrs))
                if grammar.order_kinds == {ATTRIBUTE}
                else "expected one of " + ", ".join(sorted(_PREFIX_HINT[k] for k in grammar.order_kinds))
            )
        )
    if kind == ATTRIBUTE:
        if key not in grammar.order_attrs:
            parser.fail(
                f"unknown field {key!r} at position {id_tok.pos}; valid fields are "
                + ", ".join(sorted(grammar.order_attrs))
            )
        key = grammar.order_attrs[key]
    ascending = True
    tok = parser.advance()
    if tok.type in ("WORD", "KEYWORD") and tok.text.upper() in ("ASC", "DESC"):
        ascending = tok.text.upper() == "ASC"
        tok = parser.advance()
    elif tok.type != "EOF":
        parser.fail(f"expected ASC or DESC at position {tok.pos}, found {parser.describe(tok)}")
    if tok.type != "EOF":
        parser.fail(f"unexpected {parser.describe(tok)} at position {tok.pos} after the sort direction")
    return OrderKey(kind, key, ascending)


def _check_duplicates(keys: list[OrderKey], raw: Any) -> list[OrderKey]:
    seen: set[tuple[str, str]] = set()
    for k in keys:
        if (k.kind, k.key) in seen:
            raise InvalidParameterError(f"`order_by` contains duplicate fields: {raw}")
        seen.add((k.kind, k.key))
    return keys


def parse_order_by(entity: str, order_by: str | Sequence[str] | None) -> list[OrderKey]:
    """MLflow's ``order_by`` strings (``"metrics.acc DESC"``, ASC by default) -> sort keys.

    Keys come back canonical (aliases such as ``created`` resolved); a field named twice is an error.
    """
    grammar = _grammar(entity)
    if not order_by:
        return []
    if isinstance(order_by, str):
        order_by = [order_by]
    keys = [
        _parse_order_clause(grammar, clause)
        for clause in order_by
        if not (isinstance(clause, str) and not clause.strip())
    ]
    return _check_duplicates(keys, order_by)


def parse_logged_model_order_by(order_by: Sequence[Mapping[str, Any] | str] | None) -> list[OrderKey]:
    """The logged-model search's ``order_by``: dicts with ``field_name``, ``ascending`` (default True),
    and for metrics optionally ``dataset_name`` / ``dataset_digest``. Plain strings are accepted too."""
    grammar = _GRAMMARS["logged_model"]
    keys: list[OrderKey] = []
    for item in order_by or []:
        if isinstance(item, str):
            keys.append(_parse_order_clause(grammar, item))
            continue
        if not isinstance(item, Mapping):
            raise InvalidParameterError(f"Invalid order_by {item!r}: expected an object with 'field_name'")
        field_name = item.get("field_name")
        if not isinstance(field_name, str) or not field_name.strip():
            raise InvalidParameterError(
                f"Invalid order_by {dict(item)!r}: 'field_name' must be a non-empty string"
            )
        ascending = item.get("ascending", True)
        if ascending is None:
            ascending = True
        if not isinstance(ascending, bool):
            raise InvalidParameterError(
                f"Invalid order_by {dict(item)!r}: 'ascending' must be a boolean, got {type(ascending).__name__}"
            )
        dataset_name = item.get("dataset_name") or None
        dataset_digest = item.get("dataset_digest") or None
        if dataset_digest and not dataset_name:
            raise InvalidParameterError(
                f"Invalid order_by {dict(item)!r}: 'dataset_digest' needs 'dataset_name' as well"
            )
        base = _parse_order_clause(grammar, field_name.strip())
        keys.append(OrderKey(base.kind, base.key, ascending, dataset_name, dataset_digest))
    return _check_duplicates(keys, order_by)
