"""Fill a tracking store with everything a team's MLflow holds, using the real ``mlflow`` package.

Run by the interpreter of whichever MLflow release makes the fixture (3.17.2 in the test venv, a 2.x release
in its own venv), never imported by the tests::

    python mlflow_writer.py TARGET [TARGET ...]          TARGET = TRACKING_URI[::ARTIFACT_ROOT[::big]]
    python mlflow_writer.py --extra N TRACKING_URI

One process fills every target (importing MLflow once is most of the time). ``big`` adds the heavy parts (a
100,000-point history and a 100 MB artifact). ``--extra N`` only adds N new runs to the experiment
``migrate-a`` (what a team logs between two migrations). Prints one JSON summary per target.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

MLFLOW_MAJOR = int(mlflow.__version__.split(".")[0])
PARAM_LIMIT = 6000
TAG_LIMIT = 8000
KEY_LIMIT = 250


def _artifacts(client: MlflowClient, run_id: str, big: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "notes.txt").write_text("hello from the source store\n")
        (root / "nested" / "deeper").mkdir(parents=True)
        (root / "nested" / "deeper" / "data.bin").write_bytes(bytes(range(256)) * 40)
        (root / "nested" / "config.json").write_text(json.dumps({"lr": 0.1, "layers": [64, 32]}))
        (root / "with space é.txt").write_text("unicode name\n")
        (root / "empty.txt").write_bytes(b"")
        client.log_artifacts(run_id, str(root))
        if big:
            big_file = root / "big.bin"
            with open(big_file, "wb") as fh:
                block = os.urandom(1024 * 1024)
                fh.writelines(block[i:] + block[:i] for i in range(100))
            client.log_artifact(run_id, str(big_file), artifact_path="large")


def _model(run_id: str, client: MlflowClient) -> dict[str, str]:
    """A real sklearn model logged by MLflow, plus a logged-model metric (MLflow 3)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    X = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [0.9, 0.1]])
    y = np.array([0, 1, 0, 1])
    model = LogisticRegression().fit(X, y)
    if MLFLOW_MAJOR >= 3:
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            pip_requirements=["scikit-learn"],
            params={"alpha": "0.1", "penalty": "l2"},
            tags={"stage": "candidate"},
            model_type="classifier",
        )
        client.log_batch(
            run_id,
            metrics=[Metric("model_accuracy", 0.93, int(time.time() * 1000), 0, model_id=info.model_id)],
        )
        return {"model_uri": info.model_uri, "model_id": info.model_id}
    info = mlflow.sklearn.log_model(model, artifact_path="model", pip_requirements=["scikit-learn"])
    return {"model_uri": info.model_uri, "model_id": ""}


