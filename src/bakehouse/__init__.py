"""Bakehouse: track experiments, package and serve models, an MLflow-compatible platform.

``import bakehouse as bh`` gives the fluent API with MLflow's function names. Heavy parts (SQLAlchemy,
pandas, flavors) load on first use, so importing stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from bakehouse.client.fluent import (
    ActiveRun,
    active_run,
    create_experiment,
    delete_experiment,
    delete_run,
    delete_tag,
    end_run,
    flush_async_logging,
    get_artifact_uri,
    get_experiment,
    get_experiment_by_name,
    get_registry_uri,
    get_run,
    get_tracking_uri,
    last_active_run,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_image,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_text,
    search_experiments,
    search_runs,
    set_experiment,
    set_registry_uri,
    set_tag,
    set_tags,
    set_tracking_uri,
    start_run,
)
from bakehouse.version import __version__

# Submodules and classes loaded on first attribute access (mlflow-style `bakehouse.sklearn.log_model`).
_LAZY_MODULES = {"sklearn", "pyfunc", "pytorch", "models", "projects", "entities", "errors", "client"}
_LAZY_ATTRIBUTES = {
    "Client": "bakehouse.client.client:Client",
    "MlflowClient": "bakehouse.client.client:Client",
    "register_model": "bakehouse.client.registry_fluent:register_model",
    "search_registered_models": "bakehouse.client.registry_fluent:search_registered_models",
    "search_model_versions": "bakehouse.client.registry_fluent:search_model_versions",
    "infer_signature": "bakehouse.models.signature:infer_signature",
    "run": "bakehouse.projects:run",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(f"bakehouse.{name}")
    target = _LAZY_ATTRIBUTES.get(name)
    if target is not None:
        module_name, _, attribute = target.partition(":")
        return getattr(importlib.import_module(module_name), attribute)
    raise AttributeError(f"module 'bakehouse' has no attribute {name!r}")


__all__ = [
    "ActiveRun", "Client", "MlflowClient", "__version__", "active_run", "create_experiment", "delete_experiment",
    "delete_run", "delete_tag", "end_run", "flush_async_logging", "get_artifact_uri", "get_experiment",
    "get_experiment_by_name", "get_registry_uri", "get_run", "get_tracking_uri", "last_active_run", "log_artifact",
    "log_artifacts", "log_dict", "log_figure", "log_image", "log_metric", "log_metrics", "log_param", "log_params",
    "log_text", "register_model", "search_experiments", "search_model_versions", "search_registered_models",
    "search_runs", "set_experiment", "set_registry_uri", "set_tag", "set_tags", "set_tracking_uri", "start_run",
]
