"""``bakehouse.__all__`` is a promise to users (``from bakehouse import *``, ``import bakehouse as mlflow``):
this pins it, so a name is added or removed on purpose, and checks every name resolves."""

from __future__ import annotations

import subprocess
import sys

import bakehouse

PUBLIC_API = [
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

#: reachable as attributes, outside __all__ (MLflow's module-style access: bakehouse.sklearn.log_model)
SUBMODULES = [
    "artifacts",
    "client",
    "data",
    "entities",
    "errors",
    "models",
    "projects",
    "pyfunc",
    "pytorch",
    "sklearn",
]


def test_all_is_pinned() -> None:
    assert bakehouse.__all__ == PUBLIC_API


def test_every_public_name_and_submodule_resolves() -> None:
    """In a fresh interpreter, so the lazy loading itself is what is tested."""
    names = ", ".join(repr(n) for n in [*PUBLIC_API, *SUBMODULES, "infer_signature"])
    code = (
        f"import bakehouse\nfor name in [{names}]:\n    assert getattr(bakehouse, name) is not None, name\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from bakehouse import *", namespace)  # noqa: S102 - what a user's `import *` sees
    assert sorted(k for k in namespace if k != "__builtins__") == sorted(PUBLIC_API)
