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


def test_autolog_switches_scikit_learn_on_and_off(tmp_tracking_uri: str) -> None:
    X, y = load_iris(return_X_y=True)
    assert bh.autolog(exclude_flavors=["sklearn"]) == []
    LogisticRegression(max_iter=500).fit(X, y)
    assert bh.search_runs(output_format="list") == []

    assert bh.autolog(extra_tags={"source": "notebook"}) == ["sklearn"]
    LogisticRegression(max_iter=500).fit(X, y)
    (run,) = bh.search_runs(output_format="list")
    assert run.data.tags["estimator_name"] == "LogisticRegression" and run.data.tags["source"] == "notebook"
    assert run.data.metrics["training_accuracy_score"] > 0.9 and run.info.status == "FINISHED"

    bh.autolog(disable=True)
    LogisticRegression(max_iter=500).fit(X, y)
    assert len(bh.search_runs(output_format="list")) == 1
