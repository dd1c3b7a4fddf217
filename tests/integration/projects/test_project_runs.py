"""`bakehouse run` end to end on real projects: the IrisProject locally and in a cached virtualenv, a failing
entry point, Ctrl-C, parameter validation before anything starts, path downloads, dry runs and docker."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(300)


def only_run(runs: Callable[[], list[Any]]) -> Any:
    found = runs()
    assert len(found) == 1, [r.info.run_id for r in found]
    return found[0]


@pytest.mark.parametrize("c_value", ["0.1", "10"])
def test_iris_local(
    run_cli: Callable[..., Any], runs: Callable[[], list[Any]], iris_project: Path, c_value: str
) -> None:
    result = run_cli(str(iris_project), "-P", f"C={c_value}", "--env-manager", "local")
    assert result.returncode == 0, result.output
    run = only_run(runs)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"C": c_value, "max_iter": "200", "solver": "lbfgs", "random_state": "8888"}
    assert 0.9 <= run.data.metrics["accuracy"] <= 1.0
    assert set(run.data.metrics) == {"accuracy", "f1"}
    tags = run.data.tags
    assert tags["mlflow.source.type"] == "PROJECT"
    assert tags["mlflow.source.name"] == str(iris_project)
    assert tags["mlflow.project.entryPoint"] == "main"
    assert tags["mlflow.project.env"] == "local"
    assert tags["mlflow.project.backend"] == "local"
    assert (
        f"run {run.info.run_id}: C={float(c_value)}" in result.stdout
    )  # the child's output streamed through
    assert f"Run {run.info.run_id} FINISHED" in result.stderr


def test_iris_virtualenv_built_once_then_reused(
    run_cli: Callable[..., Any], runs: Callable[[], list[Any]], iris_project: Path, env_cache: Path
) -> None:
    first = run_cli(str(iris_project), "-P", "C=0.1")  # conda.yaml, no conda here → virtualenv
    assert first.returncode == 0, first.output
    assert "conda is not installed; conda.yaml only asks for Python 3.11 and pip packages" in first.stderr
    assert "Built environment" in first.stderr
    envs = [
        p
        for p in env_cache.iterdir()
        if p.is_dir()
        and (p / ".bakehouse-env.json").exists()
        and json.loads((p / ".bakehouse-env.json").read_text())["spec"]["deps"] == ["scikit-learn"]
    ]
    assert len(envs) == 1
    venv = envs[0]
    marker_before = (venv / ".bakehouse-env.json").read_text()
    build_seconds = json.loads(marker_before)["build_seconds"]
    assert build_seconds < 120

    second = run_cli(str(iris_project), "-P", "C=10", "--env-manager", "virtualenv")
    assert second.returncode == 0, second.output
    assert "Built environment" not in second.stderr
    assert f"Reusing cached environment {venv}" in second.stderr
    assert (venv / ".bakehouse-env.json").read_text() == marker_before  # not rebuilt

    found = sorted(runs(), key=lambda r: float(r.data.params["C"]))
    assert [r.data.params["C"] for r in found] == ["0.1", "10"]
    for run in found:
        assert run.info.status == "FINISHED"
        assert run.data.tags["mlflow.project.env"] == "virtualenv"
        assert 0.9 <= run.data.metrics["accuracy"] <= 1.0
        assert f"run {run.info.run_id}: C={float(run.data.params['C'])}" in first.stdout + second.stdout
    # the child really ran inside the cached venv, not in the test interpreter's environment
    assert f"(python {venv})" in first.stdout and f"(python {venv})" in second.stdout


def test_failing_entry_point_is_failed(
    run_cli: Callable[..., Any], runs: Callable[[], list[Any]], logger_project: Path
) -> None:
    result = run_cli(str(logger_project), "-e", "fail")
    assert result.returncode == 1
    assert "boom" in result.stdout
    run = only_run(runs)
    assert run.info.status == "FAILED"
    assert run.info.end_time is not None
    assert run.data.tags["mlflow.project.entryPoint"] == "fail"


def _pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigint_kills_run_and_child(
    tmp_path: Path,
    new_project: Callable[..., Path],
    runs: Callable[[], list[Any]],
    cli_environ: dict[str, str],
    bakehouse_exe: Path,
) -> None:
    pid_file = tmp_path / "child.pid"
    project = new_project(
        tmp_path / "slow",
        """\
        name: slow
        entry_points:
          main:
            command: "python slow.py"
        """,
        {
            "slow.py": (
                "import os, time, bakehouse\n"
                "with bakehouse.start_run():\n"
                f"    open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
                "    time.sleep(120)\n"
            )
        },
    )
    process = subprocess.Popen(
        [str(bakehouse_exe), "run", str(project)],
        cwd=tmp_path,
        env=cli_environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 90
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        time.sleep(0.1)
    child_pid = int(pid_file.read_text())
    assert _pid_alive(child_pid)
    running = runs()
    assert [r.info.status for r in running] == ["RUNNING"]

    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Interrupted" in stderr
    deadline = time.monotonic() + 10
    while _pid_alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _pid_alive(child_pid)
    run = only_run(runs)
    assert run.info.run_id == running[0].info.run_id
    assert run.info.status == "KILLED"
    assert run.info.end_time is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-P", "alpha=abc"], "parameter 'alpha' of type float got 'abc': not a number"),
        (["-P", "steps=2.5"], "parameter 'steps' of type int got '2.5': not an integer"),
        (["-e", "needs_path"], "parameter 'data' of type path is required but no value was given"),
        (
            ["-e", "needs_path", "-P", "data=missing.csv"],
            "parameter 'data' of type path got 'missing.csv': no such file or directory",
        ),
    ],
)
def test_invalid_parameters_refused_before_anything_runs(
    run_cli: Callable[..., Any],
    runs: Callable[[], list[Any]],
    logger_project: Path,
    tmp_path: Path,
    args: list[str],
    message: str,
) -> None:
    started = tmp_path / "started"
    (logger_project / "log.py").write_text(f"open({str(started)!r}, 'w').write('ran')\n")
    result = run_cli(str(logger_project), *args)
    assert result.returncode == 1
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.output
    assert not started.exists()  # no process was started
    assert runs() == []  # and no run was created, so none is left RUNNING


def test_undeclared_params_quoted_and_logged(
    run_cli: Callable[..., Any], runs: Callable[[], list[Any]], logger_project: Path
) -> None:
    result = run_cli(
        str(logger_project), "-P", "alpha=0.25", "-P", "note=two words; echo pwned", "-P", "lr=1e-3"
    )
    assert result.returncode == 0, result.output
    run = only_run(runs)
    assert run.data.params == {"alpha": "0.25", "steps": "3", "note": "two words; echo pwned", "lr": "1e-3"}
    assert run.data.tags["arg.note"] == "two words; echo pwned"  # one argument, not a second command
    assert run.data.tags["arg.alpha"] == "0.25"
    assert run.data.metrics["seen_args"] == 4.0
    assert "pwned\n" not in result.stdout


def test_path_parameter_downloaded_from_artifact_uri(
    run_cli: Callable[..., Any],
    client: Any,
    runs: Callable[[], list[Any]],
    logger_project: Path,
    tmp_path: Path,
) -> None:
    source = client.create_run("0", run_name="dataset")
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    client.log_artifact(source.info.run_id, str(data), "inputs")
    client.set_terminated(source.info.run_id, "FINISHED")
    (logger_project / "log.py").write_text(
        "import sys, bakehouse\n"
        "path = sys.argv[sys.argv.index('--data') + 1]\n"
        "with bakehouse.start_run():\n"
        "    bakehouse.set_tag('content', open(path).read())\n"
    )
    uri = f"runs:/{source.info.run_id}/inputs/data.csv"
    result = run_cli(str(logger_project), "-e", "needs_path", "-P", f"data={uri}")
    assert result.returncode == 0, result.output
    project_run = next(r for r in runs() if r.info.run_id != source.info.run_id)
    assert project_run.info.status == "FINISHED"
    assert project_run.data.params == {"data": uri}  # the URI is logged, not the temporary download
    assert project_run.data.tags["content"] == "a,b\n1,2\n"


def test_dry_run_creates_nothing(
    run_cli: Callable[..., Any], runs: Callable[[], list[Any]], logger_project: Path
) -> None:
    result = run_cli(str(logger_project), "-P", "alpha=2", "--dry-run")
    assert result.returncode == 0, result.output
    assert "command: python log.py --alpha 2 --steps 3" in result.stdout
    assert "environment: the current environment" in result.stdout
    assert runs() == []


def test_build_env_only_then_reuse(
    run_cli: Callable[..., Any],
    runs: Callable[[], list[Any]],
    new_project: Callable[..., Path],
    tmp_path: Path,
) -> None:
    project = new_project(
        tmp_path / "pyenv",
        """\
        name: pyenv
        python_env: python_env.yaml
        entry_points:
          main:
            command: "python -c 'import sys; print(sys.prefix)'"
        """,
        {"python_env.yaml": "python: '3.11'\ndependencies:\n  - pyyaml\n"},
    )
    built = run_cli(str(project), "--build-env-only")
    assert built.returncode == 0, built.output
    assert "Environment built." in built.stderr
    again = run_cli(str(project), "--build-env-only", "--env-manager", "uv")
    assert again.returncode == 0, again.output
    assert "Environment reused from the cache." in again.stderr
    assert runs() == []


def test_docker_project_without_engine_fails_clearly(
    run_cli: Callable[..., Any],
    runs: Callable[[], list[Any]],
    new_project: Callable[..., Path],
    tmp_path: Path,
) -> None:
    project = new_project(
        tmp_path / "dock",
        """\
        name: dock
        docker_env:
          image: python:3.11-slim
        entry_points:
          main:
            parameters:
              n: {type: int, default: 1}
            command: "python -c 'print({n})'"
        """,
    )
    dry = run_cli(str(project), "--dry-run")
    assert dry.returncode == 0, dry.output
    assert f"environment: docker: docker run --rm -v {project}:/mlflow/projects/code" in dry.stdout
    assert "python:3.11-slim bash -c <command>" in dry.stdout
    if subprocess.run(["docker", "info"], check=False, capture_output=True).returncode == 0:
        pytest.skip("a Docker engine is running here")
    result = run_cli(str(project))
    assert result.returncode == 1
    assert "This project uses docker_env, but" in result.stderr
    assert runs() == []


def test_experiment_name_created_and_run_named(
    run_cli: Callable[..., Any], client: Any, logger_project: Path
) -> None:
    result = run_cli(str(logger_project), "--experiment-name", "iris-tuning", "--run-name", "first-try")
    assert result.returncode == 0, result.output
    experiment = client.get_experiment_by_name("iris-tuning")
    assert experiment is not None
    [run] = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == "first-try"
    assert run.info.status == "FINISHED"
    assert run.data.metrics["seen_args"] == 2.0
    missing = run_cli(str(logger_project), "--experiment-id", "424242")
    assert missing.returncode == 1
    assert "424242" in missing.stderr
