"""Autologging for scikit-learn: ``bakehouse.sklearn.autolog()``, with MLflow 3.17.2's names and rules.

``fit``, ``fit_transform`` and ``fit_predict`` of scikit-learn's estimators are wrapped so that the OUTERMOST
call logs params, tags, training metrics, the training dataset and the model into the active run (or into a
run it starts and ends itself). Nested fits (a Pipeline's steps, a search's candidates, ``cross_val_score``)
log nothing of their own, exactly as in MLflow. What is logged, and under which keys, is MLflow's; the code is
ours. Logging never breaks training: a failure is a logged warning and ``fit`` returns as usual.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import logging
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path
from typing import Any

from bakehouse import plugins
from bakehouse.clock import now_ms
from bakehouse.errors import InvalidParameterError
from bakehouse.models.flavors.sklearn import post_training as post

logger = logging.getLogger(__name__)

FLAVOR_NAME = "sklearn"
#: the tag MLflow puts on the runs autologging creates (value: the flavor)
AUTOLOGGING_TAG = "mlflow.autologging"
PARENT_RUN_TAG = "mlflow.parentRunId"
TRAINING_PREFIX = "training_"
#: rows of the training data kept as the input example (MLflow's INPUT_EXAMPLE_SAMPLE_ROWS)
INPUT_EXAMPLE_ROWS = 5
_FIT_METHODS = ("fit", "fit_transform", "fit_predict")
#: data-manipulation estimators MLflow does not log on their own (they are logged inside a Pipeline)
_EXCLUDED_MODULES = (
    "sklearn.preprocessing",
    "sklearn.impute",
    "sklearn.feature_extraction",
    "sklearn.feature_selection",
)
_EXCLUDED_CLASSES = ("sklearn.compose._column_transformer.ColumnTransformer",)
#: model_selection helpers that fit clones many times: MLflow turns autologging off inside them
_NO_AUTOLOG_FUNCTIONS = (
    "cross_validate",
    "cross_val_predict",
    "cross_val_score",
    "learning_curve",
    "permutation_test_score",
    "validation_curve",
)
_ORIGINAL_ATTR = "_bakehouse_autolog_original"


@dataclass(frozen=True)
class AutologConfig:
    """The options of the last ``autolog()`` call; patched methods read it at every fit."""

    log_input_examples: bool = False
    log_model_signatures: bool = True
    log_models: bool = True
    log_datasets: bool = True
    exclusive: bool = False
    silent: bool = False
    max_tuning_runs: int | None = 5
    serialization_format: str | None = None
    registered_model_name: str | None = None
    pos_label: Any = None
    extra_tags: dict[str, str] = field(default_factory=dict)
    log_post_training_metrics: bool = True


@dataclass
class _Patch:
    """One attribute we replaced, and what to put back on ``disable=True``."""

    owner: Any
    name: str
    had_own: bool
    previous: Any


class _State:
    """Process-wide, like the patches themselves: worker threads of a fit must see the session too."""

    def __init__(self) -> None:
        self.config: AutologConfig | None = None
        self.patches: list[_Patch] = []
        self.lock = threading.RLock()
        self.suppressed = 0  # depth of cross_val_score & co. in progress


_state = _State()


def _flavor() -> Any:
    """The sklearn flavor module (``bakehouse.sklearn``), found by name as the model loader finds it: that
    module offers ``autolog`` from here, so importing it from here would make an import cycle."""
    return plugins.flavors.get("sklearn")


# ------------------------------------------------------------------------------------------ the API
def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    max_tuning_runs: int | None = 5,
    log_post_training_metrics: bool = True,
    serialization_format: str | None = None,
    registered_model_name: str | None = None,
    pos_label: Any = None,
    extra_tags: dict[str, Any] | None = None,
) -> None:
    """Enable (or, with ``disable=True``, undo) autologging of scikit-learn training; MLflow's keywords.

    Each outermost ``fit``/``fit_transform``/``fit_predict`` logs ``get_params(deep=True)`` as params (a
    search logs its own params shallowly, plus ``best_<name>``), tags ``estimator_name``/``estimator_class``,
    ``training_*`` metrics and ``training_score``, the dataset (context ``train``), the model ``model`` (and
    ``best_estimator`` for GridSearchCV/RandomizedSearchCV, with ``best_cv_score``, ``cv_results.csv`` and one
    child run per top-``max_tuning_runs`` candidate) and ``estimator.html``. With no active run, a run is
    started (tag ``mlflow.autologging=sklearn`` plus ``extra_tags``) and ended FINISHED, or FAILED if fit raises.
    With ``log_post_training_metrics``, scoring the model afterwards (``model.score(X_test, y_test)``, or a
    ``sklearn.metrics`` function on its predictions) logs to the same run as MLflow does (see
    ``post_training``), and the data predicted on is logged as an "eval" dataset.

    Differences from MLflow, on purpose:
    - ``serialization_format`` defaults to skops (loads without pickle); ``None`` means skops, falling back
      to cloudpickle with a warning when skops cannot store the estimator. MLflow's default is cloudpickle.
    - ``disable_for_unsupported_versions=True`` is refused: Bakehouse keeps no table of tested versions.
    """
    if disable_for_unsupported_versions:
        raise InvalidParameterError(
            "disable_for_unsupported_versions=True is not supported by bakehouse.sklearn.autolog: Bakehouse "
            "keeps no table of tested scikit-learn versions. Leave it False."
        )
    if max_tuning_runs is not None and max_tuning_runs < 0:
        raise InvalidParameterError(f"`max_tuning_runs` must be non-negative, instead got {max_tuning_runs}.")
    if extra_tags is not None and not isinstance(extra_tags, dict):
        raise InvalidParameterError(
            f"Invalid `extra_tags` type: expecting dictionary, received `{type(extra_tags).__name__}`"
        )
    formats = _flavor().SUPPORTED_SERIALIZATION_FORMATS
    if serialization_format is not None and serialization_format not in formats:
        raise InvalidParameterError(
            f"Unrecognized serialization format {serialization_format!r}; use one of {list(formats)}"
        )
    tags = {str(k): str(v) for k, v in (extra_tags or {}).items()}
    if tags.pop(AUTOLOGGING_TAG, None) is not None:
        logger.warning("Tag `%s` is ignored as it is a reserved tag by autologging.", AUTOLOGGING_TAG)
    with _state.lock:
        if disable:
            _unpatch_all()
            _state.config = None
            return
        _state.config = AutologConfig(
            log_input_examples=log_input_examples,
            log_model_signatures=log_model_signatures,
            log_models=log_models,
            log_datasets=log_datasets,
            exclusive=exclusive,
            silent=silent,
            max_tuning_runs=max_tuning_runs,
            serialization_format=serialization_format,
            registered_model_name=registered_model_name,
            pos_label=pos_label,
            extra_tags=tags,
            log_post_training_metrics=log_post_training_metrics,
        )
        if not _state.patches:
            _patch_all()


# ---------------------------------------------------------------------------------------- patching
def estimators_to_patch() -> list[type]:
    """scikit-learn's estimators plus the searches and Pipeline, minus pure data-manipulation ones (MLflow's list)."""
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.utils import all_estimators

    classes = {cls for _, cls in all_estimators()} | {GridSearchCV, RandomizedSearchCV, Pipeline}
    return sorted(
        (
            cls
            for cls in classes
            if not cls.__module__.startswith(_EXCLUDED_MODULES)
            and f"{cls.__module__}.{cls.__name__}" not in _EXCLUDED_CLASSES
        ),
        key=lambda c: (c.__module__, c.__name__),
    )


def _replace(owner: Any, name: str, replacement: Any) -> None:
    own = vars(owner)
    _state.patches.append(_Patch(owner, name, name in own, own.get(name)))
    setattr(owner, name, replacement)


def _raw_attribute(cls: type, name: str) -> Any:
    for klass in cls.__mro__:
        if name in vars(klass):
            return vars(klass)[name]
    return None


def _patch_all() -> None:
    import sklearn.model_selection

    patched_descriptors: set[int] = set()
    for cls in estimators_to_patch():
        for name in _FIT_METHODS:
            raw = _raw_attribute(cls, name)
            if inspect.isfunction(raw):
                _replace(cls, name, _patched_fit(getattr(raw, _ORIGINAL_ATTR, raw)))
            elif (
                callable(getattr(raw, "fn", None))
                and hasattr(raw, "check")
                and id(raw) not in patched_descriptors
            ):
                # sklearn's available_if descriptor (e.g. Pipeline.fit_transform): wrap the function it guards
                patched_descriptors.add(id(raw))
                _replace(raw, "fn", _patched_fit(raw.fn))
    for name in _NO_AUTOLOG_FUNCTIONS:
        original = getattr(sklearn.model_selection, name, None)
        if original is not None:
            _replace(sklearn.model_selection, name, _without_autolog(original))
    _patch_post_training()


def _unwrapped(function: Any) -> Any:
    return getattr(function, _ORIGINAL_ATTR, function)


def _marked(wrapper: Any, original: Any) -> Any:
    setattr(wrapper, _ORIGINAL_ATTR, original)  # a subclass reaching it through its MRO wraps the original
    return wrapper


def _patch_post_training() -> None:
    """Predictions, ``score`` and the ``sklearn.metrics`` functions, for post-training metrics."""
    import sklearn.metrics

    def wrap(name: str, function: Any) -> Any:
        original = _unwrapped(function)
        if name == "score":
            return _marked(post.patched_score(original), original)
        return _marked(post.patched_predict(original, _log_eval_dataset), original)

    patched_descriptors: set[int] = set()
    for cls in estimators_to_patch():
        for name in (*post.PREDICT_METHODS, "score"):
            raw = _raw_attribute(cls, name)
            if inspect.isfunction(raw):
                _replace(cls, name, wrap(name, raw))
            elif (
                callable(getattr(raw, "fn", None))
                and hasattr(raw, "check")
                and id(raw) not in patched_descriptors
            ):
                patched_descriptors.add(id(raw))
                _replace(raw, "fn", wrap(name, raw.fn))
    for name in post.metric_names():
        _replace(sklearn.metrics, name, post.patched_metric(getattr(sklearn.metrics, name)))


def _log_eval_dataset(run_id: str, data: Any) -> None:
    """The data a model predicted on after training, as a run input with context "eval" (MLflow's)."""
    config = _state.config
    if config is None or not config.log_datasets:
        return
    from bakehouse.client import fluent

    dataset = _dataset(data, None)
    if dataset is not None:
        fluent._client().log_inputs(run_id, [dataset.to_dataset_input(context="eval")])


def _unpatch_all() -> None:
    while _state.patches:
        patch = _state.patches.pop()
        if patch.had_own:
            setattr(patch.owner, patch.name, patch.previous)
        else:
            delattr(patch.owner, patch.name)


def _patched_fit(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)  # keeps the signature: sklearn inspects fit for sample_weight support
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        return _autologged_fit(original, self, args, kwargs)

    setattr(fit, _ORIGINAL_ATTR, original)
    return fit


def _without_autolog(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def call(*args: Any, **kwargs: Any) -> Any:
        with _state.lock:
            _state.suppressed += 1
        try:
            return original(*args, **kwargs)
        finally:
            with _state.lock:
                _state.suppressed -= 1

    return call


# ----------------------------------------------------------------------------------- run handling
def _warn(config: AutologConfig, message: str, *args: Any) -> None:
    """Autologging problems are warnings in the log (debug when ``silent``), never exceptions."""
    logger.log(logging.DEBUG if config.silent else logging.WARNING, message, *args)


@contextlib.contextmanager
def _rerouted_warnings(config: AutologConfig) -> Iterator[None]:
    """Warnings raised by our own logging work (e.g. sklearn's UndefinedMetricWarning while scoring the
    training data) go to the log, as MLflow reroutes them: they are not the user's to act on."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        _warn(config, "%s: %s", w.category.__name__, w.message)


def _autologged_fit(
    original: Callable[..., Any], estimator: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    config = _state.config
    if config is None or post.training() or _state.suppressed:
        return original(estimator, *args, **kwargs)
    from bakehouse.client import fluent

    if fluent.active_run() is not None and config.exclusive:
        return original(estimator, *args, **kwargs)
    with post.training_session():
        managed = False
        try:
            if fluent.active_run() is None:
                fluent.start_run(tags={AUTOLOGGING_TAG: FLAVOR_NAME, **config.extra_tags})
                managed = True
            run = fluent.active_run()
        except Exception as exc:  # noqa: BLE001 - no run, no logging; training goes on
            _warn(config, "Autologging could not start a run; this fit is not logged: %s", exc)
            return original(estimator, *args, **kwargs)
        try:
            result = _fit_and_log(original, estimator, args, kwargs, run, config)
        except BaseException:
            if managed:
                _end_run(config, "FAILED")
            raise
        if managed:
            _end_run(config, "FINISHED")
        return result


def _end_run(config: AutologConfig, status: str) -> None:
    from bakehouse.client import fluent

    try:
        fluent.end_run(status)
    except Exception as exc:  # noqa: BLE001 - the fit's outcome matters more than the run's status
        _warn(config, "Autologging could not end its run as %s: %s", status, exc)


def _fit_and_log(
    original: Callable[..., Any],
    estimator: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    run: Any,
    config: AutologConfig,
) -> Any:
    try:
        with _rerouted_warnings(config):
            X, y, sample_weight = training_data(estimator.fit, args, kwargs)
            _log_pretraining(run, estimator, X, y, config)
    except Exception as exc:  # noqa: BLE001 - see the module docstring
        _warn(
            config,
            "Autologging failed before training %s; this fit is not logged: %s",
            type(estimator).__name__,
            exc,
        )
        return original(estimator, *args, **kwargs)
    result = original(estimator, *args, **kwargs)
    try:
        with _rerouted_warnings(config):
            _log_posttraining(run, estimator, X, y, sample_weight, config)
    except Exception as exc:  # noqa: BLE001 - see the module docstring
        _warn(config, "Autologging failed after training %s: %s", type(estimator).__name__, exc)
    return result


# -------------------------------------------------------------------------------------- what is logged
def training_data(
    fit: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, Any, Any]:
    """(X, y, sample_weight) of a fit call, found by the fit's own argument names (some estimators don't say
    X/y); X and y are copied so that what we log is the data as given, not as training mutated it."""
    names = list(inspect.signature(fit).parameters)
    x_name = names[0] if names else "X"
    y_name = names[1] if len(names) > 1 else "y"
    if len(args) >= 2:
        X, y = args[0], args[1]
    elif len(args) == 1:
        X, y = args[0], kwargs.get(y_name)
    else:
        X, y = kwargs[x_name], kwargs.get(y_name)
    sample_weight = None
    if "sample_weight" in names:
        index = names.index("sample_weight")
        sample_weight = args[index] if len(args) > index else kwargs.get("sample_weight")
    return copy.deepcopy(X), copy.deepcopy(y), sample_weight


def is_parameter_search(estimator: Any) -> bool:
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

    return isinstance(estimator, (GridSearchCV, RandomizedSearchCV))


def estimator_tags(estimator: Any) -> dict[str, str]:
    cls = type(estimator)
    return {"estimator_name": cls.__name__, "estimator_class": f"{cls.__module__}.{cls.__name__}"}


def _params(estimator: Any) -> dict[str, Any]:
    """Deep params, except for a search: its seed estimator's untuned params would only mislead."""
    return dict(estimator.get_params(deep=not is_parameter_search(estimator)))


def _dataset(X: Any, y: Any) -> Any:
    """MLflow's choice: a DataFrame as itself (targets not attached), arrays (sparse densified) with y."""
    import numpy as np
    import pandas as pd
    from scipy.sparse import issparse

    from bakehouse.data import from_numpy, from_pandas

    if isinstance(X, pd.DataFrame):
        return from_pandas(X)
    if issparse(X):
        X = X.toarray()
        y = y.toarray() if issparse(y) else y
    if isinstance(X, np.ndarray):
        return from_numpy(X, targets=y) if y is not None else from_numpy(X)
    logger.warning("Unrecognized dataset type %s. Dataset logging skipped.", type(X))
    return None


def _log_pretraining(run: Any, estimator: Any, X: Any, y: Any, config: AutologConfig) -> None:
    from bakehouse.entities import Param, RunTag

    run_id = run.info.run_id
    run.client.log_batch(
        run_id,
        params=[Param(str(k), str(v)) for k, v in _params(estimator).items()],
        tags=[RunTag(k, v) for k, v in estimator_tags(estimator).items()],
    )
    if config.log_datasets:
        try:
            dataset = _dataset(X, y)
            if dataset is not None:
                run.client.log_inputs(run_id, [dataset.to_dataset_input(context="train")])
        except Exception as exc:  # noqa: BLE001 - MLflow logs the rest without the dataset
            _warn(config, "Failed to log training dataset information to MLflow Tracking. Reason: %s", exc)


def _log_posttraining(
    run: Any, estimator: Any, X: Any, y: Any, sample_weight: Any, config: AutologConfig
) -> None:
    run_id = run.info.run_id
    input_example, signature, model_id = None, None, None
    if config.log_models:
        input_example, signature = _example_and_signature(estimator, X, config)
        params = _params(estimator) | _best_params(estimator)
        info = _log_model(
            estimator,
            "model",
            signature,
            input_example,
            config,
            params,
            registered_model_name=config.registered_model_name,
        )
        model_id = info.model_id if info is not None else None
    if config.log_post_training_metrics:
        post.register_model(estimator, run_id, model_id)
    try:
        dataset = _dataset(X, y)
    except Exception:
        logger.debug("Failed to create dataset for logging.", exc_info=True)
        dataset = None
    metrics = training_metrics(estimator, X, y, sample_weight, config)
    _log_metrics(run, run_id, metrics, dataset, model_id)
    if y is None and not metrics:
        _warn(
            config,
            "Training metrics will not be recorded because training labels were not specified. To "
            "automatically record training metrics, provide training labels as inputs to the model "
            "training function.",
        )
    _log_estimator_html(run, estimator, config)
    _log_classifier_plots(run, estimator, X, y, sample_weight, config)
    if is_parameter_search(estimator):
        _log_search(run, estimator, signature, input_example, dataset, model_id, config)


def training_metrics(
    estimator: Any, X: Any, y: Any, sample_weight: Any, config: AutologConfig
) -> dict[str, float]:
    """MLflow's training metrics: classifier or regressor metrics, then ``training_score`` from
    ``estimator.score`` (with sample_weight when score takes it). Each one that fails is a warning."""
    import sklearn.base

    if y is None:
        return {}
    metrics: dict[str, float] = {}
    try:
        if sklearn.base.is_classifier(estimator):
            metrics = _classifier_metrics(estimator, X, y, sample_weight, config)
        elif sklearn.base.is_regressor(estimator):
            metrics = _regressor_metrics(estimator, X, y, sample_weight, config)
    except Exception as exc:  # noqa: BLE001 - e.g. predict fails on the training data
        _warn(config, "Failed to autolog metrics for %s. Logging error: %s", type(estimator).__name__, exc)
    if hasattr(estimator, "score"):
        try:
            takes_weight = "sample_weight" in inspect.signature(estimator.score).parameters
            score_args = (X, y, sample_weight) if takes_weight else (X, y)
            metrics[TRAINING_PREFIX + "score"] = estimator.score(*score_args)
        except Exception as exc:  # noqa: BLE001 - a score that fails is left out, as MLflow does
            _warn(
                config,
                "%s failed. The 'training_score' metric will not be recorded. Scoring error: %s",
                type(estimator).__name__ + ".score",
                exc,
            )
    return metrics


def _computed(
    config: AutologConfig, calls: dict[str, tuple[Callable[..., Any], dict[str, Any]]]
) -> dict[str, float]:
    values: dict[str, float] = {}
    for name, (function, arguments) in calls.items():
        try:
            values[name] = function(**arguments)
        except Exception as exc:  # noqa: BLE001 - one metric failing leaves the others
            qualname = getattr(getattr(function, "func", function), "__qualname__", name)
            _warn(
                config, "%s failed. The metric %s will not be recorded. Metric error: %s", qualname, name, exc
            )
    return values


def _classifier_metrics(
    estimator: Any, X: Any, y: Any, sample_weight: Any, config: AutologConfig
) -> dict[str, float]:
    """Weighted averages unless ``pos_label`` is given (then binary); ROC AUC one-vs-one, weighted."""
    from sklearn import metrics as m

    pos_label = config.pos_label
    average = "weighted" if pos_label is None else "binary"
    y_pred = estimator.predict(X)
    averaged = {
        "y_true": y,
        "y_pred": y_pred,
        "pos_label": pos_label,
        "average": average,
        "sample_weight": sample_weight,
    }
    p = TRAINING_PREFIX
    calls: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
        p + "precision_score": (m.precision_score, averaged),
        p + "recall_score": (m.recall_score, averaged),
        p + "f1_score": (m.f1_score, averaged),
        p + "accuracy_score": (
            m.accuracy_score,
            {"y_true": y, "y_pred": y_pred, "normalize": True, "sample_weight": sample_weight},
        ),
    }
    if hasattr(estimator, "predict_proba"):
        proba = estimator.predict_proba(X)
        # probabilities passed by position: sklearn 1.9 renamed the keyword (y_pred -> y_proba)
        calls[p + "log_loss"] = (functools.partial(m.log_loss, y, proba), {"sample_weight": sample_weight})
        if len(proba[0]) == 2:  # binary: the score of the greater label
            proba = proba[:, 1]
        calls[p + "roc_auc"] = (
            m.roc_auc_score,
            {
                "y_true": y,
                "y_score": proba,
                "average": "weighted",
                "sample_weight": sample_weight,
                "multi_class": "ovo",
            },
        )
    return _computed(config, calls)


