"""Environment specs, interpreter lookup, the cache and docker rendering (building venvs is integration)."""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from pathlib import Path

import pytest

from bakehouse.projects.environments import EnvironmentError_, NullProgress, cache, resolve_environment
from bakehouse.projects.environments.conda import conda_or_virtualenv, find_conda
from bakehouse.projects.environments.docker import CONTAINER_PROJECT_DIR, DockerEnvironment, local_store_path
from bakehouse.projects.environments.interpreters import Interpreter, candidates, current, find_interpreter
from bakehouse.projects.environments.local import LocalEnvironment
from bakehouse.projects.environments.requirements import conda_to_pip, from_conda_yaml, from_python_env
from bakehouse.projects.environments.virtualenv import VirtualenvEnvironment, minimum_python, runs_bakehouse
from bakehouse.projects.spec import DockerEnv, load_project

no_conda = pytest.mark.skipif(find_conda() is not None, reason="conda is installed here")


def test_conda_yaml_python_and_pip(tmp_path: Path) -> None:
    path = tmp_path / "conda.yaml"
    path.write_text(
        "name: e\nchannels: [defaults]\ndependencies:\n  - python=3.10\n  - pip\n  - pip:\n"
        "    - scikit-learn==1.9.1\n    - mlflow\n"
    )
    req = from_conda_yaml(path)
    assert req.python == "3.10"
    assert req.dependencies == ("scikit-learn==1.9.1", "mlflow")
    assert req.conda_only == ()


def test_conda_yaml_conda_only_packages(tmp_path: Path) -> None:
    path = tmp_path / "conda.yaml"
    path.write_text(
        "dependencies:\n  - python>=3.9\n  - scikit-learn\n  - cudatoolkit=11.8\n  - pip:\n    - x\n"
    )
    req = from_conda_yaml(path)
    assert req.python == "3.9"
    assert req.conda_only == ("scikit-learn", "cudatoolkit=11.8")


