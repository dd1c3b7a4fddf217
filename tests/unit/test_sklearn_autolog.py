"""bakehouse.sklearn.autolog(): what MLflow 3.17.2's sklearn autologging logs, under its names, on SQLite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.datasets import load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import bakehouse as bh
import bakehouse.pyfunc
import bakehouse.sklearn
from bakehouse.client.client import Client
from bakehouse.entities import Run
from bakehouse.errors import InvalidParameterError

CLASSIFIER_METRICS = {
    "training_score",
    "training_accuracy_score",
    "training_precision_score",
    "training_recall_score",
    "training_f1_score",
    "training_log_loss",
    "training_roc_auc",
}
REGRESSOR_METRICS = {
    "training_score",
    "training_mean_squared_error",
    "training_root_mean_squared_error",
    "training_mean_absolute_error",
    "training_r2_score",
}


@pytest.fixture(autouse=True)
def _autolog_off_afterwards() -> Iterator[None]:
    yield
    bakehouse.sklearn.autolog(disable=True)
    while bh.active_run() is not None:
        bh.end_run()


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray, np.ndarray]:
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def diabetes() -> tuple[np.ndarray, np.ndarray]:
    return load_diabetes(return_X_y=True)


def _runs() -> list[Run]:
    return bh.search_runs(output_format="list")


def _only_run() -> Run:
    runs = _runs()
    assert len(runs) == 1, [r.data.tags.get("estimator_name") for r in runs]
    return runs[0]


def _user_tags(run: Run) -> dict[str, str]:
    return {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")}


def test_classifier_params_tags_metrics_dataset_and_model(tmp_tracking_uri: str, iris: Any) -> None:
    X, y = iris
    bakehouse.sklearn.autolog(log_post_training_metrics=False)  # the expected values below score the model
    model = LogisticRegression(max_iter=1000, C=0.5)
    assert model.fit(X, y) is model
    run = _only_run()
    assert run.info.status == "FINISHED" and bh.active_run() is None
    assert run.data.params == {k: str(v) for k, v in model.get_params(deep=True).items()}
    assert run.data.params["C"] == "0.5"
    assert _user_tags(run) == {
        "estimator_name": "LogisticRegression",
        "estimator_class": "sklearn.linear_model._logistic.LogisticRegression",
    }
    assert run.data.tags["mlflow.autologging"] == "sklearn"
    pred, proba = model.predict(X), model.predict_proba(X)
    expected = {
        "training_score": model.score(X, y),
        "training_accuracy_score": skm.accuracy_score(y, pred),
        "training_precision_score": skm.precision_score(y, pred, average="weighted"),
        "training_recall_score": skm.recall_score(y, pred, average="weighted"),
        "training_f1_score": skm.f1_score(y, pred, average="weighted"),
        "training_log_loss": skm.log_loss(y, proba),
        "training_roc_auc": skm.roc_auc_score(y, proba, average="weighted", multi_class="ovo"),
    }
    assert run.data.metrics == pytest.approx(expected)
    [dataset_input] = run.inputs.dataset_inputs
    assert dataset_input.tags["mlflow.data.context"] == "train"
    assert dataset_input.source_type == "code"
    [output] = run.outputs.model_outputs
    client = Client()
    logged = client.get_logged_model(output.model_id)
    assert logged.name == "model" and logged.params["C"] == "0.5"
    model_metrics = {m.key: m for m in logged.metrics or []}  # metrics logged with the model's id, as MLflow
    assert model_metrics["training_score"].value == pytest.approx(expected["training_score"])
    assert model_metrics["training_score"].dataset_digest == dataset_input.digest
    loaded = bakehouse.pyfunc.load_model(f"models:/{output.model_id}")
    np.testing.assert_array_equal(loaded.predict(X[:10]), pred[:10])
    signature = loaded.metadata.signature
    assert signature is not None and signature.inputs.is_tensor_spec()
    # three classes: the confusion matrix only (ROC and precision-recall curves are for binary classifiers)
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == [
        "estimator.html",
        "training_confusion_matrix.png",
    ]


def test_regressor_metrics_respect_sample_weight(tmp_tracking_uri: str, diabetes: Any) -> None:
    X, y = diabetes
    weight = np.linspace(0.5, 2.0, len(y))
    bakehouse.sklearn.autolog()
    model = LinearRegression().fit(X, y, sample_weight=weight)
    run = _only_run()
    pred = model.predict(X)
    mse = skm.mean_squared_error(y, pred, sample_weight=weight)
    assert run.data.metrics == pytest.approx(
        {
            "training_score": model.score(X, y, sample_weight=weight),
            "training_mean_squared_error": mse,
            "training_root_mean_squared_error": float(np.sqrt(mse)),
            "training_mean_absolute_error": skm.mean_absolute_error(y, pred, sample_weight=weight),
            "training_r2_score": skm.r2_score(y, pred, sample_weight=weight),
        }
    )
    assert mse != pytest.approx(skm.mean_squared_error(y, pred))  # the weights made a difference
    assert run.data.params == {
        "copy_X": "True",
        "fit_intercept": "True",
        "n_jobs": "None",
        "positive": "False",
        "tol": "1e-06",
    }


def test_pipeline_logs_once_with_deep_params_and_dataframe_input(tmp_tracking_uri: str, iris: Any) -> None:
    X, y = iris
    frame = pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"])
    bakehouse.sklearn.autolog(log_input_examples=True)
    pipe = Pipeline([("scaler", StandardScaler()), ("clf", LogisticRegression())]).fit(frame, y)
    run = _only_run()
    assert run.data.tags["estimator_name"] == "Pipeline"
    assert run.data.params["clf__C"] == "1.0" and run.data.params["scaler__with_mean"] == "True"
    assert run.data.params == {k: str(v) for k, v in pipe.get_params(deep=True).items()}
    assert set(run.data.metrics) == CLASSIFIER_METRICS
    loaded = bakehouse.pyfunc.load_model(f"models:/{run.outputs.model_outputs[0].model_id}")
    assert [c.name for c in loaded.metadata.signature.inputs.inputs] == ["sl", "sw", "pl", "pw"]
    assert loaded.metadata.saved_input_example_info is not None


def test_grid_search_parent_and_child_runs(tmp_tracking_uri: str, iris: Any) -> None:
    X, y = iris
    bakehouse.sklearn.autolog(max_tuning_runs=2)
    search = GridSearchCV(LogisticRegression(max_iter=1000), {"C": [0.01, 0.1, 1.0]}, cv=3).fit(X, y)
    runs = _runs()
    [parent] = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(runs) == 3 and len(children) == 2  # no run per candidate fit or for the refit
    assert parent.data.tags["estimator_name"] == "GridSearchCV"
    assert parent.data.params["best_C"] == str(search.best_params_["C"])
    assert parent.data.params["param_grid"] == "{'C': [0.01, 0.1, 1.0]}"
    assert "estimator__C" not in parent.data.params  # a search's own params are shallow
    assert parent.data.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    assert set(parent.data.metrics) == CLASSIFIER_METRICS | {"best_cv_score"}
    model_names = sorted(Client().get_logged_model(o.model_id).name for o in parent.outputs.model_outputs)
    assert model_names == ["best_estimator", "model"]
    assert sorted(a.path for a in Client().list_artifacts(parent.info.run_id)) == [
        "cv_results.csv",
        "estimator.html",
        "training_confusion_matrix.png",
    ]
    results = pd.DataFrame(search.cv_results_)
    best_two = results.nsmallest(2, "rank_test_score")
    assert sorted(c.data.params["C"] for c in children) == sorted(str(p["C"]) for p in best_two["params"])
    for child in children:
        row = results[results["param_C"] == float(child.data.params["C"])].iloc[0]
        assert child.info.status == "FINISHED"
        assert child.data.tags["estimator_name"] == "LogisticRegression"
        assert child.data.params["max_iter"] == "1000"
        assert child.data.metrics["mean_test_score"] == pytest.approx(row["mean_test_score"])
        assert child.data.metrics["rank_test_score"] == row["rank_test_score"]
        assert not any(k.startswith(("split", "param")) for k in child.data.metrics)


def test_active_run_is_used_and_left_open(tmp_tracking_uri: str, iris: Any) -> None:
    X, y = iris
    bakehouse.sklearn.autolog()
    with bh.start_run() as run:
        LogisticRegression(max_iter=1000).fit(X, y)
        assert bh.active_run() is not None and bh.active_run().info.run_id == run.info.run_id
        assert bh.get_run(run.info.run_id).info.status == "RUNNING"
    logged = _only_run()
    assert logged.info.run_id == run.info.run_id and "training_score" in logged.data.metrics
    assert "mlflow.autologging" not in logged.data.tags  # only runs autologging starts carry it


def test_exclusive_leaves_user_runs_alone(tmp_tracking_uri: str, iris: Any) -> None:
    X, y = iris
    bakehouse.sklearn.autolog(exclusive=True)
    with bh.start_run():
        LogisticRegression(max_iter=1000).fit(X, y)
    assert _only_run().data.metrics == {}
    LogisticRegression(max_iter=1000).fit(X, y)  # no user run: autologged as usual
    assert len(_runs()) == 2


def test_failing_fit_marks_the_run_failed_and_reraises(tmp_tracking_uri: str) -> None:
    bakehouse.sklearn.autolog()
    with pytest.raises(ValueError):
        LogisticRegression().fit([[1.0], [2.0]], [0, 0])  # one class only
    run = _only_run()
    assert run.info.status == "FAILED" and bh.active_run() is None
    assert run.data.params["C"] == "1.0"


def test_disable_and_repeat_calls(tmp_tracking_uri: str, iris: Any) -> None:
    X, y = iris
    original_fit = LogisticRegression.fit
    bakehouse.sklearn.autolog()
    bakehouse.sklearn.autolog(log_models=False)  # reconfigures; does not wrap twice
    patched_fit = LogisticRegression.fit
    assert patched_fit is not original_fit and patched_fit.__wrapped__ is original_fit
    LogisticRegression(max_iter=1000).fit(X, y)
    assert _only_run().outputs.model_outputs == []
    bakehouse.sklearn.autolog(disable=True)
    assert LogisticRegression.fit is original_fit
    LogisticRegression(max_iter=1000).fit(X, y)
    assert len(_runs()) == 1


def test_cross_val_score_does_not_log_each_fold(tmp_tracking_uri: str, iris: Any) -> None:
    X, y = iris
    bakehouse.sklearn.autolog()
    import sklearn.model_selection

    sklearn.model_selection.cross_val_score(LogisticRegression(max_iter=1000), X, y, cv=3)
    assert cross_val_score is not sklearn.model_selection.cross_val_score  # patched at the module, as MLflow
    assert _runs() == []


def test_logging_failure_is_a_warning_and_fit_still_returns(
    tmp_tracking_uri: str, iris: Any, caplog: pytest.LogCaptureFixture
) -> None:
    X, y = iris
    bakehouse.sklearn.autolog(log_datasets=False)
    model = LogisticRegression(max_iter=1000)
    with bh.start_run():
        bh.log_param("C", "different")  # the autologged C=1.0 now conflicts with the run's param
        assert model.fit(X, y) is model
    assert hasattr(model, "coef_")
    assert "Autologging failed before training LogisticRegression" in caplog.text


def test_invalid_and_unsupported_arguments(tmp_tracking_uri: str) -> None:
    with pytest.raises(InvalidParameterError, match="max_tuning_runs"):
        bakehouse.sklearn.autolog(max_tuning_runs=-1)
    with pytest.raises(InvalidParameterError, match="disable_for_unsupported_versions"):
        bakehouse.sklearn.autolog(disable_for_unsupported_versions=True)
    with pytest.raises(InvalidParameterError, match="serialization format"):
        bakehouse.sklearn.autolog(serialization_format="json")
    bakehouse.sklearn.autolog(log_post_training_metrics=True, silent=True, extra_tags={"team": "bakery"})


# ------------------------------------------------------------------------------- parity with mlflow
_MLFLOW_SCRIPT = textwrap.dedent(
    """
    import json, sys, warnings
    warnings.simplefilter("ignore")
    import logging; logging.disable(logging.CRITICAL)
    import mlflow, mlflow.sklearn
    import numpy as np
    from sklearn.datasets import load_diabetes, load_iris
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    mlflow.set_tracking_uri(sys.argv[1])
    mlflow.sklearn.autolog(max_tuning_runs=2, extra_tags={"team": "bakery"})
    Xi, yi = load_iris(return_X_y=True)
    Xd, yd = load_diabetes(return_X_y=True)
    fits = {
        "logreg": lambda: LogisticRegression(max_iter=1000).fit(Xi, yi),
        "linreg": lambda: LinearRegression().fit(Xd, yd, sample_weight=np.ones(len(yd))),
        "pipeline": lambda: Pipeline([("scaler", StandardScaler()), ("clf", LogisticRegression())]).fit(Xi, yi),
        "search": lambda: GridSearchCV(LogisticRegression(max_iter=1000), {"C": [0.01, 0.1, 1.0]}, cv=3).fit(Xi, yi),
    }
    out = {}
    for name, fit in fits.items():
        exp = mlflow.set_experiment(name)
        fit()
        runs = mlflow.search_runs([exp.experiment_id], output_format="list")
        out[name] = [
            {"params": sorted(r.data.params), "metrics": sorted(r.data.metrics),
             "tags": {k: v for k, v in r.data.tags.items()
                      if not k.startswith("mlflow.") or k in ("mlflow.autologging", "mlflow.parentRunId")},
             "status": r.info.status, "n_outputs": len(r.outputs.model_outputs) if r.outputs else 0}
            for r in runs
        ]
    print(json.dumps(out))
    """
)


def _summary(run: Run) -> dict[str, Any]:
    tags = {
        k: v
        for k, v in run.data.tags.items()
        if not k.startswith("mlflow.") or k in ("mlflow.autologging", "mlflow.parentRunId")
    }
    return {
        "params": sorted(run.data.params),
        "metrics": sorted(run.data.metrics),
        "tags": tags,
        "status": run.info.status,
        "n_outputs": len(run.outputs.model_outputs),
    }


def _normalized(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run ids differ between the two stores: parentRunId is compared as present/absent."""
    out = []
    for s in summaries:
        tags = dict(s["tags"])
        if "mlflow.parentRunId" in tags:
            tags["mlflow.parentRunId"] = "<parent>"
        out.append({**s, "tags": tags})
    return sorted(out, key=lambda s: json.dumps(s, sort_keys=True))


