"""An unchanged MLflow training script inside a project: the official client attaches to the run
`bakehouse run` created, through a real `bakehouse server` (MLFLOW_RUN_ID + MLFLOW_TRACKING_URI)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mlflow")
pytestmark = pytest.mark.timeout(300)

MLFLOW_SCRIPT = """\
import sys
import mlflow

with mlflow.start_run() as run:
    mlflow.log_metric("accuracy", 0.97)
    mlflow.set_tag("script", "mlflow")
    print("mlflow run", run.info.run_id, flush=True)
"""


def test_mlflow_script_attaches_to_the_project_run(
    bakehouse_server: Callable[..., Any],
    tmp_path: Path,
    new_project: Callable[..., Path],
    env_cache: Path,
    bakehouse_exe: Path,
) -> None:
    from bakehouse.client.client import Client

    server = bakehouse_server()
    project = new_project(
        tmp_path / "mlflow-project",
        """\
        name: mlflow-script
        entry_points:
          main:
            parameters:
              C: {type: float, default: 1.0}
            command: "python train.py"
        """,
        {"train.py": MLFLOW_SCRIPT},
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BAKEHOUSE_", "MLFLOW_"))}
    env["BAKEHOUSE_ENV_CACHE_DIR"] = str(env_cache)
    done = subprocess.run(
        [str(bakehouse_exe), "run", str(project), "-P", "C=0.3", "--tracking-uri", server.url],
        cwd=tmp_path,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr + server.log
    client = Client(tracking_uri=server.url)
    [run] = client.search_runs(["0"])
    assert f"mlflow run {run.info.run_id}" in done.stdout  # the same run, not a second one
    assert run.info.status == "FINISHED"
    assert run.data.params == {"C": "0.3"}
    assert run.data.metrics == {"accuracy": 0.97}
    assert run.data.tags["script"] == "mlflow"
    assert run.data.tags["mlflow.source.type"] == "PROJECT"