def test_python_env_with_requirements_file(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("numpy\n")
    path = tmp_path / "python_env.yaml"
    path.write_text(
        "python: 3.11.7\nbuild_dependencies: [pip]\ndependencies:\n  - -r requirements.txt\n  - pyyaml\n"
    )
    req = from_python_env(path)
    assert req.python == "3.11.7"
    assert req.build_dependencies == ("pip",)
    assert req.dependencies == (f"-r {tmp_path / 'requirements.txt'}", "pyyaml")
    assert req.referenced_files == {str(tmp_path / "requirements.txt"): "numpy\n"}
    (tmp_path / "requirements.txt").unlink()
    with pytest.raises(EnvironmentError_, match="'requirements.txt' named in the environment does not exist"):
        from_python_env(path)


@no_conda
def test_conda_yaml_without_conda_falls_back_to_virtualenv(tmp_path: Path) -> None:
    path = tmp_path / "conda.yaml"
    path.write_text("dependencies:\n  - python=3.11\n  - pip:\n    - scikit-learn\n")
    env = conda_or_virtualenv(path, cache_root=tmp_path)
    assert isinstance(env, VirtualenvEnvironment)
    assert env.name == "virtualenv"
    assert env.note == (
        "conda is not installed; conda.yaml only asks for Python 3.11 and pip packages, "
        "so it runs in a virtualenv instead"
    )
    path.write_text("dependencies:\n  - python=3.11\n  - scikit-learn=1.5\n  - pip:\n    - mlflow\n")
    env = conda_or_virtualenv(path, cache_root=tmp_path)
    assert isinstance(env, VirtualenvEnvironment)
    assert env.requirements.pip_for_conda == ("scikit-learn==1.5.*",)
    assert env.note == (
        "conda is not installed: conda.yaml runs in a virtualenv with Python 3.11, its conda packages "
        "installed with pip (scikit-learn==1.5.*)"
    )


@pytest.mark.parametrize(
    "conda, pip",
    [
        ("scikit-learn", "scikit-learn"),
        ("scikit-learn=1.3", "scikit-learn==1.3.*"),
        ("numpy>=1.24", "numpy>=1.24"),
        ("pandas==2.1.0", "pandas==2.1.0"),
        ("pandas==2.1.0=py310_0", "pandas==2.1.0"),
        ("pytorch 2.1.*", "torch==2.1.*"),
        ("conda-forge::py-xgboost=1.7=py310_0", "xgboost==1.7.*"),
        ("mkl 2023.1.0", "mkl==2023.1.0"),
    ],
)
def test_conda_specs_become_pip_requirements(conda: str, pip: str) -> None:
    assert conda_to_pip(conda) == pip


def _project(tmp_path: Path, mlproject: str, files: dict[str, str] | None = None):
    (tmp_path / "MLproject").write_text(
        "name: p\n" + mlproject + "entry_points:\n  main:\n    command: echo\n"
    )
    for name, text in (files or {}).items():
        (tmp_path / name).write_text(text)
    return load_project(tmp_path)


def test_manager_selection(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    plain = _project(tmp_path / "plain", "")
    assert isinstance(resolve_environment(plain, None), LocalEnvironment)
    assert resolve_environment(plain, "virtualenv").name == "virtualenv"
    pyenv_dir = tmp_path / "py"
    pyenv_dir.mkdir()
    py = _project(pyenv_dir, "python_env: python_env.yaml\n", {"python_env.yaml": "python: '3.11'\n"})
    env = resolve_environment(py, None)
    assert isinstance(env, VirtualenvEnvironment) and env.requirements.python == "3.11"
    assert resolve_environment(py, "uv").name == "uv"
    assert isinstance(resolve_environment(py, "local"), LocalEnvironment)
    with pytest.raises(EnvironmentError_, match="A python_env project cannot run with conda"):
        resolve_environment(py, "conda")
    with pytest.raises(EnvironmentError_, match="Unknown env manager 'pipenv'"):
        resolve_environment(py, "pipenv")
    with pytest.raises(EnvironmentError_, match="needs a conda.yaml"):
        resolve_environment(plain, "conda")


def test_local_environment_puts_this_interpreter_first() -> None:
    prepared = LocalEnvironment().prepare(NullProgress())
    env = prepared.child_env({"PATH": "/usr/bin"})
    assert env["PATH"] == f"{Path(sys.executable).parent}:/usr/bin"
    assert prepared.argv("echo hi")[-2:] == ["-c", "echo hi"]


def test_interpreters() -> None:
    me = current()
    assert find_interpreter(None) == (me, None)
    assert find_interpreter(me.minor)[0].version == me.version
    assert find_interpreter(me.version) == (me, None)
    newest = max(
        (i for i in candidates() if i.version.startswith("3.")), key=lambda i: int(i.minor.split(".")[1])
    )
    chosen, note = find_interpreter("3.99")  # not installed, cannot be downloaded: the nearest one
    assert chosen.minor == newest.minor
    assert note == (
        f"Python 3.99 is not installed and cannot be downloaded here; using the nearest, Python {chosen.version} "
        f"({chosen.path}) (--strict-python makes this an error)"
    )
    with pytest.raises(
        EnvironmentError_, match=r"asks for Python 3\.99, which is not installed here \(available: "
    ):
        find_interpreter("3.99", strict=True)
    with pytest.raises(EnvironmentError_, match=r"asks for Python 4\.1, which is not installed here"):
        find_interpreter("4.1")
    with pytest.raises(EnvironmentError_, match="Cannot understand the requested Python version 'latest'"):
        find_interpreter("latest")
    patched = f"{me.minor}.99"
    chosen, note = find_interpreter(patched)
    assert chosen.minor == me.minor
    assert note == f"Python {patched} is not installed; using Python {chosen.version} ({chosen.path})"


@pytest.mark.skipif(
    not Path(os.path.expanduser("~/.pyenv/versions")).is_dir(), reason="no pyenv interpreters"
)
def test_other_python_versions_come_from_pyenv() -> None:
    others = sorted(
        p.name
        for p in Path(os.path.expanduser("~/.pyenv/versions")).iterdir()
        if not p.name.startswith(current().minor + ".") and p.name.count(".") == 2
    )
    if not others:
        pytest.skip("only the current Python is installed")
    chosen, note = find_interpreter(others[-1])
    assert chosen.version == others[-1]
    assert chosen.path == Path(os.path.expanduser(f"~/.pyenv/versions/{others[-1]}/bin/python"))
    assert note is None


def test_cache_hash_lock_and_marker(tmp_path: Path) -> None:
    assert cache.spec_hash({"a": 1, "b": [1, 2]}) == cache.spec_hash({"b": [1, 2], "a": 1})
    assert cache.spec_hash({"a": 1}) != cache.spec_hash({"a": 2})
    path = cache.env_dir("venv", {"a": 1}, tmp_path)
    assert path.parent == tmp_path and path.name.startswith("venv-")
    path.mkdir()
    assert not cache.is_complete(path)
    cache.mark_complete(path, {"a": 1}, 1.5)
    assert cache.is_complete(path)
    assert cache.read_marker(path)["build_seconds"] == 1.5
    order: list[str] = []

    def hold() -> None:
        with cache.build_lock(path):
            order.append("first-in")
            time.sleep(0.3)
            order.append("first-out")

    thread = threading.Thread(target=hold)
    thread.start()
    time.sleep(0.1)
    with cache.build_lock(path):
        order.append("second")
    thread.join()
    assert order == ["first-in", "first-out", "second"]


def test_docker_command_rendering(tmp_path: Path) -> None:
    env = DockerEnvironment(
        tmp_path,
        DockerEnv(
            image="python:3.11-slim", volumes=("/data:/data",), environment=(("A", "1"), ("HOME", None))
        ),
        tracking_uri=f"sqlite:///{tmp_path}/db/t.db",
        artifact_root=str(tmp_path / "artifacts"),
        host_env={"HOME": "/root"},
        docker_args={"gpus": "all", "t": True},
    )
    assert env.command() == [
        "docker",
        "run",
        "--rm",
        "--gpus",
        "all",
        "-t",
        "-v",
        f"{tmp_path}:{CONTAINER_PROJECT_DIR}",
        "-w",
        CONTAINER_PROJECT_DIR,
        "-v",
        f"{tmp_path}/db:{tmp_path}/db",
        "-v",
        f"{tmp_path}/artifacts:{tmp_path}/artifacts",
        "-v",
        "/data:/data",
        "-e",
        "BAKEHOUSE_RUN_ID",
        "-e",
        "MLFLOW_RUN_ID",
        "-e",
        "BAKEHOUSE_TRACKING_URI",
        "-e",
        "MLFLOW_TRACKING_URI",
        "-e",
        "BAKEHOUSE_EXPERIMENT_ID",
        "-e",
        "MLFLOW_EXPERIMENT_ID",
        "-e",
        "A=1",
        "-e",
        "HOME",
        "python:3.11-slim",
    ]
    missing = DockerEnvironment(
        tmp_path, DockerEnv(image="i", environment=(("SECRET", None),)), tracking_uri=None
    )
    with pytest.raises(
        EnvironmentError_, match="copies the environment variable SECRET, but it is not set here"
    ):
        missing.command()
    assert local_store_path("sqlite:////abs/t.db") == Path("/abs/t.db")
    assert local_store_path("http://server:5000") is None


def test_docker_without_engine_fails_clearly(tmp_path: Path) -> None:
    import subprocess

    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "info"], check=False, capture_output=True).returncode == 0:
        pytest.skip("a Docker engine is running here")
    env = DockerEnvironment(tmp_path, DockerEnv(image="python:3.11-slim"), tracking_uri=None)
    with pytest.raises(EnvironmentError_) as info:
        env.prepare(NullProgress())
    message = str(info.value)
    assert message.startswith("This project uses docker_env, but ")
    assert ("no Docker engine is running" in message) or ("docker command is not installed" in message)


def test_failed_build_is_discarded_with_the_installer_message(tmp_path: Path) -> None:
    from bakehouse.projects.environments.requirements import PythonRequirements

    env = VirtualenvEnvironment(
        PythonRequirements(dependencies=("not a valid requirement !!",)), cache_root=tmp_path
    )
    target = env.path
    with pytest.raises(EnvironmentError_, match=r"Could not install packages \(exit \d+\):\n"):
        env.prepare(NullProgress())
    assert not target.exists()
    assert not cache.is_complete(target)


def test_bakehouse_is_linked_only_into_pythons_it_runs_on() -> None:
    assert minimum_python() == (3, 11)  # pyproject's requires-python
    assert runs_bakehouse(Interpreter(Path("/py"), "3.11.0")) and runs_bakehouse(
        Interpreter(Path("/py"), "3.13.0")
    )
    assert not runs_bakehouse(Interpreter(Path("/py"), "3.10.13"))  # the seeds' conda.yaml asks for it
