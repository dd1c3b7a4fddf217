"""Autologging shared by the gradient-boosting libraries (XGBoost, LightGBM), which MLflow logs alike.

``<library>.train`` logs the booster params and its own call arguments as params, each iteration's evaluation
results at step = iteration (collected by a training callback), ``stopped_iteration``/``best_iteration`` and
the best values after early stopping, the datasets (``train``, ``eval``), ``feature_importance_<type>.json``
and ``.png``, and the model ``model``. Inside the scikit-learn API's ``fit``, the inner ``train`` logs the
same (the booster params it gets are the estimator's) except the model, which ``fit`` logs.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bakehouse.models.flavors.autologging import (
    Integration,
    flat_params,
    fn_args_as_params,
    log_feature_importance,
    log_metrics,
)

INPUT_EXAMPLE_ROWS = 5
EXAMPLE_ATTR = "_bakehouse_input_example"


@dataclass(frozen=True)
class BoostingLibrary:
    """What differs between XGBoost and LightGBM."""

    integration: Integration
    #: arguments of ``train`` that are data or code, not params
    unlogged: tuple[str, ...]
    #: the name of ``train``'s training-data argument
    train_arg: str
    #: (train call arguments) -> [(data, name)] of the evaluation sets
    eval_sets: Callable[[dict[str, Any]], list[tuple[Any, Any]]]
    #: (list to append {metric: value} dicts to) -> a callback for ``train``'s ``callbacks``
    make_callback: Callable[[list[dict[str, float]]], Any]
    #: (booster, call arguments, per-iteration results) -> (stopped, best iteration, best results) or None
    early_stopping: Callable[
        [Any, dict[str, Any], list[dict[str, float]]], tuple[int, int, dict[str, float]] | None
    ]
    #: (booster) -> {importance type: {feature: value}}
    importances: Callable[[Any], dict[str, dict[str, Any]]]
    #: (the library's data object, its name or None) -> a Bakehouse dataset, or None
    dataset: Callable[[Any, str | None], Any]
    #: (booster, example) -> predictions, for the signature
    predict: Callable[[Any, Any], Any]
    #: (model, "model", **kwargs) -> ModelInfo: the flavor's log_model, plus its own keywords
    log_model: Callable[..., Any]
    log_model_options: Callable[[], dict[str, Any]]


def patched_train(
    library: BoostingLibrary, *, sklearn_api: bool
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def train(*args: Any, **kwargs: Any) -> Any:
            with library.integration.training_run(inner=sklearn_api) as run:
                if run is None:
                    return original(*args, **kwargs)
                return _train_and_log(library, original, run, args, kwargs, log_model=not sklearn_api)

        return train

    return make


def patched_data_init(library: BoostingLibrary) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Keep the first rows of the data a DMatrix / Dataset is built from: the model's input example."""

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def init(self: Any, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            data = args[0] if args else kwargs.get("data")
            if library.integration.config is None or data is None or isinstance(data, str):
                return
            try:
                setattr(self, EXAMPLE_ATTR, copy.deepcopy(data[:INPUT_EXAMPLE_ROWS]))
            except Exception:  # noqa: BLE001 - data that cannot be sliced has no example
                return

        return init

    return make


def _with_callback(
    original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], callback: Any
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    index = list(fn_args_as_params(original, (), {})).index("callbacks")
    if len(args) > index:
        return (*args[:index], [*(args[index] or []), callback], *args[index + 1 :]), kwargs
    return args, {**kwargs, "callbacks": [*(kwargs.get("callbacks") or []), callback]}


def _train_and_log(
    library: BoostingLibrary,
    original: Callable[..., Any],
    run: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    log_model: bool,
) -> Any:
    from bakehouse.entities import Param

    integration = library.integration
    config = integration.config
    assert config is not None
    call = fn_args_as_params(original, args, kwargs)
    fn_params = flat_params(call, skip=library.unlogged)
    with integration.guarded("the params"):
        logged = run.client.get_run(run.info.run_id).data.params
        params = flat_params(call.get("params") or {}) | fn_params
        new = [Param(k, v) for k, v in params.items() if k not in logged]
        run.client.log_batch(run.info.run_id, params=new)
    train_data = call.get(library.train_arg)
    dataset = None
    if config.log_datasets and train_data is not None:
        with integration.guarded("the datasets"):
            dataset = library.dataset(train_data, None)
            inputs = [dataset.to_dataset_input(context="train")] if dataset is not None else []
            for data, name in library.eval_sets(call):
                evaluated = library.dataset(data, str(name) if name else None)
                if evaluated is not None:
                    inputs.append(evaluated.to_dataset_input(context="eval"))
            run.client.log_inputs(run.info.run_id, inputs)
    results: list[dict[str, float]] = []
    args, kwargs = _with_callback(original, args, kwargs, library.make_callback(results))
    booster = original(*args, **kwargs)
    model_id = None
    if log_model and config.log_models:
        example = getattr(train_data, EXAMPLE_ATTR, None)
        model_id = log_trained_model(
            library, booster, example, lambda e: library.predict(booster, e), fn_params
        )
    with integration.guarded("the metrics"):
        for step, values in enumerate(results):
            log_metrics(run, values, step=step, model_id=model_id, dataset=dataset)
        stopped = library.early_stopping(booster, call, results)
        if stopped is not None:
            last, best, best_values = stopped
            log_metrics(
                run, {"stopped_iteration": last, "best_iteration": best}, model_id=model_id, dataset=dataset
            )
            log_metrics(run, best_values, step=len(results), model_id=model_id, dataset=dataset)
    with integration.guarded("the feature importance"):
        for importance_type, importance in library.importances(booster).items():
            log_feature_importance(run, importance_type, importance)
    return booster


def log_trained_model(
    library: BoostingLibrary,
    model: Any,
    example: Any,
    predict: Callable[[Any], Any],
    params: dict[str, str] | None = None,
) -> str | None:
    """``log_model(model, "model")`` with the example and signature MLflow's autologging gives."""
    from bakehouse.models.schema_inference import infer_signature

    integration = library.integration
    config = integration.config
    assert config is not None
    signature: Any = None if config.log_model_signatures else False
    if example is not None and config.log_model_signatures:
        with integration.guarded("the model signature"):
            signature = infer_signature(example, predict(copy.deepcopy(example)))
    with integration.guarded("the model"):
        info = library.log_model(
            model,
            "model",
            signature=signature,
            input_example=example if config.log_input_examples else None,
            registered_model_name=config.registered_model_name,
            params=params,
            **library.log_model_options(),
        )
        return str(info.model_id)
    return None


def patched_sklearn_fit(library: BoostingLibrary) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The scikit-learn API's ``fit``: the inner ``train`` logs params, metrics and datasets; ``fit`` logs
    the estimator as the model (with the first rows of X as its example)."""

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
            with library.integration.training_run() as run:
                if run is None:
                    return original(self, *args, **kwargs)
                X = args[0] if args else kwargs.get("X")
                example = None
                with library.integration.guarded("the input example"):
                    example = copy.deepcopy(X[:INPUT_EXAMPLE_ROWS])  # type: ignore[index]  # X is the caller's array or frame
                result = original(self, *args, **kwargs)
                config = library.integration.config
                if config is not None and config.log_models:
                    log_trained_model(library, self, example, self.predict)
                return result

        return fit

    return make
