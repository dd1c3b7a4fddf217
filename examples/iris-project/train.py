"""Train a logistic regression on iris; run it with `bakehouse run examples/iris-project -P C=0.5`.

`bakehouse run` creates the run, logs the project parameters (C, max_iter) and passes the run id in the
environment, so `bakehouse.start_run()` below attaches to that run instead of creating a new one. Run
directly (`python train.py --C 0.5`) it creates its own run.
"""

from __future__ import annotations

import argparse
import sys

from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

import bakehouse


def main() -> None:
    parser = argparse.ArgumentParser(description="Iris logistic regression")
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--max-iter", type=int, default=200)
    args = parser.parse_args()

    X, y = load_iris(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
    with bakehouse.start_run() as run:
        bakehouse.log_params({"solver": "lbfgs", "random_state": 8888})
        model = LogisticRegression(C=args.C, max_iter=args.max_iter, solver="lbfgs", random_state=8888)
        model.fit(X_train, y_train)
        predictions = model.predict(X_test)
        accuracy = accuracy_score(y_test, predictions)
        bakehouse.log_metrics({"accuracy": accuracy, "f1": f1_score(y_test, predictions, average="macro")})
        print(f"run {run.info.run_id}: C={args.C} accuracy={accuracy:.4f} (python {sys.prefix})")


if __name__ == "__main__":
    main()
