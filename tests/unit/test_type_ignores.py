"""Every ``type: ignore`` in the package names its error code and says why (issue 16's rule).

mypy only checks ``src/bakehouse`` (strict), so an ignore anywhere else would silence nothing: tests and
bench carry none. A reason is a comment on the same line after the ignore, or on the line just above it.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IGNORE = re.compile(r"#\s*type:\s*ignore(?P<code>\[[^\]]+\])?(?P<rest>.*)$")


def unexplained_ignores(paths: list[Path], root: Path = ROOT) -> list[str]:
    found = []
    for path in paths:
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            match = IGNORE.search(line)
            if not match:
                continue
            reason_here = match.group("rest").strip().startswith("#")
            reason_above = number > 1 and lines[number - 2].strip().startswith("#")
            if not match.group("code") or not (reason_here or reason_above):
                found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    return found


def test_each_type_ignore_in_the_package_names_its_code_and_reason() -> None:
    assert unexplained_ignores(sorted((ROOT / "src").rglob("*.py"))) == []


def test_tests_and_benchmarks_carry_no_type_ignores() -> None:
    unchecked = [p for d in ("tests", "bench") for p in sorted((ROOT / d).rglob("*.py"))]
    assert [
        p.relative_to(ROOT) for p in unchecked if any(map(IGNORE.search, p.read_text().splitlines()))
    ] == []


def test_the_rule_catches_a_bare_ignore(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    ignore = "# type" + ": ignore"  # split, so this file carries no ignore itself
    sample.write_text(
        f"x: int = 'a'  {ignore}\ny: int = 'b'  {ignore}[assignment]\nz: int = 'c'  {ignore}[assignment]  # why\n"
    )
    assert unexplained_ignores([sample], root=tmp_path) == [
        f"sample.py:1: x: int = 'a'  {ignore}",
        f"sample.py:2: y: int = 'b'  {ignore}[assignment]",
    ]
