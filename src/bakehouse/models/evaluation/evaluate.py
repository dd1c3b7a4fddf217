"""``bakehouse.models.evaluate``: MLflow 3.17's ``mlflow.models.evaluate`` for classifiers and regressors.

The call, its arguments and the metric names are MLflow's; the values come out the same (a parity test runs
both on one model and one dataset). What it records:

- the evaluation dataset as an input of the run (linked to the evaluated logged model);
- every metric on the run at step 0, tagged with the dataset and the logged model, so they also show on
  the logged model (as MLflow does);
- the artifacts: ``confusion_matrix.png``, ``roc_curve_plot.png``, ``precision_recall_curve_plot.png``,
  ``per_class_metrics.csv`` (per class against the rest; MLflow writes it for multiclass only, here for
  binary problems too), and for regressors ``residuals_plot.png`` (which MLflow does not draw), in the run's
  artifacts and under ``evaluations/<run_id>/`` in the logged model's.

An active run is reused; otherwise one is started and ended. ``evaluator_config`` accepts MLflow's keys
(``label_list``, ``pos_label``, ``average``, ``sample_weights``, ``metric_prefix``,
``max_classes_for_multiclass_roc_pr``) plus ``log_plots`` (default True: False skips matplotlib) and
``log_to_model`` (default True).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bakehouse.errors import InvalidParameterError, NotImplementedFeatureError
from bakehouse.models.evaluation import metrics as m
from bakehouse.models.evaluation import plots

logger = logging.getLogger(__name__)

MODEL_TYPES = ("classifier", "regressor")
SKLEARN_LOADER = "mlflow.sklearn"


@dataclass(frozen=True)
class EvaluationArtifact:
    """A file the evaluation wrote: where it is in the run (``uri``) and a local copy (``local_path``)."""

    uri: str
    local_path: Path

    @property
    def content(self) -> Any:
        """A DataFrame for tables, bytes for images."""
        if self.local_path.suffix == ".csv":
            return pd.read_csv(self.local_path)
        return self.local_path.read_bytes()


@dataclass
class EvaluationResult:
    metrics: dict[str, Any]
    artifacts: dict[str, EvaluationArtifact] = field(default_factory=dict)
    run_id: str | None = None

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        return {k: a.content for k, a in self.artifacts.items() if a.local_path.suffix == ".csv"}


@dataclass
class _Predictor:
    predict: Callable[[pd.DataFrame], Any]
    predict_proba: Callable[[pd.DataFrame], Any] | None = None
    score: Callable[..., Any] | None = None
    model_id: str | None = None


def _model_id_from_uri(uri: str) -> str | None:
    if uri.startswith("models:/m-"):
        return uri[len("models:/") :].split("/", 1)[0]
    return None


def _predictor(model: Any) -> _Predictor:
    """How to call ``model``: sklearn models are called raw (``predict_proba`` and ``score`` too), as MLflow does."""
    from bakehouse.pyfunc import PyFuncModel, load_model

    if isinstance(model, str):
        model = load_model(model)
    if isinstance(model, PyFuncModel):
        if model.loader_module == SKLEARN_LOADER:
            raw = model.get_raw_model()
            if hasattr(raw, "feature_names_in_"):
                proba = getattr(raw, "predict_proba", None)
                return _Predictor(raw.predict, proba, raw.score, model.model_id)
            # fitted on an unnamed array: give it one, as the names would only earn a warning
            proba = getattr(raw, "predict_proba", None)
            return _Predictor(
                lambda frame: raw.predict(frame.to_numpy()),
                (lambda frame: proba(frame.to_numpy())) if proba is not None else None,
                lambda frame, y, **kw: raw.score(frame.to_numpy(), y, **kw),
                model.model_id,
            )
        return _Predictor(model.predict, None, None, model.model_id)
    if callable(model):
        return _Predictor(model)
    raise InvalidParameterError(
        "The model argument must be a model URI, a loaded bakehouse.pyfunc model, a function, or None."
    )


def _split(
    data: Any, targets: Any, predictions: str | None, feature_names: list[str] | None
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None, Any]:
    """(features, labels, static predictions, the Dataset to record) from what the caller passed."""
    from bakehouse.data import Dataset, from_numpy, from_pandas
    from bakehouse.data.pandas_dataset import PandasDataset

    dataset: Any = None
    if isinstance(data, Dataset):
        if not isinstance(data, PandasDataset):
            raise InvalidParameterError(
                "Datasets given to evaluate must be built with bakehouse.data.from_pandas"
            )
        dataset, targets = data, targets or data.targets
        predictions = predictions or data.predictions
        data = data.df
    if isinstance(data, pd.DataFrame):
        if not isinstance(targets, str) or targets not in data.columns:
            raise InvalidParameterError(
                f"The targets argument must name a column of the data, got {targets!r}"
            )
        drop = [targets] + ([predictions] if predictions else [])
        features = data.drop(columns=drop)
        if feature_names is not None:
            features = features[list(feature_names)]
        if dataset is None:
            dataset = from_pandas(data, targets=targets, predictions=predictions, name="dataset")
        static = data[predictions].to_numpy() if predictions else None
        return features, data[targets].to_numpy(), static, dataset
    if isinstance(data, (np.ndarray, list)):
        array = np.asarray(data)
        if array.ndim != 2 or targets is None or isinstance(targets, str):
            raise InvalidParameterError(
                "With array data, pass a 2-D feature array and the labels as `targets`."
            )
        names = list(feature_names) if feature_names else [f"feature_{i + 1}" for i in range(array.shape[1])]
        labels = np.asarray(targets)
        return (
            pd.DataFrame(array, columns=names),
            labels,
            None,
            from_numpy(array, targets=labels, name="dataset"),
        )
    raise InvalidParameterError(
        f"Unsupported data type {type(data).__name__}: pass a pandas DataFrame, a 2-D array, or a "
        "bakehouse.data.from_pandas dataset."
    )


def _column(output: Any, name: str | None) -> np.ndarray:
    """The prediction column of whatever a model returned (MLflow's rules for multi-output models)."""
    if isinstance(output, pd.DataFrame):
        if name and name in output.columns:
            return np.asarray(output[name])
        if len(output.columns) == 1:
            return np.asarray(output.iloc[:, 0])
        raise InvalidParameterError(
            "The model returned several columns; name the prediction column with `predictions=`."
        )
    if isinstance(output, dict):
        if name and name in output:
            return np.asarray(output[name])
        if len(output) == 1:
            return np.asarray(next(iter(output.values())))
        raise InvalidParameterError("The model returned several outputs; name one with `predictions=`.")
    array = np.asarray(output)
    return array.ravel() if array.ndim == 2 and array.shape[1] == 1 else array


class _Writer:
    """Collects artifact files in a temporary directory, then logs them to the run (and the model)."""

    def __init__(self, directory: Path, prefix: str) -> None:
        self.directory = directory
        self.prefix = prefix
        self.files: dict[str, Path] = {}

    def plot(self, name: str, draw: plots.Draw) -> None:
        path = self.directory / f"{self.prefix}{name}.png"
        try:
            plots.save(draw, path)
        except Exception as exc:  # noqa: BLE001 - MLflow also logs a warning and goes on without the plot
            logger.warning("Failed to log image artifact %r: %r", name, exc)
            return
        self.files[name] = path

    def table(self, name: str, frame: pd.DataFrame) -> None:
        path = self.directory / f"{self.prefix}{name}.csv"
        frame.to_csv(path, index=False)
        self.files[name] = path


def _classifier(
    predictor: _Predictor,
    features: pd.DataFrame,
    y_true: np.ndarray,
    static: np.ndarray | None,
    config: dict[str, Any],
    writer: _Writer | None,
) -> dict[str, Any]:
    weights = config.get("sample_weights")
    y_pred = static if static is not None else _column(predictor.predict(features.copy()), None)
    y_proba = None
    if static is None and predictor.predict_proba is not None:
        y_proba = np.asarray(predictor.predict_proba(features.copy()))
    labels = m.label_list(y_true, y_pred, config.get("label_list"), config.get("pos_label"))
    values: dict[str, Any] = {}
    if predictor.score is not None and static is None:
        values["score"] = predictor.score(features.copy(), y_true, sample_weight=weights)
    if labels.binary:
        values.update(m.binary_metrics(y_true, y_pred, y_proba, labels.values, labels.pos_label, weights))
        if y_proba is not None:
            values.update(
                m.binary_curve_aucs(y_true, y_proba[:, labels.pos_index], labels.pos_label, weights)
            )
    else:
        average = config.get("average", "weighted")
        values.update(m.multiclass_metrics(y_true, y_pred, y_proba, labels.values, average, weights))
    if writer is not None:
        writer.table("per_class_metrics", m.per_class_table(y_true, y_pred, y_proba, labels, weights))
        if config.get("log_plots", True):
            plots.require_matplotlib()
            curves = y_proba is not None and (
                labels.binary or len(labels.values) <= config.get("max_classes_for_multiclass_roc_pr", 10)
            )
            if curves:
                args = (y_true, y_proba, labels.values, labels.pos_label, labels.binary, weights)
                writer.plot("roc_curve_plot", plots.curve("roc", *args))
                writer.plot("precision_recall_curve_plot", plots.curve("pr", *args))
            writer.plot("confusion_matrix", plots.confusion_matrix(y_true, y_pred, labels.values, weights))
    return values


def _regressor(
    predictor: _Predictor,
    features: pd.DataFrame,
    y_true: np.ndarray,
    static: np.ndarray | None,
    config: dict[str, Any],
    writer: _Writer | None,
    prediction_column: str | None,
) -> dict[str, Any]:
    weights = config.get("sample_weights")
    y_pred = static if static is not None else _column(predictor.predict(features.copy()), prediction_column)
    values: dict[str, Any] = {}
    if predictor.score is not None and static is None:
        values["score"] = predictor.score(features.copy(), y_true, sample_weight=weights)
    values.update(m.regressor_metrics(y_true, y_pred, weights))
    if writer is not None and config.get("log_plots", True):
        plots.require_matplotlib()
        writer.plot("residuals_plot", plots.residuals(y_true, y_pred))
    return values


def _plain(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def evaluate(
    model: Any = None,
    data: Any = None,
    *,
    model_type: str | None = None,
    targets: Any = None,
    predictions: str | None = None,
    dataset_path: str | None = None,
    feature_names: list[str] | None = None,
    evaluators: str | list[str] | None = None,
    evaluator_config: dict[str, Any] | None = None,
    extra_metrics: list[Any] | None = None,
    custom_artifacts: list[Any] | None = None,
    env_manager: str = "local",
    model_config: dict[str, Any] | None = None,
    inference_params: dict[str, Any] | None = None,
    model_id: str | None = None,
) -> EvaluationResult:
    """Evaluate ``model`` on ``data`` with MLflow's default metrics; log them, the dataset and the plots."""
    from bakehouse.client import fluent
    from bakehouse.entities import Metric

    if model_type not in MODEL_TYPES:
        raise InvalidParameterError(f"model_type must be one of {', '.join(MODEL_TYPES)}, got {model_type!r}")
    if evaluators not in (None, "default", ["default"]):
        raise InvalidParameterError(f"Only the default evaluator is available, got evaluators={evaluators!r}")
    if extra_metrics or custom_artifacts:
        raise NotImplementedFeatureError(
            "extra_metrics and custom_artifacts are not supported by bakehouse yet"
        )
    if env_manager != "local" or model_config or inference_params:
        raise NotImplementedFeatureError(
            "evaluate loads models in this interpreter (env_manager='local') only"
        )
    if model is None and predictions is None and not getattr(data, "predictions", None):
        raise InvalidParameterError(
            "Either a model or a predictions column must be given: pass `model`, or `predictions` naming the "
            "column of `data` that holds them."
        )
    config = dict(evaluator_config or {})
    prefix = str(config.get("metric_prefix") or "")
    features, y_true, static, dataset = _split(
        data, targets, predictions if model is None else None, feature_names
    )
    predictor = _predictor(model) if model is not None else _Predictor(lambda frame: static)
    if isinstance(model, str):
        from_uri = _model_id_from_uri(model)
        if model_id is not None and from_uri is not None and model_id != from_uri:
            raise InvalidParameterError(
                f"The specified value of the 'model_id' parameter '{model_id}' contradicts the model_id "
                f"'{from_uri}' associated with the model."
            )
    model_id = model_id or predictor.model_id

    started = fluent.active_run() is None
    run = fluent.start_run() if started else fluent.active_run()
    assert run is not None
    run_id = run.info.run_id
    try:
        fluent.log_inputs([dataset], [prefix or None], None, [model_id] if model_id else None)
        with tempfile.TemporaryDirectory(prefix="bakehouse-eval-") as tmp:
            writer = _Writer(Path(tmp), prefix)
            if model_type == "classifier":
                values = _classifier(predictor, features, y_true, static, config, writer)
            else:
                values = _regressor(predictor, features, y_true, static, config, writer, predictions)
            result_metrics = {f"{prefix}{k}": _plain(v) for k, v in values.items()}
            client = run.client
            now = int(pd.Timestamp.now(tz="UTC").timestamp() * 1000)
            client.log_batch(
                run_id,
                metrics=[
                    Metric(k, float(v), now, 0, run_id, dataset.name, dataset.digest, model_id)
                    for k, v in result_metrics.items()
                ],
            )
            artifacts: dict[str, EvaluationArtifact] = {}
            keep = Path(tempfile.mkdtemp(prefix="bakehouse-eval-artifacts-"))
            for name, path in writer.files.items():
                client.log_artifact(run_id, str(path))
                kept = keep / path.name
                kept.write_bytes(path.read_bytes())
                artifacts[name] = EvaluationArtifact(fluent.get_artifact_uri(path.name), kept)
            if model_id and writer.files and config.get("log_to_model", True):
                client.log_model_artifacts(model_id, tmp, f"evaluations/{run_id}")
    except BaseException:
        if started:
            fluent.end_run("FAILED")
        raise
    if started:
        fluent.end_run()
    return EvaluationResult(result_metrics, artifacts, run_id)