def _regressor_metrics(
    estimator: Any, X: Any, y: Any, sample_weight: Any, config: AutologConfig
) -> dict[str, float]:
    import numpy as np
    from sklearn import metrics as m

    y_pred = estimator.predict(X)
    arguments = {
        "y_true": y,
        "y_pred": y_pred,
        "sample_weight": sample_weight,
        "multioutput": "uniform_average",
    }
    p = TRAINING_PREFIX
    values = _computed(
        config,
        {
            p + "mean_squared_error": (m.mean_squared_error, arguments),
            p + "mean_absolute_error": (m.mean_absolute_error, arguments),
            p + "r2_score": (m.r2_score, arguments),
        },
    )
    values[p + "root_mean_squared_error"] = float(np.sqrt(values[p + "mean_squared_error"]))
    return values


def _best_params(estimator: Any) -> dict[str, Any]:
    return {f"best_{k}": v for k, v in getattr(estimator, "best_params_", {}).items()}


def _log_metrics(
    run: Any, run_id: str, metrics: dict[str, float], dataset: Any, model_id: str | None
) -> None:
    from bakehouse.entities import Metric

    if not metrics:
        return
    ts = now_ms()
    name, digest = getattr(dataset, "name", None), getattr(dataset, "digest", None)
    run.client.log_batch(
        run_id, metrics=[Metric(k, float(v), ts, 0, None, name, digest, model_id) for k, v in metrics.items()]
    )


