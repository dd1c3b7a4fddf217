"""Fixtures for running real projects end to end through the ``bakehouse run`` CLI.

Each test gets its own SQLite tracking database; the environment cache is one directory per session so a
virtualenv is built once and reused by later runs (which is itself under test).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
IRIS_PROJECT = REPO_ROOT / "examples" / "iris-project"
BAKEHOUSE = Path(sys.executable).parent / "bakehouse"

#: a project that logs without heavy imports, so runs take about a second
LOGGER_SCRIPT = """\
import os, sys, time
import bakehouse

args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
with bakehouse.start_run() as run:
    bakehouse.log_metric("seen_args", len(args))
    for key, value in args.items():
        bakehouse.set_tag("arg." + key.lstrip("-"), value)
    bakehouse.set_tag("child.python", sys.prefix)
    if os.path.exists("VERSION"):
        bakehouse.set_tag("checkout", open("VERSION").read().strip())
    print("logged", run.info.run_id, args, flush=True)
"""


@pytest.fixture(scope="session")
def env_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bakehouse-envs")


@pytest.fixture
def tracking_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/t.db"


@pytest.fixture
def client(tracking_uri: str) -> Any:
    from bakehouse.client.client import Client

    return Client(tracking_uri=tracking_uri)


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def cli_env(tracking_uri: str, env_cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BAKEHOUSE_", "MLFLOW_"))}
    env["BAKEHOUSE_TRACKING_URI"] = tracking_uri
    env["BAKEHOUSE_ENV_CACHE_DIR"] = str(env_cache)
    env["COLUMNS"] = "200"
    return env


@pytest.fixture
def run_cli(tracking_uri: str, env_cache: Path, tmp_path: Path) -> Callable[..., CliResult]:
    def run(*args: str, timeout: float = 240, cwd: Path | None = None) -> CliResult:
        done = subprocess.run(
            [str(BAKEHOUSE), "run", *args],
            cwd=cwd or tmp_path,
            env=cli_env(tracking_uri, env_cache),
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return CliResult(done.returncode, done.stdout, done.stderr)

    return run


def make_project(directory: Path, mlproject: str, files: dict[str, str] | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "MLproject").write_text(textwrap.dedent(mlproject), encoding="utf-8")
    for name, text in (files or {}).items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text, encoding="utf-8")
    return directory


@pytest.fixture
def logger_project(tmp_path: Path) -> Path:
    return make_project(
        tmp_path / "logger",
        """\
        name: logger
        entry_points:
          main:
            parameters:
              alpha: {type: float, default: 0.5}
              steps: {type: int, default: 3}
            command: "python log.py --alpha {alpha} --steps {steps}"
          fail:
            command: "python -c 'import sys; print(\\"boom\\", flush=True); sys.exit(3)'"
          needs_path:
            parameters:
              data: path
            command: "python log.py --data {data}"
        """,
        {"log.py": LOGGER_SCRIPT},
    )


def all_runs(client: Any) -> list[Any]:
    experiments = client.search_experiments(view_type="ALL")
    ids = [e.experiment_id for e in experiments] or ["0"]
    return list(client.search_runs(ids, run_view_type="ALL", max_results=1000))


def git(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        [
            "git",
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "init.defaultBranch=main",
            *args,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


# the helpers above as fixtures: test modules never import conftest (its module name is shared by every folder)
@pytest.fixture
def new_project() -> Callable[..., Path]:
    return make_project


@pytest.fixture
def runs(client: Any) -> Callable[[], list[Any]]:
    return lambda: all_runs(client)


@pytest.fixture
def iris_project() -> Path:
    return IRIS_PROJECT


@pytest.fixture
def git_cmd() -> Callable[..., str]:
    return git


@pytest.fixture
def cli_environ(tracking_uri: str, env_cache: Path) -> dict[str, str]:
    """The environment a ``bakehouse run`` subprocess gets (for tests that drive the process themselves)."""
    return cli_env(tracking_uri, env_cache)


@pytest.fixture
def bakehouse_exe() -> Path:
    return BAKEHOUSE
