"""``--help`` of every command group lists each command with its description whole (wrapped, not cut)."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from bakehouse.cli.main import LAZY_COMMANDS, load_command, main


def _groups() -> list[tuple[list[str], click.Group]]:
    groups: list[tuple[list[str], click.Group]] = [([], main)]
    for name in sorted(LAZY_COMMANDS):
        command = load_command(name)
        if isinstance(command, click.Group):
            groups.append(([name], command))
    return groups


def _listed(help_text: str) -> dict[str, str]:
    """The Commands section as {name: description with its wrapped lines joined}."""
    section = help_text.split("Commands:\n", 1)[1]
    rows: dict[str, str] = {}
    current = None
    for line in section.splitlines():
        match = re.match(r"^  (\S+)\s{2,}(.*)$", line)
        if match:
            current = match.group(1)
            rows[current] = match.group(2).strip()
        elif current and line.startswith("    "):
            rows[current] += " " + line.strip()
    return rows


@pytest.mark.parametrize("path, group", _groups(), ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_every_listed_command_shows_its_first_sentence_whole(path: list[str], group: click.Group) -> None:
    result = CliRunner().invoke(main, [*path, "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    listed = _listed(result.output)
    ctx = click.Context(group)
    expected = {}
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name) or load_command(name)
        if command is not None and not command.hidden:
            first = " ".join((command.short_help or command.help or "").split("\n\n")[0].split())
            expected[name] = first.split(". ")[0].rstrip(".")
    assert set(listed) == set(expected)
    for name, description in listed.items():
        assert not description.endswith("..."), f"{' '.join(path)} {name}: cut off: {description!r}"
        assert description.rstrip(".").startswith(expected[name]), (name, description, expected[name])
