"""``bakehouse.lightgbm.autolog()``: MLflow's LightGBM autologging, under its names (see
:mod:`bakehouse.models.flavors.boosting_autolog` for what is logged; importance types ``split`` and
``gain``)."""

from __future__ import annotations

from typing import Any

from bakehouse import plugins
from bakehouse.models.flavors import boosting_autolog as boosting
from bakehouse.models.flavors.autologging import Integration

FLAVOR_NAME = "lightgbm"
integration = Integration(FLAVOR_NAME)


def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    registered_model_name: str | None = None,
    extra_tags: dict[str, Any] | None = None,
) -> None:
    """Enable (or, with ``disable=True``, undo) autologging of LightGBM training; MLflow's keywords."""
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
    )


def _callback(results: list[dict[str, float]]) -> Any:
    def collect(env: Any) -> None:
        results.append(
            {f"{data}-{name}": float(value) for data, name, value, *_ in env.evaluation_result_list or ()}
        )

    return collect


def _early_stopping(
    booster: Any, call: dict[str, Any], results: list[dict[str, float]]
) -> tuple[int, int, dict[str, float]] | None:
    best = int(booster.best_iteration)
    if best <= 0 or not results:
        return None
    return len(results), best, results[best - 1]


def _importances(booster: Any) -> dict[str, dict[str, Any]]:
    features = booster.feature_name()
    return {
        kind: dict(zip(features, booster.feature_importance(importance_type=kind).tolist()))
        for kind in ("split", "gain")
    }


def _dataset(lgb_dataset: Any, name: str | None) -> Any:
    import numpy as np
    import pandas as pd
    from scipy.sparse import issparse

    from bakehouse.data import from_numpy, from_pandas

    data, label = lgb_dataset.data, lgb_dataset.label
    if isinstance(data, pd.DataFrame):
        return from_pandas(data, name=name)
    if issparse(data):
        data = data.toarray()
    if isinstance(data, np.ndarray):
        return from_numpy(data, targets=np.asarray(label) if label is not None else None, name=name)
    integration.warn("Unrecognized dataset type %s. Dataset logging skipped.", type(data))
    return None


def _eval_sets(call: dict[str, Any]) -> list[tuple[Any, Any]]:
    sets = list(call.get("valid_sets") or ())
    names = list(call.get("valid_names") or [None] * len(sets))
    return list(zip(sets, names))


def _log_model(model: Any, name: str, **kwargs: Any) -> Any:
    flavor = plugins.flavors.get(FLAVOR_NAME)  # by name: the flavor module imports this one

    return flavor.log_model(model, name, **kwargs)


LIBRARY = boosting.BoostingLibrary(
    integration=integration,
    unlogged=(
        "params",
        "train_set",
        "valid_sets",
        "valid_names",
        "fobj",
        "feval",
        "init_model",
        "learning_rates",
        "callbacks",
    ),
    train_arg="train_set",
    eval_sets=_eval_sets,
    make_callback=_callback,
    early_stopping=_early_stopping,
    importances=_importances,
    dataset=_dataset,
    predict=lambda model, example: model.predict(example),
    log_model=_log_model,
    log_model_options=dict,
)


def _install(integration: Integration) -> None:
    import lightgbm
    import lightgbm.sklearn

    integration.replace(lightgbm, "train", boosting.patched_train(LIBRARY, sklearn_api=False))
    integration.replace(lightgbm.sklearn, "train", boosting.patched_train(LIBRARY, sklearn_api=True))
    integration.replace(lightgbm.Dataset, "__init__", boosting.patched_data_init(LIBRARY))
    for cls in (lightgbm.LGBMModel, lightgbm.LGBMClassifier, lightgbm.LGBMRegressor, lightgbm.LGBMRanker):
        if "fit" in vars(cls):
            integration.replace(cls, "fit", boosting.patched_sklearn_fit(LIBRARY))