def _example_and_signature(estimator: Any, X: Any, config: AutologConfig) -> tuple[Any, Any]:
    """MLflow's rules: the example is X's first rows; the signature is inferred from it and the
    estimator's ``predict`` (else ``transform``) output; failures are warnings. Returns (example, signature)."""
    if not (config.log_input_examples or config.log_model_signatures):
        return None, None
    try:
        example = copy.deepcopy(X[:INPUT_EXAMPLE_ROWS])
    except Exception as exc:  # noqa: BLE001 - e.g. an X that cannot be sliced
        if config.log_input_examples:
            _warn(config, "Failed to gather input example: %s", exc)
        if config.log_model_signatures:
            _warn(
                config,
                "Failed to infer model signature: could not sample data to infer model signature: %s",
                exc,
            )
        return None, None
    signature = None
    if config.log_model_signatures:
        try:
            signature = _infer_signature(estimator, example)
        except Exception as exc:  # noqa: BLE001 - the model is logged without a signature
            _warn(config, "Failed to infer model signature: %s", exc)
    return (example if config.log_input_examples else None), signature


def _infer_signature(estimator: Any, example: Any) -> Any:
    from bakehouse.models.schema_inference import infer_signature

    if hasattr(estimator, "predict"):
        output = estimator.predict(copy.deepcopy(example))
    elif hasattr(estimator, "transform"):
        output = estimator.transform(copy.deepcopy(example))
    else:
        raise ValueError(
            "the trained model does not have a `predict` or `transform` function, which is "
            "required in order to infer the signature"
        )
    return infer_signature(example, output)


