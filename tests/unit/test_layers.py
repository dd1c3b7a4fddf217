"""The package's layers, checked over its import graph (docs/architecture.md).

The order is written once, in ``[tool.importlinter]`` of pyproject.toml. The graph holds every import that can
run: module level and inside functions (``if TYPE_CHECKING:`` blocks never run and are left out). An import
pointing up the layers, a module cycle, or an eager import in ``bakehouse/__init__.py`` (which every module of
the package runs first) fails here.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"

pytestmark = pytest.mark.timeout(120)


def _layers() -> list[set[str]]:
    """The layers of pyproject.toml, top first, as sets of top-level module names."""
    config = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["importlinter"]
    (contract,) = (c for c in config["contracts"] if c["id"] == "layers")
    return [
        {name.strip().strip("()") for name in layer.replace("|", ":").split(":")}
        for layer in contract["layers"]
    ]


def test_imports_point_down_the_layers_and_the_package_root_imports_nothing_above_the_bottom() -> None:
    # in a child process: import-linter's command configures logging (dictConfig), which would silence the
    # loggers of every other test in this process
    lint_imports = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run(
        [str(lint_imports), "--config", str(PYPROJECT), "--no-cache", "--no-logo"],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 kept, 0 broken" in done.stdout, done.stdout  # both contracts ran: none was skipped or renamed


def test_no_module_imports_itself_through_others() -> None:
    graph = grimp.build_graph("bakehouse", cache_dir=None, exclude_type_checking_imports=True)
    cycles = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back:
                lines = sorted(
                    d["line_number"] for d in graph.get_import_details(importer=importer, imported=imported)
                )
                cycles.append(f"{importer} (line {lines[0]}) -> {' -> '.join(back)}")
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_importing_bakehouse_loads_only_the_bottom_layer() -> None:
    """What ``bakehouse/__init__.py`` loads, every ``import bakehouse.<anything>`` loads: at run time (so
    imports by name through importlib count too) it must stay at the bottom layer."""
    bottom = _layers()[-1]
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, bakehouse; print(*sorted(m for m in sys.modules if 'bakehouse' in m))",
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.split()
    assert "bakehouse" in loaded
    above = [m for m in loaded if m != "bakehouse" and m.split(".")[1] not in bottom]
    assert not above, f"import bakehouse loads {above}; bottom layer: {sorted(bottom)}"