def fill(uri: str, artifact_root: str, big: bool) -> dict[str, object]:
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    summary: dict[str, object] = {"mlflow": mlflow.__version__}
    now = int(time.time() * 1000)

    loc = f"{artifact_root}/exp-a" if artifact_root else None
    exp_a = client.create_experiment(
        "migrate-a", artifact_location=loc, tags={"team": "vision", "long.tag": "t" * 5000}
    )
    exp_b = client.create_experiment("migrate-b ünïcode", tags={"kind": "second"})
    exp_gone = client.create_experiment("migrate-deleted")
    summary["experiments"] = [exp_a, exp_b, exp_gone]

    # nested runs
    mlflow.set_experiment(experiment_id=exp_a)
    with mlflow.start_run(run_name="parent") as parent:
        mlflow.log_params({"lr": "0.01", "optimizer": "adam", "space key": "yes"})
        mlflow.set_tags({"owner": "alice", "priority": "high"})
        for step in range(50):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
            mlflow.log_metric("acc", step / 50.0, step=step)
        with mlflow.start_run(run_name="child-1", nested=True) as child1:
            mlflow.log_param("fold", "1")
            mlflow.log_metric("fold_loss", 0.5)
        with mlflow.start_run(run_name="child-2", nested=True) as child2:
            mlflow.log_param("fold", "2")
            mlflow.log_metric("fold_loss", 0.4)
        model = _model(parent.info.run_id, client)
        import pandas as pd

        frame = pd.DataFrame({"x1": [0.0, 1.0, 0.5], "x2": [1.0, 0.0, 0.5], "y": [0, 1, 0]})
        dataset = mlflow.data.from_pandas(
            frame, source="https://example.org/iris.csv", name="iris-train", targets="y"
        )
        mlflow.log_input(dataset, context="training")
        _artifacts(client, parent.info.run_id, big)
    client.set_terminated(child2.info.run_id, status="FAILED")
    summary["runs"] = {
        "parent": parent.info.run_id,
        "child1": child1.info.run_id,
        "child2": child2.info.run_id,
    }
    summary["model"] = model

    # the edges: NaN and infinities, limits, unicode, odd steps
    edge = client.create_run(
        exp_a, run_name="edges", start_time=now - 3_600_000, tags={"mlflow.note.content": "n" * 2000}
    )
    edge_id = edge.info.run_id
    client.log_batch(
        edge_id,
        metrics=[
            Metric("nan", float("nan"), now, 0),
            Metric("pos_inf", float("inf"), now, 0),
            Metric("neg_inf", float("-inf"), now, 1),
            Metric("mixed", 1.5, now, 0),
            Metric("mixed", float("nan"), now + 1, 1),
            Metric("mixed", float("inf"), now + 2, 2),
            Metric("mixed", -2.5, now + 3, -5),
            Metric("dup", 1.0, now, 3),
            Metric("dup", 2.0, now, 3),
            Metric("tiny", 5e-324, now, 0),
            Metric("huge_step", 7.0, now, 2**62),
            Metric("odd/key with-space:colon.dot", 3.25, now, 0),
        ],
        params=[
            Param("long_param", "p" * PARAM_LIMIT),
            Param("k" * KEY_LIMIT, "long key"),
            Param("unicode value", "värde ✓"),
            Param("empty", ""),
        ],
        tags=[RunTag("long_tag", "t" * TAG_LIMIT), RunTag("unicode value", "☃"), RunTag("empty", "")],
    )
    client.set_terminated(edge_id, status="KILLED", end_time=now - 1000)
    summary["runs"]["edges"] = edge_id

    # a run left running, a deleted run, a run in a deleted experiment, a run in the Default experiment
    running = client.create_run(exp_b, run_name="still-running")
    client.log_metric(running.info.run_id, "progress", 0.5, step=1)
    deleted = client.create_run(exp_a, run_name="deleted-run")
    client.log_param(deleted.info.run_id, "x", "1")
    client.set_terminated(deleted.info.run_id)
    client.delete_run(deleted.info.run_id)
    gone_run = client.create_run(exp_gone, run_name="in-deleted-exp")
    client.set_terminated(gone_run.info.run_id)
    client.delete_experiment(exp_gone)
    default_run = client.create_run("0", run_name="default-exp-run")
    client.log_metric(default_run.info.run_id, "m", 1.0)
    client.set_terminated(default_run.info.run_id)
    summary["runs"].update(
        {"running": running.info.run_id, "deleted": deleted.info.run_id, "gone": gone_run.info.run_id}
    )

    if big:
        history = client.create_run(exp_b, run_name="long-history")
        points = [Metric("loss", 1.0 / (i + 1), now + i, i) for i in range(100_000)]
        for start in range(0, len(points), 1000):
            client.log_batch(history.info.run_id, metrics=points[start : start + 1000])
        client.set_terminated(history.info.run_id)
        summary["runs"]["history"] = history.info.run_id

    # MLflow 3 logged model without a run
    if MLFLOW_MAJOR >= 3:
        external = client.create_logged_model(
            exp_b, name="external-model", tags={"src": "outside"}, params={"k": "v"}
        )
        client.finalize_logged_model(external.model_id, "READY")
        summary["external_model"] = external.model_id

    # the registry: versions with a gap, stages, aliases, tags, descriptions
    name = "classifier"
    client.create_registered_model(name, tags={"domain": "vision"}, description="the team's classifier")
    run_id = parent.info.run_id
    source = model["model_uri"] if MLFLOW_MAJOR >= 3 else f"runs:/{run_id}/model"
    versions = []
    for i in range(4):
        kwargs = {"model_id": model["model_id"]} if MLFLOW_MAJOR >= 3 else {}
        mv = client.create_model_version(
            name, source, run_id=run_id, tags={"n": str(i + 1)}, description=f"version {i + 1}", **kwargs
        )
        versions.append(mv.version)
    client.delete_model_version(name, versions[2])  # version 3 is gone: 4 keeps its number
    client.transition_model_version_stage(name, versions[0], "Archived")
    client.transition_model_version_stage(name, versions[1], "Production")
    client.transition_model_version_stage(name, versions[3], "Staging")
    client.set_registered_model_alias(name, "champion", versions[1])
    client.set_registered_model_alias(name, "challenger", versions[3])
    client.set_model_version_tag(name, versions[1], "validated", "true")
    client.create_registered_model("empty-model", description="no versions yet")
    client.create_registered_model("dropped-model")
    client.delete_registered_model("dropped-model")

    # prompts (registered models with prompt tags underneath)
    client.register_prompt(
        name="greeting", template="Hello {{name}}!", commit_message="first", tags={"lang": "en"}
    )
    client.register_prompt(name="greeting", template="Hi {{name}}, welcome.", commit_message="friendlier")
    client.set_prompt_alias("greeting", "production", 1)
    return summary


def add_runs(uri: str, count: int) -> dict[str, object]:
    """New work logged between two migrations: runs added to ``migrate-a``, and the run left running gets
    more points, a new tag and its end."""
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("migrate-a")
    running = client.search_runs(
        [client.get_experiment_by_name("migrate-b ünïcode").experiment_id],
        "attributes.run_name = 'still-running'",
    )[0]
    now = int(time.time() * 1000)
    client.log_batch(
        running.info.run_id,
        metrics=[Metric("progress", 0.5 + i / 10, now + i, 2 + i) for i in range(5)],
        tags=[RunTag("resumed", "yes")],
    )
    client.set_terminated(running.info.run_id)
    ids = []
    for i in range(count):
        run = client.create_run(exp.experiment_id, run_name=f"later-{i}")
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("late", float(i), int(time.time() * 1000), i)],
            params=[Param("i", str(i))],
        )
        client.set_terminated(run.info.run_id)
        ids.append(run.info.run_id)
    return {"added": ids, "finished": running.info.run_id}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("targets", nargs="+")
    parser.add_argument("--extra", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    for target in args.targets:
        if args.extra:
            print(json.dumps(add_runs(target, args.extra)), flush=True)
            continue
        uri, _, rest = target.partition("::")
        artifact_root, _, big = rest.partition("::")
        print(json.dumps(fill(uri, artifact_root, big == "big")), flush=True)
        mlflow.set_experiment(experiment_id="0")  # the next target starts from a clean active state


if __name__ == "__main__":
    main()
