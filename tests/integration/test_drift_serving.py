"""Drift from real traffic: a scoring server samples its requests into the tracking store, and
``bakehouse models drift`` compares them with the training data, records a run, and retrains on drift.

Fixed seed: the unshifted traffic (flowers drawn from the training population) is not flagged; the same traffic with
petal length moved by +1.5 cm is, on that feature only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]

BAKEHOUSE = str(Path(sys.executable).parent / "bakehouse")
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
SEED = 7
ROWS = 300


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    import bakehouse as bh
    from bakehouse.data import from_pandas

    uri = f"sqlite:///{tmp_path / 'bakehouse.db'}"
    monkeypatch.setenv("BAKEHOUSE_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    X, y = load_iris(return_X_y=True)
    train = pd.DataFrame(X, columns=FEATURES).assign(species=y)
    train_path = tmp_path / "train.csv"
    train.to_csv(train_path, index=False)
    with bh.start_run():
        bh.log_input(from_pandas(train, source=str(train_path), targets="species"), context="training")
        model = LogisticRegression(max_iter=1000).fit(train[FEATURES], train["species"])
        bh.sklearn.log_model(
            model,
            name="model",
            input_example=train[FEATURES].head(2),
            registered_model_name="iris-drift",
            pip_requirements=["scikit-learn"],
        )
    port = _free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "BAKEHOUSE_TRACKING_URI": uri}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                BAKEHOUSE, "models", "serve", "-m", "models:/iris-drift/1", "-p", str(port),
                "--sample-inputs", "--sample-rate", "1", "--sample-flush-interval", "0.5",
            ],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/ping", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        raise AssertionError(f"scoring server did not start:\n{log.read_text()[-5000:]}")
    try:
        yield {"url": url, "uri": uri, "train": train, "train_path": train_path, "tmp": tmp_path, "env": env}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def _traffic(train: pd.DataFrame, shift: float, rng: np.random.Generator) -> pd.DataFrame:
    """Flowers drawn from the training population; ``shift`` moves petal length (in cm)."""
    seed = int(rng.integers(1 << 30))
    rows = train[FEATURES].sample(ROWS, replace=True, random_state=seed).reset_index(drop=True)
    rows["petal_length"] += shift
    return rows


def _send(url: str, frame: pd.DataFrame) -> None:
    with httpx.Client(timeout=30) as client:
        for start in range(0, len(frame), 25):
            chunk = frame.iloc[start : start + 25]
            body = {"dataframe_split": {"columns": FEATURES, "data": chunk.to_numpy().tolist()}}
            response = client.post(f"{url}/invocations", json=body)
            assert response.status_code == 200, response.text


def _sampled_rows(uri: str) -> int:
    from bakehouse.client.client import Client

    client = Client(tracking_uri=uri)
    experiment = client.get_experiment_by_name("bakehouse-serving-samples")
    if experiment is None:
        return 0
    runs = client.search_runs([experiment.experiment_id], "attributes.status = 'FINISHED'")
    return int(sum(r.data.metrics.get("sampled_rows", 0) for r in runs))


def _wait_rows(uri: str, rows: int) -> None:
    deadline = time.monotonic() + 60
    while _sampled_rows(uri) < rows:
        assert time.monotonic() < deadline, f"only {_sampled_rows(uri)} of {rows} rows were sampled"
        time.sleep(0.2)


def _drift(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [BAKEHOUSE, "models", "drift", "models:/iris-drift/1", "--max-rows", str(ROWS), "--json", *args],
        check=False, capture_output=True, text=True, env=env, cwd=cwd, timeout=240,
    )  # fmt: skip
    assert done.returncode in (0, 2), done.stderr
    return done.returncode, json.loads(done.stdout)


def test_served_inputs_are_sampled_and_checked_for_drift(setup: dict[str, Any]) -> None:
    from bakehouse.client.client import Client

    rng = np.random.default_rng(SEED)
    _send(setup["url"], _traffic(setup["train"], 0.0, rng))
    _wait_rows(setup["uri"], ROWS)

    # without --against: the training run's recorded training data; the traffic looks like it
    code, calm = _drift(setup["env"], setup["tmp"], "--exit-code")
    assert code == 0 and calm["drifted"] is False, calm
    assert {f["feature"] for f in calm["features"]} == set(FEATURES)  # the label column is not served
    assert max(f["psi"] for f in calm["features"]) < 0.1

    _send(setup["url"], _traffic(setup["train"], 1.5, rng))
    _wait_rows(setup["uri"], 2 * ROWS)
    project = setup["tmp"] / "retrain"
    project.mkdir()
    (project / "MLproject").write_text(
        "name: retrain\nentry_points:\n  main:\n    parameters:\n      reason: {type: string, default: none}\n"
        "    command: python retrain.py {reason}\n"
    )
    (project / "retrain.py").write_text(
        "import sys\nimport bakehouse as bh\nwith bh.start_run():\n    bh.log_param('why', sys.argv[1])\n"
    )
    code, shifted = _drift(
        setup["env"],
        setup["tmp"],
        "--against", str(setup["train_path"]), "--exit-code",
        "--retrain", str(project), "--retrain-env-manager", "local", "-P", "reason=drift",
    )  # fmt: skip
    assert code == 2 and shifted["drifted"] is True and shifted["drifted_features"] == ["petal_length"]

    client = Client(tracking_uri=setup["uri"])
    run = client.get_run(shifted["run_id"])
    assert run.data.tags["bakehouse.drift.detected"] == "true"
    assert (
        run.data.metrics["drift.psi.petal_length"] >= 0.2 and run.data.metrics["drift.features_drifted"] == 1
    )
    assert run.data.params["psi_threshold"] == "0.2" and run.data.params["ks_threshold"] == "0.1"
    contexts = sorted(d.tags.get("mlflow.data.context") for d in run.inputs.dataset_inputs)
    assert contexts == ["serving", "training"]
    report = json.loads(
        Path(client.download_artifacts(run.info.run_id, "drift_report.json", str(setup["tmp"]))).read_text()
    )
    assert report["drifted_features"] == ["petal_length"]
    retrained = client.get_run(shifted["retrain_run_id"])
    assert retrained.info.status == "FINISHED" and retrained.data.params["why"] == "drift"
    assert retrained.data.tags["bakehouse.trigger"] == "drift"
    assert retrained.data.tags["bakehouse.trigger.drift_run"] == shifted["run_id"]
    assert client.get_run(calm["run_id"]).data.tags["bakehouse.drift.detected"] == "false"
