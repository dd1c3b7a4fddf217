"""Autolog parity: the same training script (``tests/autolog_parity_script.py``) under ``mlflow.<lib>.autolog()``
and ``bakehouse.<lib>.autolog()`` logs the same param, metric, tag and artifact keys, the same number of
models and datasets, for XGBoost, LightGBM, Keras, PyTorch Lightning, statsmodels and transformers' Trainer.

Deliberate differences (also in docs/tracking.md): a run that transformers autologging starts carries the
tag ``mlflow.autologging=transformers`` in Bakehouse (MLflow's run, started by transformers' MLflowCallback,
has none).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "autolog_parity_script.py"
LIBRARIES = {
    "statsmodels": "statsmodels",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "keras": "keras",
    "pytorch": "lightning",
    "transformers": "transformers",
}
#: (library, key) -> what Bakehouse logs on purpose beyond MLflow
DELIBERATE_EXTRAS = {("transformers", "tags"): {"mlflow.autologging"}}


def _run_both(tmp_path: Path, libraries: list[str]) -> dict[str, dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "BAKEHOUSE_"))}
    env["HF_HUB_OFFLINE"] = "1"
    processes = {}
    for tool in ("mlflow", "bakehouse"):
        workdir = tmp_path / tool
        workdir.mkdir()
        processes[tool] = subprocess.Popen(  # both at once: most of each is importing the libraries
            [sys.executable, str(SCRIPT), tool, f"sqlite:///{workdir / 'db.sqlite'}", *libraries],
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    results: dict[str, dict[str, Any]] = {}
    try:
        for tool, process in processes.items():
            out, err = process.communicate(timeout=280)
            assert process.returncode == 0, err[-3000:]
            lines = [json.loads(line) for line in out.splitlines() if line.startswith('{"library"')]
            results[tool] = {line["library"]: line["runs"] for line in lines}
    finally:
        for process in processes.values():  # a timed-out script must not outlive the test
            if process.poll() is None:
                process.kill()
                process.wait()
    return results


#: a few keys each library must log, so that "the same keys" is never "both logged nothing"
MUST_LOG = {
    "statsmodels": ("metrics", {"aic", "rsquared"}),
    "xgboost": ("metrics", {"train-logloss"}),
    "lightgbm": ("metrics", {"train-binary_logloss"}),
    "keras": ("params", {"optimizer_name", "epochs"}),
    "pytorch": ("metrics", {"train_loss", "val_loss"}),
    "transformers": ("metrics", {"loss", "train_runtime"}),
}


@pytest.mark.parametrize("library", sorted(LIBRARIES))
def test_the_same_script_logs_the_same_keys(library: str, tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    pytest.importorskip(LIBRARIES[library])
    results = _run_both(tmp_path, [library])
    ours, theirs = results["bakehouse"][library], results["mlflow"][library]
    assert len(ours) == len(theirs) >= 1
    for mine, reference in zip(ours, theirs):
        for key, value in reference.items():
            extra = DELIBERATE_EXTRAS.get((library, key), set())
            got = mine[key]
            if isinstance(value, list):
                assert set(got) - extra == set(value), (key, sorted(set(got) ^ set(value)))
            else:
                assert got == value, key
    key, required = MUST_LOG[library]
    assert required <= set().union(*(run[key] for run in ours)), (key, required)