def _log_model(
    estimator: Any,
    name: str,
    signature: Any,
    input_example: Any,
    config: AutologConfig,
    params: dict[str, Any],
    registered_model_name: str | None = None,
) -> Any:
    """``bakehouse.sklearn.log_model``; a model that cannot be saved is a warning, not a failed fit."""
    flavor = _flavor()
    fmt = config.serialization_format or flavor.SERIALIZATION_FORMAT_SKOPS

    if signature is None and not config.log_model_signatures:
        signature = False  # no signature at all, not even one inferred from the input example

    def log(serialization_format: str) -> Any:
        return flavor.log_model(
            estimator,
            name=name,
            signature=signature,
            input_example=input_example,
            serialization_format=serialization_format,
            registered_model_name=registered_model_name,
            params=params,
        )

    try:
        return log(fmt)
    except InvalidParameterError as exc:
        if config.serialization_format is not None or "skops" not in str(exc):
            _warn(config, "Failed to log the model %r: %s", name, exc)
            return None
        _warn(
            config,
            "skops cannot store this %s, so the model %r is logged with cloudpickle (loading it needs "
            "allow_pickle=True). Cause: %s",
            type(estimator).__name__,
            name,
            exc,
        )
    try:
        return log(flavor.SERIALIZATION_FORMAT_CLOUDPICKLE)
    except Exception as exc:  # noqa: BLE001 - see the docstring
        _warn(config, "Failed to log the model %r: %s", name, exc)
        return None


