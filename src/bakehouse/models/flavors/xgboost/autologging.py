"""``bakehouse.xgboost.autolog()``: MLflow's XGBoost autologging, under its names (see
:mod:`bakehouse.models.flavors.boosting_autolog` for what is logged)."""

from __future__ import annotations

from typing import Any

from bakehouse import plugins
from bakehouse.models.flavors import boosting_autolog as boosting
from bakehouse.models.flavors.autologging import Integration

FLAVOR_NAME = "xgboost"
integration = Integration(FLAVOR_NAME)


def autolog(
    importance_types: list[str] | None = None,
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    registered_model_name: str | None = None,
    model_format: str = "ubj",
    extra_tags: dict[str, Any] | None = None,
) -> None:
    """Enable (or, with ``disable=True``, undo) autologging of XGBoost training; MLflow's keywords."""
    integration.configure(
        _install,
        disable=disable,
        disable_for_unsupported_versions=disable_for_unsupported_versions,
        extra_tags=extra_tags,
        log_input_examples=log_input_examples,
        log_model_signatures=log_model_signatures,
        log_models=log_models,
        log_datasets=log_datasets,
        exclusive=exclusive,
        silent=silent,
        registered_model_name=registered_model_name,
        importance_types=list(importance_types or ["weight"]),
        model_format=model_format,
    )


def _callback(results: list[dict[str, float]]) -> Any:
    import xgboost

    class Collector(xgboost.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            results.append(
                {
                    f"{data}-{name}": float(values[-1])
                    for data, metrics in evals_log.items()
                    for name, values in metrics.items()
                }
            )
            return False

    return Collector()


def _early_stopping(
    booster: Any, call: dict[str, Any], results: list[dict[str, float]]
) -> tuple[int, int, dict[str, float]] | None:
    if not call.get("early_stopping_rounds") or not results:
        return None
    best = int(booster.best_iteration)
    return len(results) - 1, best, results[best]


def _importances(booster: Any) -> dict[str, dict[str, Any]]:
    config = integration.config
    types = config.options["importance_types"] if config is not None else ["weight"]
    return {kind: booster.get_score(importance_type=kind) for kind in types}


def _dataset(dmatrix: Any, name: str | None) -> Any:
    from bakehouse.data import from_numpy

    features = dmatrix.get_data().toarray()
    labels = dmatrix.get_label()
    return from_numpy(features, targets=labels if len(labels) else None, name=name)


def _predict(model: Any, example: Any) -> Any:
    import xgboost

    return (
        model.predict(xgboost.DMatrix(example))
        if isinstance(model, xgboost.Booster)
        else model.predict(example)
    )


def _log_model(model: Any, name: str, **kwargs: Any) -> Any:
    flavor = plugins.flavors.get(FLAVOR_NAME)  # by name: the flavor module imports this one

    return flavor.log_model(model, name, **kwargs)


def _model_options() -> dict[str, Any]:
    config = integration.config
    return {"model_format": config.options["model_format"] if config is not None else "ubj"}


LIBRARY = boosting.BoostingLibrary(
    integration=integration,
    unlogged=(
        "params",
        "dtrain",
        "evals",
        "obj",
        "feval",
        "evals_result",
        "xgb_model",
        "callbacks",
        "learning_rates",
    ),
    train_arg="dtrain",
    eval_sets=lambda call: list(call.get("evals") or ()),
    make_callback=_callback,
    early_stopping=_early_stopping,
    importances=_importances,
    dataset=_dataset,
    predict=_predict,
    log_model=_log_model,
    log_model_options=_model_options,
)


def _install(integration: Integration) -> None:
    import xgboost
    import xgboost.sklearn

    integration.replace(xgboost, "train", boosting.patched_train(LIBRARY, sklearn_api=False))
    integration.replace(xgboost.sklearn, "train", boosting.patched_train(LIBRARY, sklearn_api=True))
    integration.replace(xgboost.DMatrix, "__init__", boosting.patched_data_init(LIBRARY))
    for cls in (
        xgboost.XGBModel,
        xgboost.XGBClassifier,
        xgboost.XGBRegressor,
        xgboost.XGBRanker,
        xgboost.XGBRFClassifier,
        xgboost.XGBRFRegressor,
    ):
        if "fit" in vars(cls):
            integration.replace(cls, "fit", boosting.patched_sklearn_fit(LIBRARY))
