"""Seed a running tracking server with realistic runs through the official ``mlflow`` client (REST)."""

from __future__ import annotations

import json
import math
import os
import struct
import tempfile
import time
import warnings
import zlib
from dataclasses import dataclass, field

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

XSS = '<img src=x onerror="window.__xss=1">'


@dataclass
class Seeded:
    iris_exp: str = ""
    misc_exp: str = ""
    empty_exp: str = ""
    iris_runs: dict[str, str] = field(default_factory=dict)  # C value -> run id
    parent_run: str = ""
    child_runs: list[str] = field(default_factory=list)
    artifact_run: str = ""
    running_run: str = ""
    long_run: str = ""
    model_name: str = "iris-classifier"


def _png(width: int = 64, height: int = 40) -> bytes:
    """A small gradient PNG without Pillow."""
    raw = b"".join(
        b"\x00" + b"".join(bytes((x * 4 % 256, y * 6 % 256, 160)) for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


MLMODEL = """artifact_path: model
flavors:
  python_function:
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.sklearn
    model_path: model.pkl
    predict_fn: predict
    python_version: 3.11.7
  sklearn:
    code: null
    pickled_model: model.pkl
    serialization_format: cloudpickle
    sklearn_version: 1.9.1
mlflow_version: 3.17.2
model_size_bytes: 1234
model_uuid: 5d0c2b5a1f2e4c4f9b1d0c1e2f3a4b5c
signature:
  inputs: '[{"type": "double", "name": "sepal length (cm)", "required": true}, {"type":
    "double", "name": "sepal width (cm)", "required": true}, {"type": "double", "name":
    "petal length (cm)", "required": true}, {"type": "double", "name": "petal width (cm)",
    "required": true}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]'
  params: null
utc_time_created: '2026-11-23 10:00:00.000000'
"""


def seed(url: str, long_points: int = 100_000, store_uri: str | None = None) -> Seeded:
    """Seed through the REST API; with ``store_uri`` the 100k-point metric goes straight into the SQL store
    (the same database the server reads), which is ~10x faster than 100 REST batches."""
    c = MlflowClient(tracking_uri=url, registry_uri=url)
    s = Seeded()
    now = int(time.time() * 1000)
    seed_iris_project(c, s, now)
    seed_misc_and_registry(c, s, now, url, long_points, store_uri)
    return s


def seed_iris_project(c: MlflowClient, s: Seeded, now: int) -> None:
    """IrisProject: seven logistic regressions (the seeds' C comparison) and a grid search with three
    nested children; a test that needs only these seeds its own store with this alone."""
    s.iris_exp = c.create_experiment("IrisProject", tags={"team": "bakers", "dataset": "iris"})
    for i, C in enumerate([0.01, 0.1, 0.5, 1.0, 5.0, 10.0, 100.0]):
        solver = "lbfgs" if i % 2 == 0 else "liblinear"
        run = c.create_run(
            s.iris_exp,
            run_name=f"iris-C={C}",
            start_time=now - (10 - i) * 60_000,
            tags={
                "mlflow.source.name": "train.py",
                "mlflow.source.type": "PROJECT",
                "mlflow.source.git.commit": f"{i:02d}ab3f9c0d1e2f",
                "mlflow.user": "alice",
            },
        )
        rid = run.info.run_id
        acc = 0.62 + 0.33 * (1 - math.exp(-C * 2)) - (0.03 if C > 20 else 0)
        metrics = [
            Metric("accuracy", acc, now, 0),
            Metric("f1", acc - 0.02, now, 0),
            Metric("log_loss", 1.2 / (1 + C), now, 0),
        ]
        metrics += [
            Metric("train_loss", 1.5 * math.exp(-st / (5 + C)) + 0.05, now + st * 1000, st)
            for st in range(40)
        ]
        c.log_batch(
            rid,
            metrics=metrics,
            params=[Param("C", str(C)), Param("solver", solver), Param("max_iter", "200")],
            tags=[RunTag("model", "LogisticRegression")],
        )
        c.log_text(rid, MLMODEL.replace("5d0c2b5a1f2e4c4f9b1d0c1e2f3a4b5c", f"{i:032x}"), "model/MLmodel")
        c.set_terminated(rid, "FINISHED", end_time=now - (10 - i) * 60_000 + 4200 + i * 900)
        s.iris_runs[str(C)] = rid

    # --- nested runs: a hyper-parameter search with children
    parent = c.create_run(s.iris_exp, run_name="grid-search", tags={"mlflow.user": "alice"})
    s.parent_run = parent.info.run_id
    for depth in (2, 4, 8):
        child = c.create_run(
            s.iris_exp,
            run_name=f"tree-depth-{depth}",
            tags={"mlflow.parentRunId": s.parent_run, "mlflow.user": "alice"},
        )
        c.log_batch(
            child.info.run_id,
            metrics=[Metric("accuracy", 0.8 + depth / 100, now, 0)],
            params=[Param("max_depth", str(depth))],
        )
        c.set_terminated(child.info.run_id)
        s.child_runs.append(child.info.run_id)
    c.log_metric(s.parent_run, "accuracy", 0.88)
    c.set_terminated(s.parent_run)


def seed_misc_and_registry(
    c: MlflowClient, s: Seeded, now: int, url: str, long_points: int, store_uri: str | None
) -> None:
    """The misc experiment (artifacts, live/failed runs, hostile strings, a long metric), an empty one and
    the registry (versions of IrisProject's runs, so after :func:`seed_iris_project`)."""

    # --- misc experiment: artifacts, a running run, a failed run, hostile strings, a long metric
    s.misc_exp = c.create_experiment("Misc & <b>edge</b> cases")
    art = c.create_run(
        s.misc_exp,
        run_name=f"artifacts {XSS}",
        tags={
            "mlflow.note.content": "# Notes\nThis run has **artifacts** and a [link](https://example.com).\n\n- item one\n- item `two`\n\n<script>window.__xss=1</script>",
            "owner": XSS,
        },
    )
    s.artifact_run = art.info.run_id
    c.log_param(s.artifact_run, "evil", XSS)
    with tempfile.TemporaryDirectory() as d:
        files = {
            "notes.txt": "plain text artifact\nline two\n",
            "config.yaml": "lr: 0.01\nlayers: [64, 32]\n",
            "metrics.json": json.dumps({"accuracy": 0.93, "per_class": [0.9, 0.95, 0.94]}),
            "predictions.csv": 'id,label,score\n1,setosa,0.99\n2,versicolor,0.81\n3,"virginica, maybe",0.64\n',
            "report.html": "<html><body><h1>Report</h1><p>Accuracy 93%</p><script>parent.__xss=1</script></body></html>",
            "model/MLmodel": MLMODEL,
            "model/requirements.txt": "scikit-learn==1.9.1\n",
        }
        for rel, text in files.items():
            path = os.path.join(d, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as fh:
                fh.write(text)
        with open(os.path.join(d, "plot.png"), "wb") as fh:
            fh.write(_png())
        c.log_artifacts(s.artifact_run, d)
    c.log_batch(s.artifact_run, metrics=[Metric("loss", 1 / (1 + i), now + i, i) for i in range(30)])
    c.set_terminated(s.artifact_run)

    failed = c.create_run(s.misc_exp, run_name="crashed")
    c.set_terminated(failed.info.run_id, "FAILED")

    running = c.create_run(s.misc_exp, run_name="live-training")
    s.running_run = running.info.run_id
    c.log_metric(s.running_run, "loss", 1.0, step=0)

    long_run = c.create_run(s.misc_exp, run_name="long-metric")
    s.long_run = long_run.info.run_id
    values = [
        (st, math.sin(st / 2000) + 0.1 * math.sin(st / 7) + (3.0 if st == 54_321 else 0.0))
        for st in range(long_points)
    ]
    if store_uri:
        from bakehouse.entities import Metric as BhMetric
        from bakehouse.store.tracking.sql.store import SqlTrackingStore

        store = SqlTrackingStore.from_uri(store_uri)
        for i in range(0, len(values), 1000):
            store.log_batch(
                s.long_run, metrics=[BhMetric("signal", v, now + st, st) for st, v in values[i : i + 1000]]
            )
        store.engine.dispose()
    else:
        for i in range(0, len(values), 1000):
            c.log_batch(
                s.long_run, metrics=[Metric("signal", v, now + st, st) for st, v in values[i : i + 1000]]
            )
    c.set_terminated(s.long_run)

    s.empty_exp = c.create_experiment("Empty experiment")

    # --- registry: a model with three versions, stages and aliases
    c.create_registered_model(
        s.model_name,
        tags={"task": "classification"},
        description="Iris **classifier** trained by IrisProject.",
    )
    for C in ("0.1", "1.0", "10.0"):
        c.create_model_version(s.model_name, f"runs:/{s.iris_runs[C]}/model", run_id=s.iris_runs[C])
    c.set_registered_model_alias(s.model_name, "champion", "2")
    with warnings.catch_warnings():  # stages are deprecated in mlflow, still supported (and audited) here
        warnings.simplefilter("ignore")
        c.transition_model_version_stage(s.model_name, "2", "Production")
        c.transition_model_version_stage(s.model_name, "1", "Archived")
    c.set_model_version_tag(s.model_name, "2", "validated", "true")
    # a prompt of MLflow's prompt registry is a registered model too: the models list must not show it
    import httpx  # the official client only makes prompts through mlflow.genai; the REST call is the same

    httpx.post(
        f"{url}/api/2.0/mlflow/registered-models/create",
        timeout=30,
        json={"name": "greeting-prompt", "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}]},
    ).raise_for_status()


if __name__ == "__main__":  # pragma: no cover - manual use
    import sys

    print(seed(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 100_000))
