"""The registry's search language: MLflow's filter grammar plus OR and parentheses, compiled to SQL.

Parsing is separate from compiling so that errors name the offending clause before any query runs.
``LIKE`` is case-sensitive on every database (on SQLite it becomes ``GLOB``); ``ILIKE`` is not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from bakehouse.errors import InvalidParameterError


@dataclass(frozen=True)
class Comparison:
    kind: str  # "attribute" | "tag"
    key: str
    op: str  # = != > >= < <= LIKE ILIKE IN NOT IN
    value: Any  # str | int | float | tuple


@dataclass(frozen=True)
class BoolOp:
    op: str  # AND | OR
    items: tuple[Any, ...]


_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<lparen>\()|(?P<rparen>\))|(?P<comma>,)|
        (?P<op>!=|<>|>=|<=|=|>|<)|
        (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*")|
        (?P<backtick>`[^`]*`)|
        (?P<number>-?\d+(?:\.\d+)?(?![\w.]))|
        (?P<word>[A-Za-z_][\w.]*(?:\.`[^`]*`|\."[^"]*")?)
    )""",
    re.VERBOSE,
)

_TAG_PREFIXES = ("tags.", "tag.")
_ATTR_PREFIXES = ("attributes.", "attribute.", "attr.")


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None or match.end() == pos:
            raise InvalidParameterError(f"Invalid filter string: cannot parse near '{text[pos:pos + 30]}'")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return tokens


def _unquote(token: str) -> str:
    quote = token[0]
    body = token[1:-1]
    if quote == "'":
        body = body.replace("''", "'")
    return body.replace("\\" + quote, quote).replace("\\\\", "\\")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise InvalidParameterError(f"Invalid filter string '{self.text}': unexpected end of input")
        self.pos += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token and token[0] == "word" and token[1].upper() == word:
            self.pos += 1
            return True
        return False

    def parse(self) -> Any:
        node = self.parse_or()
        if self.peek() is not None:
            raise InvalidParameterError(
                f"Invalid filter string '{self.text}': unexpected '{self.peek()[1]}'"  # type: ignore[index]
            )
        return node

    def parse_or(self) -> Any:
        items = [self.parse_and()]
        while self.keyword("OR"):
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else BoolOp("OR", tuple(items))

    def parse_and(self) -> Any:
        items = [self.parse_atom()]
        while self.keyword("AND"):
            items.append(self.parse_atom())
        return items[0] if len(items) == 1 else BoolOp("AND", tuple(items))

    def parse_atom(self) -> Any:
        token = self.peek()
        if token and token[0] == "lparen":
            self.take()
            node = self.parse_or()
            if self.take()[0] != "rparen":
                raise InvalidParameterError(f"Invalid filter string '{self.text}': missing ')'")
            return node
        return self.parse_comparison()

    def parse_identifier(self) -> tuple[str, str]:
        kind, raw = self.take()
        if kind == "backtick":
            return "attribute", raw[1:-1]
        if kind != "word":
            raise InvalidParameterError(f"Invalid filter string '{self.text}': expected an identifier, got '{raw}'")
        lowered = raw.lower()
        for prefix in _TAG_PREFIXES:
            if lowered.startswith(prefix):
                return "tag", _strip_key_quotes(raw[len(prefix):])
        for prefix in _ATTR_PREFIXES:
            if lowered.startswith(prefix):
                return "attribute", _strip_key_quotes(raw[len(prefix):])
        if lowered in ("tags", "tag"):  # tags.`key` tokenised as word + backtick
            nxt = self.peek()
            if nxt and nxt[0] == "backtick":
                self.take()
                return "tag", nxt[1][1:-1]
        if "." in raw:
            raise InvalidParameterError(f"Invalid entity type '{raw.split('.')[0]}' in filter string '{self.text}'")
        return "attribute", raw

    def parse_comparison(self) -> Comparison:
        kind, key = self.parse_identifier()
        token = self.take()
        if token[0] == "op":
            op = "!=" if token[1] == "<>" else token[1]
        elif token[0] == "word" and token[1].upper() in ("LIKE", "ILIKE", "IN"):
            op = token[1].upper()
        elif token[0] == "word" and token[1].upper() == "NOT" and self.keyword("IN"):
            op = "NOT IN"
        else:
            raise InvalidParameterError(f"Invalid comparator '{token[1]}' in filter string '{self.text}'")
        if op in ("IN", "NOT IN"):
            return Comparison(kind, key, op, self.parse_list())
        vkind, raw = self.take()
        value: Any
        if vkind == "string":
            value = _unquote(raw)
        elif vkind == "number":
            value = float(raw) if "." in raw else int(raw)
        else:
            raise InvalidParameterError(
                f"Invalid value '{raw}' in filter string '{self.text}': strings must be quoted"
            )
        return Comparison(kind, key, op, value)

    def parse_list(self) -> tuple[Any, ...]:
        if self.take()[0] != "lparen":
            raise InvalidParameterError(f"Invalid filter string '{self.text}': IN expects a list '(...)'")
        values: list[Any] = []
        while True:
            kind, raw = self.take()
            if kind == "string":
                values.append(_unquote(raw))
            elif kind == "number":
                values.append(raw)
            else:
                raise InvalidParameterError(f"Invalid value '{raw}' in list of filter string '{self.text}'")
            kind, raw = self.take()
            if kind == "rparen":
                return tuple(values)
            if kind != "comma":
                raise InvalidParameterError(f"Invalid filter string '{self.text}': expected ',' or ')'")


