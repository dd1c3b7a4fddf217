"""Model evaluation: ``bakehouse.models.evaluate`` vs ``mlflow.models.evaluate`` (3.17.2), same model, same data.

Workloads (the model is saved once by MLflow, skops, and both tools evaluate that directory):

- ``multiclass``: LogisticRegression on iris (150 rows, 3 classes);
- ``binary``: LogisticRegression on breast cancer (569 rows, 30 features);
- ``regressor``: LinearRegression on diabetes (442 rows);
- ``large``: LogisticRegression on 50,000 synthetic rows, 20 features, 4 classes.

Each measurement is a fresh Python process per tool (imports and store creation happen before the clock);
what is timed is one ``evaluate(...)`` call inside an active run on an embedded SQLite store: prediction,
metrics, plots and logging. The metric values of both tools are compared too (they must agree). Prints the
median seconds per tool and workload, and the ratio (MLflow / Bakehouse: higher is better for Bakehouse).

    python bench/bench_evaluate.py --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

WORKLOADS = ("multiclass", "binary", "regressor", "large")

CHILD = r"""
import json, sys, time, warnings, logging
warnings.simplefilter("ignore")
logging.disable(logging.WARNING)
tool, workload, model_dir, data_path, workdir = sys.argv[1:6]
import pandas as pd
data = pd.read_parquet(data_path)
kind = "regressor" if workload == "regressor" else "classifier"
if tool == "mlflow":
    import mlflow
    mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlflow.db")
    mlflow.set_experiment("bench")
    evaluate, start_run = mlflow.models.evaluate, mlflow.start_run
else:
    import bakehouse as bh
    bh.set_tracking_uri(f"sqlite:///{workdir}/bakehouse.db")
    bh.set_experiment("bench")
    evaluate, start_run = bh.models.evaluate, bh.start_run
import matplotlib, sklearn.metrics  # both tools draw with matplotlib: loaded before the clock
with start_run():
    pass  # the store and the experiment exist before the clock
with start_run():
    started = time.perf_counter()
    result = evaluate(model_dir, data, targets="target", model_type=kind)
    seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "metrics": {k: float(v) for k, v in result.metrics.items()}}))
"""


def prepare(workdir: Path) -> dict[str, tuple[Path, Path]]:
    """Save each workload's model (by MLflow) and data (Parquet) once."""
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, make_classification
    from sklearn.linear_model import LinearRegression, LogisticRegression

    out = {}
    for name in WORKLOADS:
        if name == "multiclass":
            X, y = load_iris(return_X_y=True, as_frame=True)
            model = LogisticRegression(max_iter=1000).fit(X, y)
        elif name == "binary":
            X, y = load_breast_cancer(return_X_y=True, as_frame=True)
            model = LogisticRegression(max_iter=5000).fit(X, y)
        elif name == "regressor":
            X, y = load_diabetes(return_X_y=True, as_frame=True)
            model = LinearRegression().fit(X, y)
        else:
            features, labels = make_classification(
                n_samples=50_000, n_features=20, n_informative=8, n_classes=4, random_state=0
            )
            X = pd.DataFrame(features, columns=[f"f{i}" for i in range(20)])
            y = pd.Series(labels)
            model = LogisticRegression(max_iter=1000).fit(X, y)
        model_dir = workdir / f"{name}-model"
        mlflow.sklearn.save_model(model, str(model_dir), pip_requirements=["scikit-learn"])
        data_path = workdir / f"{name}.parquet"
        X.assign(target=np.asarray(y)).to_parquet(data_path)
        out[name] = (model_dir, data_path)
    return out


def measure(tool: str, workload: str, model_dir: Path, data_path: Path) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix=f"bench-evaluate-{tool}-") as tmp:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, tool, workload, str(model_dir), str(data_path), tmp],
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"{tool} {workload} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--json", type=Path, default=None, help="Also write the raw timings here.")
    args = parser.parse_args()
    workloads = [w for w in args.workloads.split(",") if w]
    raw: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-evaluate-") as tmp:
        prepared = prepare(Path(tmp))
        for workload in workloads:
            model_dir, data_path = prepared[workload]
            raw[workload] = {"bakehouse": [], "mlflow": []}
            for _ in range(args.repeats):
                results = {
                    tool: measure(tool, workload, model_dir, data_path) for tool in ("bakehouse", "mlflow")
                }
                ours, theirs = results["bakehouse"]["metrics"], results["mlflow"]["metrics"]
                assert isinstance(ours, dict) and isinstance(theirs, dict)
                assert sorted(ours) == sorted(theirs), (sorted(ours), sorted(theirs))
                for key, value in theirs.items():
                    assert abs(ours[key] - value) <= 1e-9 * max(1.0, abs(value)), (
                        workload,
                        key,
                        ours[key],
                        value,
                    )
                for tool, result in results.items():
                    raw[workload][tool].append(float(result["seconds"]))
    print(f"{'workload':<12} {'bakehouse s':>12} {'mlflow s':>10} {'ratio':>7}   (median of {args.repeats})")
    for workload, timings in raw.items():
        ours_s, theirs_s = statistics.median(timings["bakehouse"]), statistics.median(timings["mlflow"])
        print(f"{workload:<12} {ours_s:>12.3f} {theirs_s:>10.3f} {theirs_s / ours_s:>6.2f}x")
    print("metric keys and values: identical for every workload and repeat")
    if args.json:
        args.json.write_text(json.dumps(raw, indent=2))


if __name__ == "__main__":
    main()