def test_keys_match_mlflow_sklearn_autolog(tmp_tracking_uri: str, tmp_path: Path) -> None:
    pytest.importorskip("mlflow")
    mlflow_dir = tmp_path / "mlflow"
    mlflow_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "BAKEHOUSE_"))}
    proc = subprocess.run(
        [sys.executable, "-c", _MLFLOW_SCRIPT, f"sqlite:///{mlflow_dir / 'mlflow.db'}"],
        check=False,
        cwd=mlflow_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    expected = json.loads(proc.stdout.strip().splitlines()[-1])

    Xi, yi = load_iris(return_X_y=True)
    Xd, yd = load_diabetes(return_X_y=True)
    bakehouse.sklearn.autolog(max_tuning_runs=2, extra_tags={"team": "bakery"})
    fits = {
        "logreg": lambda: LogisticRegression(max_iter=1000).fit(Xi, yi),
        "linreg": lambda: LinearRegression().fit(Xd, yd, sample_weight=np.ones(len(yd))),
        "pipeline": lambda: Pipeline([("scaler", StandardScaler()), ("clf", LogisticRegression())]).fit(
            Xi, yi
        ),
        "search": lambda: GridSearchCV(LogisticRegression(max_iter=1000), {"C": [0.01, 0.1, 1.0]}, cv=3).fit(
            Xi, yi
        ),
    }
    for name, fit in fits.items():
        experiment = bh.set_experiment(name)
        fit()
        runs = bh.search_runs([experiment.experiment_id], output_format="list")
        assert _normalized([_summary(r) for r in runs]) == _normalized(expected[name]), name


def test_an_input_example_without_a_signature(tmp_tracking_uri: str, iris: Any) -> None:
    X, y = iris
    bakehouse.sklearn.autolog(log_input_examples=True, log_model_signatures=False)
    LogisticRegression(max_iter=1000).fit(X, y)
    [output] = _only_run().outputs.model_outputs
    loaded = bakehouse.pyfunc.load_model(f"models:/{output.model_id}")
    assert loaded.metadata.signature is None
    assert loaded.metadata.saved_input_example_info is not None


def test_a_binary_classifier_gets_roc_and_precision_recall_curves(
    tmp_tracking_uri: str, iris: Any, tmp_path: Path
) -> None:
    X, y = iris
    binary = y < 2
    bakehouse.sklearn.autolog()
    LogisticRegression(max_iter=1000).fit(X[binary], y[binary])
    run = _only_run()
    names = ["training_confusion_matrix.png", "training_precision_recall_curve.png", "training_roc_curve.png"]
    assert [a.path for a in Client().list_artifacts(run.info.run_id) if a.path.endswith(".png")] == names
    for name in names:
        local = Path(Client().download_artifacts(run.info.run_id, name, str(tmp_path)))
        assert local.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and local.stat().st_size > 5000


_POST_TRAINING_SCRIPT = textwrap.dedent(
    """
    import json, sys, warnings
    warnings.simplefilter("ignore")
    import logging; logging.disable(logging.CRITICAL)
    TOOL = sys.argv[1]
    if TOOL == "mlflow":
        import mlflow as tool
        tool.set_tracking_uri(sys.argv[2])
    else:
        import bakehouse as tool
        tool.set_tracking_uri(sys.argv[2])
    import sklearn.metrics as m
    from sklearn.datasets import load_diabetes, load_iris
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.model_selection import train_test_split

    tool.autolog()
    X, y = load_iris(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    model = LogisticRegression(max_iter=500).fit(X_train, y_train)
    pred = model.predict(X_test)
    m.accuracy_score(y_test, pred)
    m.f1_score(y_test, pred, average="macro")
    model.score(X_test, y_test)
    m.accuracy_score(y_test, pred)
    m.log_loss(y_test, model.predict_proba(X_test))
    m.accuracy_score(y_test, y_test)  # not a prediction of the model: not logged
    Xd, yd = load_diabetes(return_X_y=True)
    reg = LinearRegression().fit(Xd[:300], yd[:300])
    holdout = Xd[300:]
    m.r2_score(yd[300:], reg.predict(holdout))
    out = {}
    for run in tool.search_runs(output_format="list"):
        metrics = {k: round(v, 9) for k, v in run.data.metrics.items() if not k.startswith("training_")}
        info = tool.artifacts.load_dict(f"runs:/{run.info.run_id}/metric_info.json")
        contexts = sorted(t.value for d in run.inputs.dataset_inputs for t in (
            d.tags if TOOL == "mlflow" else [type("T", (), {"value": v}) for v in d.tags.values()]))
        out[run.data.tags["estimator_name"]] = {"metrics": metrics, "info": info, "contexts": contexts}
    print(json.dumps(out, sort_keys=True))
    """
)


def test_post_training_metrics_match_mlflow(tmp_path: Path) -> None:
    """Scoring an autologged model afterwards logs what MLflow logs: same keys (named after the caller's
    variables, indexed on repeats), same values, same metric_info.json, an "eval" dataset."""
    pytest.importorskip("mlflow")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "BAKEHOUSE_"))}
    results = {}
    for tool in ("mlflow", "bakehouse"):
        workdir = tmp_path / tool
        workdir.mkdir()
        proc = subprocess.run(
            [sys.executable, "-c", _POST_TRAINING_SCRIPT, tool, f"sqlite:///{workdir / 'db'}"],
            check=False,
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        results[tool] = json.loads(proc.stdout.strip().splitlines()[-1])
    ours = results["bakehouse"]
    assert set(ours["LogisticRegression"]["metrics"]) == {
        "accuracy_score_X_test",
        "accuracy_score-2_X_test",
        "f1_score_X_test",
        "LogisticRegression_score_X_test",
        "log_loss_X_test",
    }
    assert ours["LogisticRegression"]["info"]["f1_score_X_test"] == (
        "f1_score(y_true=y_test, y_pred=pred, average='macro')"
    )
    assert set(ours["LinearRegression"]["metrics"]) == {"r2_score_holdout"}
    assert ours["LogisticRegression"]["contexts"] == ["eval", "train"]
    assert ours == results["mlflow"]
