"""MLproject parsing: types, defaults, environments, entry-point fallbacks and clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakehouse.projects.spec import (
    ENV_CONDA,
    ENV_DOCKER,
    ENV_LOCAL,
    ENV_PYTHON,
    ProjectSpecError,
    load_project,
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_parameters_shorthand_defaults_and_required(tmp_path: Path) -> None:
    write(
        tmp_path / "MLproject",
        """
name: demo
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
      data_file: path
      name: {default: hello}
      n: {type: int, default: 3}
      flag: {type: string, default: true}
    command: "python train.py --alpha {alpha}"
""",
    )
    project = load_project(tmp_path)
    assert project.name == "demo"
    assert project.env_type == ENV_LOCAL
    params = project.get_entry_point("main").parameters
    assert (params["alpha"].type, params["alpha"].default, params["alpha"].required) == (
        "float",
        "0.5",
        False,
    )
    assert (params["data_file"].type, params["data_file"].default, params["data_file"].required) == (
        "path",
        None,
        True,
    )
    assert (params["name"].type, params["name"].default) == ("string", "hello")
    assert (params["n"].type, params["n"].default) == ("int", "3")
    assert params["flag"].default == "true"
    assert list(params) == ["alpha", "data_file", "name", "n", "flag"]


def test_mlproject_name_is_case_insensitive(tmp_path: Path) -> None:
    write(tmp_path / "mlProject", "name: lower\nentry_points:\n  main:\n    command: echo hi\n")
    project = load_project(tmp_path)
    assert project.name == "lower"
    assert project.has_mlproject_file
    assert project.get_entry_point("main").command == "echo hi"


def test_no_mlproject_runs_py_and_sh_files(tmp_path: Path) -> None:
    write(tmp_path / "train.py", "print(1)\n")
    write(tmp_path / "go.sh", "echo 1\n")
    project = load_project(tmp_path)
    assert project.name is None and project.display_name == tmp_path.name
    assert not project.has_mlproject_file
    assert project.get_entry_point("train.py").command == "python train.py"
    assert project.get_entry_point("go.sh").command == "bash go.sh"
    with pytest.raises(ProjectSpecError, match="Could not find entry point 'main'"):
        project.get_entry_point("main")
    with pytest.raises(ProjectSpecError, match="no such file"):
        project.get_entry_point("missing.py")


@pytest.mark.parametrize(
    ("mlproject", "files", "env_type", "env_file"),
    [
        ("python_env: env/py.yaml\n", {"env/py.yaml": "python: '3.11'\n"}, ENV_PYTHON, "env/py.yaml"),
        (
            "conda_env: my_conda.yaml\n",
            {"my_conda.yaml": "dependencies: [python=3.11]\n"},
            ENV_CONDA,
            "my_conda.yaml",
        ),
        ("", {"python_env.yaml": "python: '3.11'\n", "conda.yaml": "{}\n"}, ENV_PYTHON, "python_env.yaml"),
        ("", {"conda.yaml": "dependencies: []\n"}, ENV_CONDA, "conda.yaml"),
        ("", {}, ENV_LOCAL, None),
    ],
)
def test_environment_detection(
    tmp_path: Path, mlproject: str, files: dict[str, str], env_type: str, env_file: str | None
) -> None:
    write(tmp_path / "MLproject", "name: p\n" + mlproject)
    for name, text in files.items():
        write(tmp_path / name, text)
    project = load_project(tmp_path)
    assert project.env_type == env_type
    assert project.env_file == (tmp_path / env_file if env_file else None)


def test_docker_env_parsed(tmp_path: Path) -> None:
    write(
        tmp_path / "MLproject",
        """
name: dockerized
docker_env:
  image: python:3.11-slim
  volumes: ["/data:/data"]
  environment: [["NEW_VAR", "x"], "HOME"]
entry_points:
  main:
    command: python train.py
""",
    )
    project = load_project(tmp_path)
    assert project.env_type == ENV_DOCKER
    assert project.docker_env is not None
    assert project.docker_env.image == "python:3.11-slim"
    assert project.docker_env.volumes == ("/data:/data",)
    assert project.docker_env.environment == (("NEW_VAR", "x"), ("HOME", None))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("python_env: a.yaml\nconda_env: b.yaml\n", "at most one environment, found: python_env, conda_env"),
        ("python_env: nothere.yaml\n", "no such file exists"),
        (
            "entry_points:\n  main:\n    parameters:\n      x: decimal\n    command: echo\n",
            "unknown type 'decimal'",
        ),
        ("entry_points:\n  main:\n    parameters: {}\n", "needs a 'command' string"),
        ("docker_env:\n  volumes: []\n", "docker_env needs an 'image'"),
        ("- just\n- a list\n", "must be a YAML mapping"),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_invalid_projects_are_refused_clearly(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path / "a.yaml", "python: '3.11'\n")
    write(tmp_path / "b.yaml", "dependencies: []\n")
    write(tmp_path / "MLproject", text)
    with pytest.raises(ProjectSpecError, match=message):
        load_project(tmp_path)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ProjectSpecError, match="does not exist"):
        load_project(tmp_path / "nope")
