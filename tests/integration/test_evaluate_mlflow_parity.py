"""``bakehouse.models.evaluate`` against ``mlflow.models.evaluate`` (3.17.2): one saved model, one dataset,
the same metric keys and values; ``validate_evaluation_results`` passes and fails where MLflow's does, with
the same message."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.naive_bayes import GaussianNB

import bakehouse as bh
from bakehouse.errors import BadRequestError
from bakehouse.models import MetricThreshold

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("evaluate-parity")
    return {
        "mlflow": f"sqlite:///{root / 'mlflow.db'}",
        "bakehouse": f"sqlite:///{root / 'bakehouse.db'}",
        "root": str(root),
    }


@pytest.fixture(scope="module")
def saved_models() -> dict[int, tuple[Any, Path]]:
    """Models saved so far, by id(): each kept alive beside its directory, so a later test's model cannot
    get a reused id() and load an earlier test's model from the same path."""
    return {}


@pytest.fixture
def evaluate_both(
    stores: dict[str, str], saved_models: dict[int, tuple[Any, Path]]
) -> Iterator[Callable[..., tuple[Any, Any]]]:
    saved = saved_models

    def run(model: Any, data: Any, **kwargs: Any) -> tuple[Any, Any]:
        if id(model) not in saved:
            path = Path(stores["root"]) / f"model-{len(saved)}"
            mlflow.sklearn.save_model(model, str(path), pip_requirements=["scikit-learn"])  # no inference
            saved[id(model)] = (model, path)
        path = saved[id(model)][1]
        mlflow.set_tracking_uri(stores["mlflow"])
        with mlflow.start_run(), warnings.catch_warnings():
            # MLflow gives array-fitted sklearn models a DataFrame and sklearn warns; Bakehouse does not
            warnings.filterwarnings("ignore", "X has feature names", UserWarning)
            # MLflow's evaluate imports every installed flavor library through its own import hook, which
            # Python 3.11 reports as an ImportWarning and a DeprecationWarning (mlflow.utils.import_hooks, not ours)
            warnings.filterwarnings("ignore", "_ImportHookChainedLoader", ImportWarning)
            warnings.filterwarnings("ignore", "the load_module", DeprecationWarning)
            theirs = mlflow.models.evaluate(str(path), data, **kwargs)
        bh.set_tracking_uri(stores["bakehouse"])
        with bh.start_run():
            ours = bh.models.evaluate(str(path), data, **kwargs)
        return theirs, ours

    yield run


def _assert_same_metrics(theirs: Any, ours: Any) -> None:
    assert sorted(ours.metrics) == sorted(theirs.metrics)
    for key, value in theirs.metrics.items():
        assert math.isclose(float(ours.metrics[key]), float(value), rel_tol=1e-9, abs_tol=1e-12), key


def _iris() -> pd.DataFrame:
    X, y = load_iris(return_X_y=True, as_frame=True)
    return X.assign(species=y)


def test_multiclass_classifier(evaluate_both: Callable[..., tuple[Any, Any]]) -> None:
    data = _iris()
    model = LogisticRegression(max_iter=500).fit(data.drop(columns="species"), data["species"])
    theirs, ours = evaluate_both(model, data, targets="species", model_type="classifier")
    _assert_same_metrics(theirs, ours)
    assert {"accuracy_score", "f1_score", "log_loss", "roc_auc", "score"} <= set(ours.metrics)
    table = ours.tables["per_class_metrics"]
    pd.testing.assert_frame_equal(table, theirs.artifacts["per_class_metrics"].content, check_dtype=False)


def test_binary_classifier(evaluate_both: Callable[..., tuple[Any, Any]]) -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=5000).fit(X, y)
    theirs, ours = evaluate_both(model, X.assign(label=y), targets="label", model_type="classifier")
    _assert_same_metrics(theirs, ours)
    assert {"precision_recall_auc", "roc_auc", "true_positives", "log_loss"} <= set(ours.metrics)


def test_binary_string_labels_with_pos_label_and_weights(
    evaluate_both: Callable[..., tuple[Any, Any]],
) -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    labels = np.where(y == 1, "benign", "malignant")
    model = GaussianNB().fit(X, labels)
    weights = np.linspace(0.5, 1.5, len(X))
    config = {"pos_label": "malignant", "sample_weights": weights}
    theirs, ours = evaluate_both(
        model, X.assign(label=labels), targets="label", model_type="classifier", evaluator_config=config
    )
    _assert_same_metrics(theirs, ours)


def test_regressor(evaluate_both: Callable[..., tuple[Any, Any]]) -> None:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    model = LinearRegression().fit(X, y)
    theirs, ours = evaluate_both(
        model, X.assign(progression=y), targets="progression", model_type="regressor"
    )
    _assert_same_metrics(theirs, ours)
    assert {"mean_squared_error", "root_mean_squared_error", "r2_score", "max_error"} <= set(ours.metrics)
    assert "residuals_plot" in ours.artifacts  # Bakehouse draws it; MLflow 3.17 logs no regressor plot


def test_numpy_data_and_a_metric_prefix(evaluate_both: Callable[..., tuple[Any, Any]]) -> None:
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    theirs, ours = evaluate_both(
        model, X, targets=y, model_type="classifier", evaluator_config={"metric_prefix": "val_"}
    )
    _assert_same_metrics(theirs, ours)
    assert all(k.startswith("val_") for k in ours.metrics)


THRESHOLDS = [
    {"accuracy_score": MetricThreshold(threshold=0.9, greater_is_better=True)},
    {"accuracy_score": MetricThreshold(threshold=0.99, greater_is_better=True)},
    {"log_loss": MetricThreshold(threshold=0.01, greater_is_better=False)},
    {"accuracy_score": MetricThreshold(min_absolute_change=0.05, greater_is_better=True)},
    {"accuracy_score": MetricThreshold(min_relative_change=0.01, greater_is_better=True)},
    {
        "accuracy_score": MetricThreshold(threshold=0.5, min_absolute_change=0.01, greater_is_better=True),
        "log_loss": MetricThreshold(min_relative_change=0.5, greater_is_better=False),
        "f1_score": MetricThreshold(threshold=0.999, greater_is_better=True),
        "not_a_metric": MetricThreshold(threshold=1.0, greater_is_better=True),
    },
]


@pytest.mark.parametrize("thresholds", THRESHOLDS)
def test_validation_passes_and_fails_as_mlflows(thresholds: dict[str, MetricThreshold]) -> None:
    from mlflow.models import MetricThreshold as MlflowThreshold

    candidate = {"accuracy_score": 0.95, "log_loss": 0.2, "f1_score": 0.94}
    baseline = {"accuracy_score": 0.93, "log_loss": 0.25, "f1_score": 0.9}
    theirs_thresholds = {k: MlflowThreshold(**t.__dict__) for k, t in thresholds.items()}
    results = [
        type("R", (), {"metrics": candidate})(),
        type("R", (), {"metrics": baseline})(),
    ]
    mlflow_error = bakehouse_error = None
    try:
        mlflow.validate_evaluation_results(theirs_thresholds, *results)
    except MlflowException as exc:
        mlflow_error = exc.message
    try:
        bh.validate_evaluation_results(thresholds, *results)
    except BadRequestError as exc:
        bakehouse_error = exc
    assert (mlflow_error is None) == (bakehouse_error is None)
    if mlflow_error is not None:
        assert bakehouse_error is not None and bakehouse_error.message == mlflow_error
        for name in bakehouse_error.failures:
            assert f"metric {name}" in bakehouse_error.message or f"Metric {name}" in bakehouse_error.message
