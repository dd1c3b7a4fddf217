"""Train a logistic regression on iris and track it with Bakehouse.

    python examples/iris/train.py [--C 1.0] [--max-iter 200] [--solver lbfgs]

Logs params and metrics to the current tracking URI (default: ./bakehouse.db), then the model, registered
as ``iris``. The last lines printed are ``RUN_ID=...`` and (when registered) ``MODEL_VERSION=...`` for scripts.
"""

from __future__ import annotations

import argparse
import sys

from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score
from sklearn.model_selection import train_test_split

import bakehouse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--max-iter", type=int, default=200)
    parser.add_argument("--solver", default="lbfgs")
    parser.add_argument("--random-state", type=int, default=42)
    parser.add_argument("--experiment", default="iris")
    parser.add_argument("--registered-model-name", default="iris")
    args = parser.parse_args(argv)

    X, y = load_iris(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=args.random_state)
    params = {"C": args.C, "solver": args.solver, "max_iter": args.max_iter, "random_state": args.random_state}

    bakehouse.set_experiment(args.experiment)
    with bakehouse.start_run(run_name="iris-logreg") as run:
        bakehouse.log_params(params)
        lr = LogisticRegression(**params)
        lr.fit(X_train, y_train)
        predictions = lr.predict(X_test)
        metrics = {
            "accuracy": accuracy_score(y_test, predictions),
            "precision": precision_score(y_test, predictions, average="macro"),
            "recall": recall_score(y_test, predictions, average="macro"),
            "f1": f1_score(y_test, predictions, average="macro"),
        }
        bakehouse.log_metrics(metrics)
        bakehouse.set_tag("dataset", "iris")
        version = log_model(lr, X_test, args.registered_model_name)

    print(f"Run {run.info.run_id} in experiment {run.info.experiment_id} ({args.experiment!r})")
    print(f"  tracking URI: {bakehouse.get_tracking_uri()}")
    print(f"  artifacts:    {run.info.artifact_uri}")
    print("  metrics:      " + ", ".join(f"{k}={v:.3f}" for k, v in metrics.items()))
    print(f"RUN_ID={run.info.run_id}")
    if version is not None:
        print(f"MODEL_VERSION={version}")
    return 0


def log_model(lr: LogisticRegression, X_test: object, registered_model_name: str) -> str | None:
    """Log (and register) the model when the sklearn flavor is available; returns the version."""
    try:
        import bakehouse.sklearn
    except ImportError as exc:
        print(f"(model not logged: bakehouse.sklearn is not available: {exc})", file=sys.stderr)
        return None
    info = bakehouse.sklearn.log_model(
        lr, name="model", input_example=X_test[:5], registered_model_name=registered_model_name  # type: ignore[index]
    )
    # Load it back the way a consumer would, and check it predicts exactly what the trained model does.
    import bakehouse.pyfunc

    run = bakehouse.active_run()
    loaded = bakehouse.pyfunc.load_model(f"runs:/{run.info.run_id}/model")  # type: ignore[union-attr]
    same = list(loaded.predict(X_test)) == list(lr.predict(X_test))
    print(f"  reloaded runs:/{run.info.run_id}/model -> same predictions: {same}")  # type: ignore[union-attr]
    if not same:
        raise SystemExit("the reloaded model predicts differently from the trained one")
    version = getattr(info, "registered_model_version", None)
    return None if version is None else str(version)


if __name__ == "__main__":
    sys.exit(main())
