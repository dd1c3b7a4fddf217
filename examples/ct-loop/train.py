"""One turn of the continuous-training loop: train on the newest data, judge it against @champion, register
it, and move @champion only if it is better.

Run by a trigger (``bakehouse run examples/ct-loop --on-new-data incoming/``, which passes the newest file
as ``--data``) or by hand (``bakehouse run examples/ct-loop -P data=incoming/001-small.csv``).

The decision uses MLflow's validation API on the same holdout for both models: the candidate needs
``accuracy_score >= min_accuracy`` and, when there is a champion, ``accuracy_score >= champion's +
min_improvement``. Every candidate is registered (so it can be inspected); the run's tags say whether it was
promoted and, if not, which checks failed.
"""

from __future__ import annotations

import argparse

import pandas as pd
from irisdata import FEATURES, TARGET, holdout
from sklearn.linear_model import LogisticRegression

import bakehouse as bh
from bakehouse.errors import BakehouseError
from bakehouse.models import MetricThreshold, ModelValidationFailedError

PARAMS = {"solver": "lbfgs", "max_iter": 1000, "random_state": 8888}  # the seeds' logistic regression


def champion_version(client: bh.Client, name: str, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except BakehouseError:  # no such model or alias yet: the first good model becomes champion
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True)
    parser.add_argument("--model-name", default="iris-ct")
    parser.add_argument("--alias", default="champion")
    parser.add_argument("--min-accuracy", type=float, default=0.8)
    parser.add_argument("--min-improvement", type=float, default=0.02)
    args = parser.parse_args()

    train = pd.read_csv(args.data)
    evaluation = holdout()
    client = bh.Client()
    with bh.start_run() as run:
        model = LogisticRegression(**PARAMS).fit(train[FEATURES], train[TARGET])
        bh.log_params({**PARAMS, "rows": len(train)})
        info = bh.sklearn.log_model(
            model, name="model", input_example=train[FEATURES].head(3), pip_requirements=["scikit-learn"]
        )
        candidate = bh.models.evaluate(info.model_uri, evaluation, targets=TARGET, model_type="classifier")

        before = champion_version(client, args.model_name, args.alias)
        baseline = None
        if before is not None:
            with bh.start_run(nested=True, run_name=f"{args.alias}-v{before}"):
                baseline = bh.models.evaluate(
                    f"models:/{args.model_name}/{before}", evaluation, targets=TARGET, model_type="classifier"
                )
        version = bh.register_model(info.model_uri, args.model_name).version

        threshold = MetricThreshold(
            threshold=args.min_accuracy,
            min_absolute_change=args.min_improvement if baseline is not None else None,
            greater_is_better=True,
        )
        try:
            bh.models.validate_evaluation_results({"accuracy_score": threshold}, candidate, baseline)
            promoted, reason = True, "passed"
        except ModelValidationFailedError as failed:
            promoted, reason = False, failed.message
        if promoted:
            client.set_registered_model_alias(args.model_name, args.alias, version)
        bh.set_tags(
            {
                "ct.version": version,
                "ct.champion_before": before or "",
                "ct.promoted": str(promoted).lower(),
                "ct.validation": reason,
            }
        )
        accuracy = candidate.metrics["accuracy_score"]
        if promoted:
            verdict = f"@{args.alias} -> v{version}"
        else:
            verdict = f"@{args.alias} stays on v{before}" if before else f"@{args.alias} not set"
        print(f"run {run.info.run_id}: v{version} accuracy={accuracy:.3f}; {verdict}")
        if not promoted:
            print(reason)


if __name__ == "__main__":
    main()
