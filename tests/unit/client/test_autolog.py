"""bakehouse.autolog(): MLflow's one switch for every installed library Bakehouse can autolog."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import bakehouse as bh


@pytest.fixture(autouse=True)
def _off_afterwards() -> Iterator[None]:
    yield
    bh.autolog(disable=True)


OTHERS = ["xgboost", "lightgbm", "keras", "pytorch", "statsmodels", "transformers"]


def test_autolog_switches_scikit_learn_on_and_off(tmp_tracking_uri: str) -> None:
    X, y = load_iris(return_X_y=True)
    assert bh.autolog(exclude_flavors=["sklearn", *OTHERS]) == []
    LogisticRegression(max_iter=500).fit(X, y)
    assert bh.search_runs(output_format="list") == []

    assert bh.autolog(extra_tags={"source": "notebook"}, exclude_flavors=OTHERS) == ["sklearn"]
    LogisticRegression(max_iter=500).fit(X, y)
    (run,) = bh.search_runs(output_format="list")
    assert run.data.tags["estimator_name"] == "LogisticRegression" and run.data.tags["source"] == "notebook"
    assert run.data.metrics["training_accuracy_score"] > 0.9 and run.info.status == "FINISHED"

    bh.autolog(disable=True)
    LogisticRegression(max_iter=500).fit(X, y)
    assert len(bh.search_runs(output_format="list")) == 1


def test_autolog_turns_on_every_installed_library(tmp_tracking_uri: str) -> None:
    import importlib.util

    libraries = {"pytorch": "lightning"}
    installed = [f for f in OTHERS if importlib.util.find_spec(libraries.get(f, f)) is not None]
    assert bh.autolog(extra_tags={"source": "notebook"}) == ["sklearn", *installed]
    if "statsmodels" not in installed:
        return
    import numpy as np
    import statsmodels.api as sm

    rng = np.random.RandomState(0)
    X = sm.add_constant(rng.rand(30, 2))
    sm.OLS(X @ [1.0, 2.0, 3.0] + rng.rand(30), X).fit()
    (run,) = bh.search_runs(output_format="list")
    assert run.data.tags["mlflow.autologging"] == "statsmodels" and run.data.tags["source"] == "notebook"
    assert run.data.metrics["rsquared"] > 0.5 and run.info.status == "FINISHED"
    bh.autolog(disable=True)
    sm.OLS(X @ [1.0, 2.0, 3.0], X).fit()
    assert len(bh.search_runs(output_format="list")) == 1