def _log_classifier_plots(
    run: Any, estimator: Any, X: Any, y: Any, sample_weight: Any, config: AutologConfig
) -> None:
    """MLflow's confusion matrix (and ROC / precision-recall curves for a binary classifier), when
    matplotlib is installed."""
    import importlib.util

    import sklearn.base

    if y is None or not sklearn.base.is_classifier(estimator):
        return
    if importlib.util.find_spec("matplotlib") is None:
        _warn(config, "matplotlib is not installed: the classifier plots are not logged.")
        return
    from bakehouse.models.flavors.sklearn.plots import classifier_plots

    with tempfile.TemporaryDirectory(prefix="bakehouse-plots-") as tmp:
        try:
            if classifier_plots(estimator, X, y, sample_weight, TRAINING_PREFIX, Path(tmp)):
                run.client.log_artifacts(run.info.run_id, tmp)
        except Exception as exc:  # noqa: BLE001 - plots are not worth a failed fit
            _warn(config, "Failed to log the classifier plots: %s", exc)


def _log_estimator_html(run: Any, estimator: Any, config: AutologConfig) -> None:
    from sklearn.utils import estimator_html_repr

    try:
        html = f"""
<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8"/>
  </head>
  <body>
    {estimator_html_repr(estimator)}
  </body>
</html>
    """
        run.client.log_text(run.info.run_id, html, "estimator.html")
    except Exception as exc:  # noqa: BLE001 - an artifact is not worth a failed fit
        _warn(config, "Failed to log estimator.html: %s", exc)


