"""What ``bakehouse.models.evaluate`` records: the dataset input, metrics on the run and the logged model,
per-class tables and plots in the run and under the logged model's ``evaluations/<run_id>/``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import bakehouse as bh
from bakehouse.errors import InvalidParameterError, NotImplementedFeatureError
from bakehouse.models import MetricThreshold, ModelValidationFailedError


@pytest.fixture
def logged(tmp_tracking_uri: str, iris: Any, iris_lr: Any) -> Any:
    with bh.start_run():
        return bh.sklearn.log_model(iris_lr, name="model", pip_requirements=["scikit-learn"])


def _eval_frame(iris: Any) -> pd.DataFrame:
    _, X_test, _, y_test = iris
    return X_test.assign(species=y_test)


def test_metrics_plots_and_tables_go_to_the_run_and_the_logged_model(logged: Any, iris: Any) -> None:
    result = bh.models.evaluate(
        logged.model_uri, _eval_frame(iris), targets="species", model_type="classifier"
    )
    client = bh.Client()
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"  # started for the evaluation and ended
    assert {k: round(v, 12) for k, v in run.data.metrics.items()} == {
        k: round(float(v), 12) for k, v in result.metrics.items()
    }
    assert {"accuracy_score", "f1_score", "log_loss", "roc_auc", "example_count", "score"} <= set(
        result.metrics
    )
    files = sorted(f.path for f in client.list_artifacts(result.run_id))
    assert files == [
        "confusion_matrix.png",
        "per_class_metrics.csv",
        "precision_recall_curve_plot.png",
        "roc_curve_plot.png",
    ]
    assert result.artifacts["confusion_matrix"].content[:8] == b"\x89PNG\r\n\x1a\n"
    table = result.tables["per_class_metrics"]
    assert list(table["positive_class"]) == [0, 1, 2]
    assert {"precision_score", "recall_score", "f1_score", "roc_auc", "true_positives"} <= set(table.columns)

    (dataset_input,) = run.inputs.dataset_inputs
    assert dataset_input.name == "dataset" and run.inputs.model_inputs == [logged.model_id]
    model = bh.get_logged_model(logged.model_id)
    on_model = {m.key: m for m in model.metrics}
    assert set(on_model) == set(result.metrics)
    assert on_model["accuracy_score"].dataset_digest == dataset_input.digest
    assert on_model["accuracy_score"].run_id == result.run_id
    model_files = client.artifact_repository(model.artifact_location).list_artifacts(
        f"evaluations/{result.run_id}"
    )
    assert sorted(f.path.rsplit("/", 1)[-1] for f in model_files) == files
    assert bh.pyfunc.load_model(logged.model_uri).predict(iris[1][:2]) is not None  # the model still loads


def test_an_active_run_is_reused_and_left_open(logged: Any, iris: Any) -> None:
    with bh.start_run() as run:
        result = bh.models.evaluate(
            logged.model_uri,
            _eval_frame(iris),
            targets="species",
            model_type="classifier",
            evaluator_config={"log_plots": False, "metric_prefix": "holdout_"},
        )
        assert result.run_id == run.info.run_id and bh.active_run() is not None
    assert sorted(result.artifacts) == ["per_class_metrics"]
    assert all(k.startswith("holdout_") for k in result.metrics)
    assert result.artifacts["per_class_metrics"].local_path.name == "holdout_per_class_metrics.csv"


def test_a_regressor_gets_residuals_and_mlflow_regression_metrics(tmp_tracking_uri: str) -> None:
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    y = 3 * X["a"] - X["b"] + rng.normal(scale=0.1, size=200)
    result = bh.models.evaluate(
        LinearRegression().fit(X, y).predict, X.assign(y=y), targets="y", model_type="regressor"
    )
    assert set(result.metrics) == {
        "example_count",
        "mean_absolute_error",
        "mean_squared_error",
        "root_mean_squared_error",
        "sum_on_target",
        "mean_on_target",
        "r2_score",
        "max_error",
        "mean_absolute_percentage_error",
    }
    assert result.metrics["r2_score"] > 0.99 and sorted(result.artifacts) == ["residuals_plot"]


def test_static_predictions_need_no_model(tmp_tracking_uri: str) -> None:
    frame = pd.DataFrame({"x": [1, 2, 3, 4], "label": [0, 1, 1, 0], "pred": [0, 1, 0, 0]})
    result = bh.models.evaluate(
        data=frame,
        targets="label",
        predictions="pred",
        model_type="classifier",
        evaluator_config={"log_plots": False},
    )
    assert result.metrics["accuracy_score"] == 0.75 and result.metrics["true_positives"] == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"model_type": "ranker"}, InvalidParameterError, "model_type must be one of"),
        ({"targets": "nope"}, InvalidParameterError, "must name a column"),
        ({"evaluators": ["shap"]}, InvalidParameterError, "Only the default evaluator"),
        ({"extra_metrics": [object()]}, NotImplementedFeatureError, "extra_metrics"),
        ({"env_manager": "virtualenv"}, NotImplementedFeatureError, "env_manager"),
    ],
)
def test_bad_calls_are_refused_before_anything_is_logged(
    logged: Any, iris: Any, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    arguments: dict[str, Any] = {"targets": "species", "model_type": "classifier", **kwargs}
    before = len(bh.search_runs(output_format="list"))
    with pytest.raises(error, match=message):
        bh.models.evaluate(logged.model_uri, _eval_frame(iris), **arguments)
    assert len(bh.search_runs(output_format="list")) == before


def test_validation_names_each_failed_metric(logged: Any, iris: Any) -> None:
    result = bh.models.evaluate(
        logged.model_uri,
        _eval_frame(iris),
        targets="species",
        model_type="classifier",
        evaluator_config={"log_plots": False},
    )
    thresholds = {
        "accuracy_score": MetricThreshold(threshold=1.01, greater_is_better=True),
        "log_loss": MetricThreshold(min_absolute_change=0.5, greater_is_better=False),
        "f1_score": MetricThreshold(threshold=0.5, greater_is_better=True),
    }
    with pytest.raises(ModelValidationFailedError) as failed:
        bh.models.validate_evaluation_results(thresholds, result, result)
    assert set(failed.value.failures) == {"accuracy_score", "log_loss"}
    assert "Metric accuracy_score value threshold check failed" in failed.value.message
    assert "Metric log_loss minimum absolute change check failed" in failed.value.message
    bh.models.validate_evaluation_results({"f1_score": thresholds["f1_score"]}, result, result)
    with pytest.raises(InvalidParameterError, match="greater_is_better"):
        MetricThreshold(threshold=0.5)
