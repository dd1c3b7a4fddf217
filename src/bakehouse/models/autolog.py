"""``bakehouse.autolog()``: autologging for every supported library that is installed (MLflow's switch)."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from collections.abc import Sequence
from typing import Any

#: flavor name -> (the libraries that turn it on (any one), the module whose ``autolog`` it calls)
_FLAVORS = {
    "sklearn": (("sklearn",), "bakehouse.models.flavors.sklearn.autologging"),
    "xgboost": (("xgboost",), "bakehouse.models.flavors.xgboost.autologging"),
    "lightgbm": (("lightgbm",), "bakehouse.models.flavors.lightgbm.autologging"),
    "keras": (("keras",), "bakehouse.models.flavors.keras.autologging"),
    "pytorch": (("lightning", "pytorch_lightning"), "bakehouse.models.flavors.pytorch.autologging"),
    "statsmodels": (("statsmodels",), "bakehouse.models.flavors.statsmodels.autologging"),
    "transformers": (("transformers",), "bakehouse.models.flavors.transformers.autologging"),
}


def autolog(
    log_input_examples: bool = False,
    log_model_signatures: bool = True,
    log_models: bool = True,
    log_datasets: bool = True,
    disable: bool = False,
    exclusive: bool = False,
    disable_for_unsupported_versions: bool = False,
    silent: bool = False,
    extra_tags: dict[str, Any] | None = None,
    exclude_flavors: Sequence[str] | None = None,
) -> list[str]:
    """Turn autologging on (or off, ``disable=True``) for each installed library Bakehouse can autolog —
    scikit-learn, XGBoost, LightGBM, Keras, PyTorch Lightning, statsmodels, transformers — except
    ``exclude_flavors``; returns the flavors it acted on. Each library gets the options its own
    ``autolog`` takes, as in MLflow (transformers keeps its own defaults: no models, no signatures)."""
    options: dict[str, Any] = {
        "log_input_examples": log_input_examples,
        "log_model_signatures": log_model_signatures,
        "log_models": log_models,
        "log_datasets": log_datasets,
        "disable": disable,
        "exclusive": exclusive,
        "disable_for_unsupported_versions": disable_for_unsupported_versions,
        "silent": silent,
        "extra_tags": extra_tags,
    }
    excluded = set(exclude_flavors or ())
    done = []
    for flavor, (libraries, module_name) in _FLAVORS.items():
        if flavor in excluded or not any(importlib.util.find_spec(lib) is not None for lib in libraries):
            continue
        flavor_autolog = importlib.import_module(module_name).autolog
        accepted = inspect.signature(flavor_autolog).parameters
        passed = {k: v for k, v in options.items() if k in accepted}
        if flavor == "transformers":
            for key in ("log_models", "log_model_signatures", "log_input_examples", "log_datasets"):
                passed.pop(key, None)  # MLflow keeps transformers' own defaults under the umbrella switch
        flavor_autolog(**passed)
        done.append(flavor)
    return done