# --------------------------------------------------------------------------------- parameter search
def _log_search(
    run: Any,
    estimator: Any,
    signature: Any,
    input_example: Any,
    dataset: Any,
    model_id: str | None,
    config: AutologConfig,
) -> None:
    from bakehouse.entities import Param

    run_id = run.info.run_id
    best_model_id, best_params = None, None
    if hasattr(estimator, "best_estimator_") and config.log_models:
        best_params = dict(estimator.best_estimator_.get_params(deep=True))
        info = _log_model(
            estimator.best_estimator_, "best_estimator", signature, input_example, config, best_params
        )
        best_model_id = info.model_id if info is not None else None
    if hasattr(estimator, "best_score_"):
        _log_metrics(run, run_id, {"best_cv_score": estimator.best_score_}, dataset, model_id)
    if hasattr(estimator, "best_params_"):
        run.client.log_batch(run_id, params=[Param(k, str(v)) for k, v in _best_params(estimator).items()])
    if not hasattr(estimator, "cv_results_"):
        return
    try:
        _log_child_runs(run, estimator, dataset, best_params, best_model_id, config)
    except Exception as exc:  # noqa: BLE001 - the parent run is complete without them
        _warn(
            config,
            "Encountered exception during creation of child runs for parameter search. Child runs "
            "may be missing. Exception: %s",
            exc,
        )
    try:
        import pandas as pd

        with tempfile.TemporaryDirectory(prefix="bakehouse-autolog-") as tmp:
            path = Path(tmp) / "cv_results.csv"
            pd.DataFrame.from_dict(estimator.cv_results_).to_csv(path, index=False)
            run.client.log_artifact(run_id, path)
    except Exception as exc:  # noqa: BLE001 - the run is complete without the table
        _warn(config, "Failed to log parameter search results as an artifact. Exception: %s", exc)


