"""The seeds' own IrisProject, unchanged, on the embedded default store.

``seed_project/MLproject`` and ``seed_project/conda.yaml`` are section 5 of the seeds verbatim (conda_env,
parameter C; python=3.10, scikit-learn as a conda package, mlflow from pip); ``train.py`` is the seeds'
iris code with ``import mlflow``. No conda here: the conda package is installed with pip, Python 3.10 comes
from pyenv, and the official client in the project's process logs through the run's short-lived local
server to the same ``./bakehouse.db`` that ``bakehouse runs list`` then reads.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.timeout(900), pytest.mark.slow]

SEED_PROJECT = Path(__file__).parent / "seed_project"
BAKEHOUSE = Path(sys.executable).parent / "bakehouse"
SEEDS_FILE = Path("/work/shared/seeds/000_e2bd688971cec34d.txt")


def _bakehouse(
    args: list[str], cwd: Path, env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BAKEHOUSE), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def workdir(tmp_path: Path, env_cache: Path) -> tuple[Path, Path, dict[str, str]]:
    """A copy of the seed project, and an empty directory to run from (its ./bakehouse.db is the store)."""
    project = tmp_path / "IrisProject"
    shutil.copytree(SEED_PROJECT, project)
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BAKEHOUSE_", "MLFLOW_"))}
    env["BAKEHOUSE_ENV_CACHE_DIR"] = str(env_cache)  # one venv per session, built by the first test
    env["COLUMNS"] = "250"
    return project, work, env


def test_the_fixture_is_the_seeds_section_5_unchanged() -> None:
    if not SEEDS_FILE.exists():
        pytest.skip(f"the seeds are not on this machine ({SEEDS_FILE})")
    text = SEEDS_FILE.read_text(encoding="utf-8")
    section = text[text.index("### 5.2 MLproject") :]
    mlproject, conda_yaml = re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)[:2]
    assert (SEED_PROJECT / "MLproject").read_text(encoding="utf-8") == mlproject
    assert (SEED_PROJECT / "conda.yaml").read_text(encoding="utf-8") == conda_yaml


@pytest.mark.parametrize("env_manager", ["local", "virtualenv", "uv"])
def test_the_seed_project_runs_finished_with_params_metrics_and_model(
    env_manager: str, workdir: tuple[Path, Path, dict[str, str]]
) -> None:
    project, work, env = workdir
    done = _bakehouse(["run", str(project), "-P", "C=0.5", "--env-manager", env_manager], work, env)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Traceback" not in output
    assert re.search(r"Run [0-9a-f]{32} FINISHED", output), output
    if env_manager != "local":
        # one line says the conda package comes from pip; Python 3.10 is on this machine (pyenv)
        assert "conda.yaml's conda packages are installed with pip in a virtualenv: scikit-learn" in output
    assert (work / "bakehouse.db").is_file()  # the embedded default store, where `bakehouse run` was started

    listed = _bakehouse(["runs", "list", "--json"], work, env, timeout=120)
    assert listed.returncode == 0, listed.stderr
    [run] = json.loads(listed.stdout)
    assert run["info"]["status"] == "FINISHED"
    assert run["data"]["params"] == {
        "C": "0.5",
        "solver": "lbfgs",
        "max_iter": "1000",
        "random_state": "8888",
    }
    assert set(run["data"]["metrics"]) == {"accuracy"} and run["data"]["metrics"]["accuracy"] > 0.9
    assert run["data"]["tags"]["mlflow.project.env"] == env_manager
    [model] = run["models"]
    assert model["name"] == "model" and model["status"] == "LOGGED_MODEL_READY"
    # mlflow wrote the interpreter it ran on into the model: conda.yaml's Python 3.10 (from pyenv) in a venv
    python_env = (Path(model["artifact_location"]) / "python_env.yaml").read_text()
    if env_manager == "local":
        assert f"python: {sys.version_info.major}.{sys.version_info.minor}." in python_env
    else:
        assert "python: 3.10." in python_env

    table = _bakehouse(["runs", "list"], work, env, timeout=120).stdout
    row = next(line for line in table.splitlines() if run["info"]["run_id"] in line)
    assert "FINISHED" in row and "C=0.5" in row and "accuracy=1" in row and "model" in row

    if env_manager == "local":  # the model the official client logged loads and predicts with Bakehouse
        (work / "input.json").write_text(json.dumps({"inputs": [[5.1, 3.5, 1.4, 0.2]]}))
        predicted = _bakehouse(["models", "predict", "-m", model["uri"], "-i", "input.json"], work, env)
        assert predicted.returncode == 0, predicted.stderr
        assert json.loads(predicted.stdout) == {"predictions": [0]}


def test_without_conda_the_default_manager_says_what_it_does_instead(
    workdir: tuple[Path, Path, dict[str, str]],
) -> None:
    project, work, env = workdir
    done = _bakehouse(["run", str(project), "--build-env-only"], work, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "conda is not installed: conda.yaml runs in a virtualenv with Python 3.10, its conda packages "
        "installed with pip (scikit-learn)"
    ) in " ".join((done.stdout + done.stderr).split())


def test_conda_packages_that_pip_cannot_find_are_refused_by_name(
    workdir: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    project, work, env = workdir
    conda_yaml = project / "conda.yaml"
    conda_yaml.write_text(
        conda_yaml.read_text().replace("  - scikit-learn\n", "  - scikit-learn\n  - r-base=4.3\n")
    )
    env["BAKEHOUSE_ENV_CACHE_DIR"] = str(tmp_path / "envs")
    done = _bakehouse(["run", str(project), "--env-manager", "uv", "--build-env-only"], work, env)
    assert done.returncode == 1
    message: Any = " ".join(done.stderr.split())
    assert "not on the Python package index either: r-base==4.3.*" in message, done.stderr
    assert "scikit-learn" not in message.split("either:")[1]
    assert not (work / "bakehouse.db").exists()  # refused before a run was created
