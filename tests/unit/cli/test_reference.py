"""The generated references in docs/ (commands, settings, REST endpoints) match the code, and nothing is left
out of them: a command or option without help, an environment variable read outside the settings table, an
endpoint missing from the page all fail here. The fix is `python -m bakehouse.cli.reference`."""

from __future__ import annotations

import ast
import difflib
from pathlib import Path

import click
import pytest

from bakehouse import settings
from bakehouse.cli.main import main as bakehouse_command
from bakehouse.cli.reference import PAGES, commands, stale_pages, undocumented_commands
from bakehouse.wire.endpoints import all_endpoints

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs"
PACKAGE = ROOT / "src" / "bakehouse"


def test_the_reference_pages_are_up_to_date() -> None:
    stale = stale_pages(DOCS)
    differences = []
    for page in stale:
        written = Path(page).read_text(encoding="utf-8").splitlines() if Path(page).is_file() else []
        generated = PAGES[Path(page).name]().splitlines()
        differences += list(difflib.unified_diff(written, generated, page, "generated", lineterm="", n=1))
    assert not stale, "regenerate them: python -m bakehouse.cli.reference\n" + "\n".join(differences[:40])


def test_every_command_and_option_has_help() -> None:
    assert undocumented_commands() == []


def test_every_command_option_and_endpoint_is_on_its_page() -> None:
    """Guards the generator itself: each thing it should list is listed."""
    cli_page, rest_page = (DOCS / "cli.md").read_text(), (DOCS / "rest.md").read_text()
    for path, command, ctx in commands():
        assert f"## `{path}`" in cli_page
        for param in command.get_params(ctx):
            if isinstance(param, click.Option) and not param.hidden:
                for opt in param.opts:
                    assert f"{opt}" in cli_page, f"{path} {opt}"
    for endpoint in all_endpoints():
        assert f"| {endpoint.name}" in rest_page and f"/api/{endpoint.version}{endpoint.path}`" in rest_page


def test_every_setting_is_described_and_on_the_page() -> None:
    page = (DOCS / "settings.md").read_text()
    assert len({s.key for s in settings.SETTINGS}) == len(settings.SETTINGS)
    for setting in settings.SETTINGS:
        assert setting.description.strip() and setting.section in settings.SECTIONS, setting.key
        for name in setting.variables:
            assert f"`{name}`" in page, name


def test_reading_a_setting_that_is_not_in_the_table_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAKEHOUSE_NOT_A_SETTING", "1")
    with pytest.raises(KeyError):
        settings.env("NOT_A_SETTING")


def _environment_reads(tree: ast.AST) -> list[int]:
    """Line numbers of reads of os.environ / os.getenv (copies for a child process and writes are fine)."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = node.func
            owner = ast.unparse(target.value)
            if (target.attr == "get" and owner == "os.environ") or (
                target.attr == "getenv" and owner == "os"
            ):
                lines.append(node.lineno)
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and ast.unparse(node.value) == "os.environ"
        ):
            lines.append(node.lineno)
        if isinstance(node, ast.Compare) and any(ast.unparse(c) == "os.environ" for c in node.comparators):
            lines.append(node.lineno)
    return lines


def test_settings_py_is_the_only_reader_of_environment_variables() -> None:
    """Every other module asks bakehouse.settings, whose table documents the variable."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "settings.py" and path.parent == PACKAGE:
            continue
        for line in _environment_reads(ast.parse(path.read_text(encoding="utf-8"))):
            found.append(f"{path.relative_to(ROOT)}:{line}")
    assert found == [], "read environment variables through bakehouse.settings (and add them to SETTINGS)"


def test_the_check_catches_a_stale_page(tmp_path: Path) -> None:
    for name, render in PAGES.items():
        (tmp_path / name).write_text(render(), encoding="utf-8")
    assert stale_pages(tmp_path) == []
    (tmp_path / "cli.md").write_text("# an old page\n", encoding="utf-8")
    assert stale_pages(tmp_path) == [str(tmp_path / "cli.md")]


def test_the_scan_sees_every_way_of_reading_the_environment() -> None:
    source = "import os\nos.environ.get('A')\nos.getenv('B')\nos.environ['C']\n'D' in os.environ\nos.environ['E'] = '1'\n"
    assert _environment_reads(ast.parse(source)) == [2, 3, 4, 5]


def test_a_command_once_invoked_on_its_own_is_still_listed_with_its_help_names() -> None:
    """click caches a command's help option the first time it is built; a test that ran `models predict`
    without the root's context (so `--help` alone) made the page stale for the rest of the process."""
    models = bakehouse_command.get_command(click.Context(bakehouse_command), "models")
    assert isinstance(models, click.Group)
    predict = models.get_command(click.Context(models), "predict")
    assert predict is not None
    predict.get_help_option(click.Context(predict))
    assert stale_pages(DOCS) == []