def _log_child_runs(
    parent: Any,
    search: Any,
    dataset: Any,
    best_params: dict[str, Any] | None,
    best_model_id: str | None,
    config: AutologConfig,
) -> None:
    """One finished child run per candidate among the ``max_tuning_runs`` best by rank, rebuilt from
    ``cv_results_``: the seed's params updated with the candidate's, and its aggregate CV numbers."""
    import pandas as pd

    from bakehouse.client.system_tags import default_tags
    from bakehouse.entities import Param

    client = parent.client
    start_time, end_time = parent.info.start_time, now_ms()
    seed = search.estimator
    base_params = dict(seed.get_params(deep=not is_parameter_search(seed)))
    results = pd.DataFrame.from_dict(search.cv_results_)
    if config.max_tuning_runs is not None:
        rank = "rank_test_score"
        if rank not in results.columns:
            rank = next(c for c in results.columns if "rank_test_" in c)
            _warn(
                config,
                "Top %s child runs will be created based on ordering in %s column.  You can choose not to "
                "limit the number of child runs created by setting `max_tuning_runs=None`.",
                config.max_tuning_runs,
                rank,
            )
        results = results.nsmallest(config.max_tuning_runs, rank)
    tags = (
        default_tags()
        | {AUTOLOGGING_TAG: FLAVOR_NAME, PARENT_RUN_TAG: parent.info.run_id}
        | estimator_tags(seed)
    )
    inputs = [dataset.to_dataset_input(context="train")] if dataset is not None else []
    for _, row in results.iterrows():
        child = client.create_run(parent.info.experiment_id, start_time=start_time, tags=tags)
        child_id = child.info.run_id
        candidate = row.get("params", {}) or {}
        params = base_params | dict(candidate)
        client.log_batch(child_id, params=[Param(str(k), str(v)) for k, v in params.items()])
        metrics = {
            str(k): float(v)
            for k, v in row.items()
            if not str(k).startswith(("param", "split")) and isinstance(v, Real) and not isinstance(v, bool)
        }
        matches_best = bool(best_params and candidate.items() <= best_params.items())
        _log_metrics(parent, child_id, metrics, dataset, best_model_id if matches_best else None)
        if inputs:
            client.log_inputs(child_id, inputs)
        client.set_terminated(child_id, "FINISHED", end_time=end_time)
