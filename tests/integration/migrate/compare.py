"""Field-by-field comparison of two ``mlflow_dump.py`` outputs (source store vs. migrated destination).

Every difference is reported as ``path: source value != destination value``, except the documented ones
(``docs/migrating-from-mlflow.md``, "What changes"), which each comparison names explicitly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: (path, source value, destination value) -> whether the difference is a documented one
Allowance = Callable[[str, Any, Any], bool]


def diff(source: Any, destination: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """Every leaf where the two structures differ."""
    if isinstance(source, dict) and isinstance(destination, dict):
        out: list[tuple[str, Any, Any]] = []
        for key in sorted(set(source) | set(destination), key=str):
            out += diff(source.get(key, "<absent>"), destination.get(key, "<absent>"), f"{path}/{key}")
        return out
    if isinstance(source, list) and isinstance(destination, list) and len(source) == len(destination):
        out = []
        for i, (a, b) in enumerate(zip(source, destination, strict=True)):
            out += diff(a, b, f"{path}[{i}]")
        return out
    return [] if source == destination else [(path, source, destination)]


def unset_string(path: str, source: Any, destination: Any) -> bool:
    """Read through a server (proto JSON), an unset string field arrives as ""; read from a store, as None."""
    return source in (None, "") and destination in (None, "")


def artifact_location_moved(path: str, source: Any, destination: Any) -> bool:
    """Copied artifacts live in the destination's artifact store: their locations change, their bytes don't."""
    return path.endswith(("/artifact_location", "/artifact_uri"))


def compare(
    source: dict[str, Any], destination: dict[str, Any], allowances: list[Allowance] | None = None
) -> list[str]:
    allowed = [unset_string, *(allowances or [])]
    problems = []
    for path, a, b in diff(
        {k: v for k, v in source.items() if k != "mlflow"},
        {k: v for k, v in destination.items() if k != "mlflow"},
    ):
        if not any(allow(path, a, b) for allow in allowed):
            problems.append(f"{path}: {str(a)[:200]!s} != {str(b)[:200]!s}")
    return problems
