"""Bakehouse: track experiments, package and serve models, an MLflow-compatible platform.

``import bakehouse as bh`` gives the fluent API with MLflow's function names. Everything here loads on first
use (``__getattr__`` below), and importing ``bakehouse`` loads only the bottom layer (version, errors,
settings): importing any module of the package runs this file first, so what it imported eagerly every
``bakehouse.store`` or ``bakehouse.wire`` module would load too. The names and their types are spelled out
for type checkers under ``TYPE_CHECKING``; ``tests/unit/test_public_api.py`` pins ``__all__``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from bakehouse.version import __version__

if TYPE_CHECKING:  # (``infer_signature``, outside ``__all__``, stays lazy and untyped here)
    from bakehouse.client.client import Client
    from bakehouse.client.client import Client as MlflowClient
    from bakehouse.client.fluent import (
        ActiveRun,
        active_run,
        create_experiment,
        delete_experiment,
        delete_experiment_tag,
        delete_run,
        delete_tag,
        end_run,
        flush_async_logging,
        get_artifact_uri,
        get_experiment,
        get_experiment_by_name,
        get_parent_run,
        get_registry_uri,
        get_run,
        get_tracking_uri,
        is_tracking_uri_set,
        last_active_run,
        load_table,
        log_artifact,
        log_artifacts,
        log_dict,
        log_figure,
        log_image,
        log_input,
        log_inputs,
        log_metric,
        log_metrics,
        log_param,
        log_params,
        log_table,
        log_text,
        search_experiments,
        search_runs,
        set_experiment,
        set_experiment_tag,
        set_experiment_tags,
        set_registry_uri,
        set_tag,
        set_tags,
        set_tracking_uri,
        start_run,
    )
    from bakehouse.client.logged_models_fluent import (
        delete_logged_model_tag,
        get_logged_model,
        last_logged_model,
        log_model_params,
        search_logged_models,
        set_logged_model_tags,
    )
    from bakehouse.client.registry_fluent import (
        register_model,
        search_model_versions,
        search_registered_models,
    )
    from bakehouse.client.system_metrics import (
        disable_system_metrics_logging,
        enable_system_metrics_logging,
        set_system_metrics_node_id,
        set_system_metrics_samples_before_logging,
        set_system_metrics_sampling_interval,
    )
    from bakehouse.client.tracing.fluent import (
        flush_trace_async_logging,
        get_current_active_span,
        get_last_active_trace_id,
        get_trace,
        log_expectation,
        log_feedback,
        search_traces,
        start_span,
        trace,
        update_current_trace,
    )
    from bakehouse.models.autolog import autolog

#: the fluent API (``bakehouse.client.fluent``), MLflow's top-level function names
_FLUENT_NAMES = frozenset(
    (
        "ActiveRun",
        "active_run",
        "create_experiment",
        "delete_experiment",
        "delete_experiment_tag",
        "delete_run",
        "delete_tag",
        "end_run",
        "flush_async_logging",
        "get_artifact_uri",
        "get_experiment",
        "get_experiment_by_name",
        "get_parent_run",
        "get_registry_uri",
        "get_run",
        "get_tracking_uri",
        "is_tracking_uri_set",
        "last_active_run",
        "load_table",
        "log_artifact",
        "log_artifacts",
        "log_dict",
        "log_figure",
        "log_image",
        "log_input",
        "log_inputs",
        "log_metric",
        "log_metrics",
        "log_param",
        "log_params",
        "log_table",
        "log_text",
        "search_experiments",
        "search_runs",
        "set_experiment",
        "set_experiment_tag",
        "set_experiment_tags",
        "set_registry_uri",
        "set_tag",
        "set_tags",
        "set_tracking_uri",
        "start_run",
    )
)
#: other names, as ``"module:attribute"``
_LAZY_ATTRIBUTES = {
    "Client": "bakehouse.client.client:Client",
    "MlflowClient": "bakehouse.client.client:Client",
    "register_model": "bakehouse.client.registry_fluent:register_model",
    "search_registered_models": "bakehouse.client.registry_fluent:search_registered_models",
    "search_model_versions": "bakehouse.client.registry_fluent:search_model_versions",
    "infer_signature": "bakehouse.models.schema_inference:infer_signature",
    "get_logged_model": "bakehouse.client.logged_models_fluent:get_logged_model",
    "search_logged_models": "bakehouse.client.logged_models_fluent:search_logged_models",
    "last_logged_model": "bakehouse.client.logged_models_fluent:last_logged_model",
    "set_logged_model_tags": "bakehouse.client.logged_models_fluent:set_logged_model_tags",
    "delete_logged_model_tag": "bakehouse.client.logged_models_fluent:delete_logged_model_tag",
    "log_model_params": "bakehouse.client.logged_models_fluent:log_model_params",
    "autolog": "bakehouse.models.autolog:autolog",
    "evaluate": "bakehouse.models.evaluation:evaluate",
    "validate_evaluation_results": "bakehouse.models.evaluation:validate_evaluation_results",
    "enable_system_metrics_logging": "bakehouse.client.system_metrics:enable_system_metrics_logging",
    "disable_system_metrics_logging": "bakehouse.client.system_metrics:disable_system_metrics_logging",
    "set_system_metrics_sampling_interval": "bakehouse.client.system_metrics:set_system_metrics_sampling_interval",
    "set_system_metrics_samples_before_logging": "bakehouse.client.system_metrics:set_system_metrics_samples_before_logging",
    "set_system_metrics_node_id": "bakehouse.client.system_metrics:set_system_metrics_node_id",
    "flush_trace_async_logging": "bakehouse.client.tracing.fluent:flush_trace_async_logging",
    "get_current_active_span": "bakehouse.client.tracing.fluent:get_current_active_span",
    "get_last_active_trace_id": "bakehouse.client.tracing.fluent:get_last_active_trace_id",
    "get_trace": "bakehouse.client.tracing.fluent:get_trace",
    "log_expectation": "bakehouse.client.tracing.fluent:log_expectation",
    "log_feedback": "bakehouse.client.tracing.fluent:log_feedback",
    "search_traces": "bakehouse.client.tracing.fluent:search_traces",
    "start_span": "bakehouse.client.tracing.fluent:start_span",
    "trace": "bakehouse.client.tracing.fluent:trace",
    "update_current_trace": "bakehouse.client.tracing.fluent:update_current_trace",
}
#: submodules reachable as attributes (mlflow-style ``bakehouse.sklearn.log_model``)
_LAZY_MODULES = frozenset(
    (
        "sklearn",
        "pyfunc",
        "pytorch",
        "xgboost",
        "lightgbm",
        "catboost",
        "keras",
        "onnx",
        "statsmodels",
        "transformers",
        "models",
        "projects",
        "entities",
        "errors",
        "client",
        "data",
        "artifacts",
        "openai",
        "tracing",
    )
)


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(f"bakehouse.{name}")
    if name in _FLUENT_NAMES:
        target = f"bakehouse.client.fluent:{name}"
    elif name in _LAZY_ATTRIBUTES:
        target = _LAZY_ATTRIBUTES[name]
    else:
        raise AttributeError(f"module 'bakehouse' has no attribute {name!r}")
    module_name, _, attribute = target.partition(":")
    value = getattr(importlib.import_module(module_name), attribute)
    globals()[name] = value  # the next access is a plain attribute lookup
    return value


__all__ = [
    "ActiveRun",
    "Client",
    "MlflowClient",
    "__version__",
    "active_run",
    "autolog",
    "create_experiment",
    "delete_experiment",
    "delete_experiment_tag",
    "delete_logged_model_tag",
    "delete_run",
    "delete_tag",
    "disable_system_metrics_logging",
    "enable_system_metrics_logging",
    "end_run",
    "flush_async_logging",
    "flush_trace_async_logging",
    "get_artifact_uri",
    "get_current_active_span",
    "get_experiment",
    "get_experiment_by_name",
    "get_last_active_trace_id",
    "get_logged_model",
    "get_parent_run",
    "get_registry_uri",
    "get_run",
    "get_trace",
    "get_tracking_uri",
    "is_tracking_uri_set",
    "last_active_run",
    "last_logged_model",
    "load_table",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_expectation",
    "log_feedback",
    "log_figure",
    "log_image",
    "log_input",
    "log_inputs",
    "log_metric",
    "log_metrics",
    "log_model_params",
    "log_param",
    "log_params",
    "log_table",
    "log_text",
    "register_model",
    "search_experiments",
    "search_logged_models",
    "search_model_versions",
    "search_registered_models",
    "search_runs",
    "search_traces",
    "set_experiment",
    "set_experiment_tag",
    "set_experiment_tags",
    "set_logged_model_tags",
    "set_registry_uri",
    "set_system_metrics_node_id",
    "set_system_metrics_samples_before_logging",
    "set_system_metrics_sampling_interval",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
    "start_span",
    "trace",
    "update_current_trace",
]