def _strip_key_quotes(key: str) -> str:
    if len(key) >= 2 and key[0] == key[-1] and key[0] in "`\"":
        return key[1:-1]
    return key


def parse_filter(filter_string: str | None) -> Any:
    """The AST of a filter string, or None when there is no filter."""
    if filter_string is None or not filter_string.strip():
        return None
    return _Parser(filter_string).parse()


def mentions_tag(node: Any, key: str) -> bool:
    if node is None:
        return False
    if isinstance(node, Comparison):
        return node.kind == "tag" and node.key == key
    return any(mentions_tag(item, key) for item in node.items)


def parse_order_by(
    order_by: Sequence[str] | None, valid: dict[str, str]
) -> list[tuple[str, bool]]:
    """``["name DESC", ...]`` -> ``[(column, ascending), ...]``; ``valid`` maps user keys to columns."""
    result: list[tuple[str, bool]] = []
    seen: set[str] = set()
    for clause in order_by or []:
        parts = clause.strip().split()
        if not parts or len(parts) > 2:
            raise InvalidParameterError(f"Invalid order_by clause '{clause}'.")
        key = parts[0].strip("`\"")
        for prefix in _ATTR_PREFIXES:
            if key.lower().startswith(prefix):
                key = key[len(prefix):]
        ascending = True
        if len(parts) == 2:
            direction = parts[1].upper()
            if direction not in ("ASC", "DESC"):
                raise InvalidParameterError(
                    f"Invalid order_by clause '{clause}'. Could not be parsed: direction must be ASC or DESC."
                )
            ascending = direction == "ASC"
        column = valid.get(key)
        if column is None:
            raise InvalidParameterError(
                f"Invalid order by key '{key}' specified. Valid keys are '{sorted(set(valid))}'"
            )
        if column in seen:
            raise InvalidParameterError(f"`order_by` contains duplicate fields: {list(order_by or [])}")
        seen.add(column)
        result.append((column, ascending))
    return result


# ------------------------------------------------------------------------------------------ compiling


def like_to_glob(pattern: str) -> str:
    """SQL LIKE pattern -> SQLite GLOB pattern, which is case-sensitive."""
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


def compare(column: Any, op: str, value: Any, dialect: str) -> Any:
    """One SQL comparison with MLflow's semantics (case-sensitive LIKE, case-insensitive ILIKE)."""
    from sqlalchemy import func  # the store layer already depends on SQLAlchemy

    if op == "=":
        return column == value
    if op == "!=":
        return column != value
    if op == ">":
        return column > value
    if op == ">=":
        return column >= value
    if op == "<":
        return column < value
    if op == "<=":
        return column <= value
    if op == "LIKE":
        if dialect == "sqlite":
            return column.op("GLOB")(like_to_glob(str(value)))
        if dialect == "mysql":
            return column.like(value).collate("utf8mb4_bin")
        return column.like(value)
    if op == "ILIKE":
        return func.lower(column).like(func.lower(value))
    if op == "IN":
        return column.in_(list(value))
    if op == "NOT IN":
        return column.not_in(list(value))
    raise InvalidParameterError(f"Invalid comparator '{op}'")


def compile_filter(node: Any, leaf: Callable[[Comparison], Any]) -> Any:
    """Fold the AST into one SQL expression; ``leaf`` compiles a single comparison."""
    from sqlalchemy import and_, or_

    if isinstance(node, Comparison):
        return leaf(node)
    parts = [compile_filter(item, leaf) for item in node.items]
    return and_(*parts) if node.op == "AND" else or_(*parts)
