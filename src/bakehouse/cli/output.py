"""How the CLI shows results: rich tables for people, ``--json`` for scripts, one red line for errors.

rich is imported on first use, so ``bakehouse --version`` never pays for it.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # rich is imported lazily at run time
    from rich.console import Console

_consoles: dict[bool, Console] = {}


def console(stderr: bool = False) -> Console:
    """A rich Console on stdout (or stderr); made per process, lazily."""
    cached = _consoles.get(stderr)
    # click's CliRunner swaps sys.stdout per invocation: rebuild when the stream changed.
    stream = sys.stderr if stderr else sys.stdout
    if cached is None or cached.file is not stream:
        from rich.console import Console

        # Piped output is not cut at 80 columns: scripts and logs read better with full ids and paths.
        width = None if _isatty(stream) else 160
        cached = Console(file=stream, stderr=stderr, highlight=False, soft_wrap=True, width=width)
        _consoles[stderr] = cached
    return cached


def _isatty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except (AttributeError, ValueError):
        return False


def error(message: str) -> None:
    """One clear red line on stderr (no traceback)."""
    line = " ".join(str(message).split())
    console(stderr=True).print(f"[bold red]Error:[/] {_escape(line)}")


def warn(message: str) -> None:
    console(stderr=True).print(f"[yellow]Warning:[/] {_escape(message)}")


def info(message: str) -> None:
    """A progress/status line for people: stderr, so stdout stays clean for data."""
    console(stderr=True).print(_escape(message))


def success(message: str) -> None:
    console().print(f"[green]✓[/] {_escape(message)}")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def to_jsonable(value: Any) -> Any:
    """Entities (dataclasses with slots), enums and PagedLists as plain JSON values."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    fields = getattr(value, "__dataclass_fields__", None)
    if fields is not None:
        return {name: to_jsonable(getattr(value, name)) for name in fields}
    if isinstance(value, float) and math.isnan(value):  # NaN is not JSON
        return "NaN"
    return value


def print_json(value: Any) -> None:
    """Machine-readable output on stdout: exactly one JSON document."""
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def print_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    title: str | None = None,
    empty: str = "Nothing found.",
) -> None:
    """A rich table on stdout; ``empty`` is printed instead when there are no rows."""
    from rich.table import Table

    rows = list(rows)
    if not rows:
        console().print(f"[dim]{_escape(empty)}[/]")
        return
    table = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        # ids stay on one line so they can be copied; everything else folds
        table.add_column(column, overflow="fold", no_wrap=column.endswith("ID"))
    for row in rows:
        table.add_row(*(_escape(format_value(cell)) for cell in row))
    console().print(table)


def print_mapping(title: str, mapping: dict[str, Any]) -> None:
    """Key/value pairs as a two-column table (used by ``describe`` commands)."""
    print_table(("Key", "Value"), sorted(mapping.items()), title=title, empty=f"No {title.lower()}.")


def format_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def format_time(millis: int | None) -> str:
    """Epoch milliseconds as a local-free UTC timestamp."""
    if not millis:
        return ""
    return datetime.fromtimestamp(millis / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def format_pairs(mapping: dict[str, Any], limit: int = 6) -> str:
    """``k=v`` per line, at most ``limit`` of them (then ``… +N more``), for dense table cells."""
    items = sorted(mapping.items())
    lines = [f"{k}={format_value(v)}" for k, v in items[:limit]]
    if len(items) > limit:
        lines.append(f"… +{len(items) - limit} more")
    return "\n".join(lines)


def human_size(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
