"""The tracking endpoints: one row each (name, path, handler, permission, flags).

The request messages live in ``bakehouse.wire.tracking_messages`` and are named here as strings,
resolved on first use (``Endpoint.request_model``): the REST client reads paths and flags without
importing pydantic.
"""

from __future__ import annotations

from typing import Any

from bakehouse.wire.endpoints import Endpoint

M = "bakehouse.wire.tracking_messages:"  # prefix of a lazy message reference


def _row(
    name: str,
    method: str,
    path: str,
    fn: str,
    request: Any,
    permission: tuple[str | None, str],
    handler_module: str = "tracking",
    **kw: Any,
) -> Endpoint:
    return Endpoint(
        name=name,
        method=method,
        path=path,
        handler=f"{handler_module}:{fn}",
        request=request,
        permission=permission,
        **kw,
    )


_EXP_R = ("experiment", "read")
_EXP_U = ("experiment", "update")
_EXP_D = ("experiment", "delete")
_RUN_R = ("run", "read")
_RUN_U = ("run", "update")
_RUN_D = ("run", "delete")
_LM_R = ("logged_model", "read")
_LM_U = ("logged_model", "update")
_LM_D = ("logged_model", "delete")

ENDPOINTS: list[Endpoint] = [
    _row(
        "CreateExperiment",
        "POST",
        "/mlflow/experiments/create",
        "create_experiment",
        M + "CreateExperiment",
        ("experiment", "create"),
    ),
    _row(
        "SearchExperiments",
        "POST",
        "/mlflow/experiments/search",
        "search_experiments",
        M + "SearchExperiments",
        (None, "read"),
        extra_methods=("GET",),
        idempotent=True,
    ),
    _row("GetExperiment", "GET", "/mlflow/experiments/get", "get_experiment", M + "GetExperiment", _EXP_R),
    _row(
        "GetExperimentByName",
        "GET",
        "/mlflow/experiments/get-by-name",
        "get_experiment_by_name",
        M + "GetExperimentByName",
        _EXP_R,
    ),
    _row(
        "DeleteExperiment",
        "POST",
        "/mlflow/experiments/delete",
        "delete_experiment",
        M + "DeleteExperiment",
        _EXP_D,
    ),
    _row(
        "RestoreExperiment",
        "POST",
        "/mlflow/experiments/restore",
        "restore_experiment",
        M + "RestoreExperiment",
        _EXP_D,
    ),
    _row(
        "UpdateExperiment",
        "POST",
        "/mlflow/experiments/update",
        "update_experiment",
        M + "UpdateExperiment",
        _EXP_U,
        idempotent=True,
    ),
    _row(
        "SetExperimentTag",
        "POST",
        "/mlflow/experiments/set-experiment-tag",
        "set_experiment_tag",
        M + "SetExperimentTag",
        _EXP_U,
        idempotent=True,
    ),
    _row(
        "DeleteExperimentTag",
        "POST",
        "/mlflow/experiments/delete-experiment-tag",
        "delete_experiment_tag",
        M + "DeleteExperimentTag",
        _EXP_U,
    ),
    _row("CreateRun", "POST", "/mlflow/runs/create", "create_run", M + "CreateRun", _EXP_U),
    _row("UpdateRun", "POST", "/mlflow/runs/update", "update_run", M + "UpdateRun", _RUN_U, idempotent=True),
    _row("DeleteRun", "POST", "/mlflow/runs/delete", "delete_run", M + "DeleteRun", _RUN_D),
    _row("RestoreRun", "POST", "/mlflow/runs/restore", "restore_run", M + "RestoreRun", _RUN_D),
    _row("GetRun", "GET", "/mlflow/runs/get", "get_run", M + "GetRun", _RUN_R),
    _row(
        "SearchRuns",
        "POST",
        "/mlflow/runs/search",
        "search_runs",
        M + "SearchRuns",
        (None, "read"),
        extra_methods=("GET",),
    ),
    _row(
        "LogMetric", "POST", "/mlflow/runs/log-metric", "log_metric", M + "LogMetric", _RUN_U, idempotent=True
    ),
    _row(
        "LogParam", "POST", "/mlflow/runs/log-parameter", "log_param", M + "LogParam", _RUN_U, idempotent=True
    ),
    _row("SetTag", "POST", "/mlflow/runs/set-tag", "set_tag", M + "SetTag", _RUN_U, idempotent=True),
    _row("DeleteTag", "POST", "/mlflow/runs/delete-tag", "delete_tag", M + "DeleteTag", _RUN_U),
    _row("LogBatch", "POST", "/mlflow/runs/log-batch", "log_batch", M + "LogBatch", _RUN_U, idempotent=True),
    _row("LogModel", "POST", "/mlflow/runs/log-model", "log_model", M + "LogModel", _RUN_U),
    _row("LogInputs", "POST", "/mlflow/runs/log-inputs", "log_inputs", M + "LogInputs", _RUN_U),
    _row(
        "LogOutputs", "POST", "/mlflow/runs/outputs", "log_outputs", M + "LogOutputs", _RUN_U, idempotent=True
    ),
    _row(
        "GetMetricHistory",
        "GET",
        "/mlflow/metrics/get-history",
        "get_metric_history",
        M + "GetMetricHistory",
        _RUN_R,
    ),
    _row(
        "GetMetricHistoryBulkInterval",
        "GET",
        "/mlflow/metrics/get-history-bulk-interval",
        "get_metric_history_bulk_interval",
        M + "GetMetricHistoryBulkInterval",
        (None, "read"),
    ),
    _row(
        "GetMetricHistoryStream",
        "GET",
        "/bakehouse/metrics/get-history-stream",
        "get_metric_history_stream",
        None,
        _RUN_R,
        raw=True,
        handler_module="metric_stream",
        summary="A whole metric history as 24-byte records (step int64, timestamp int64, value float64, "
        "little-endian) in MLflow's history order, streamed as read (query: run_id, metric_key).",
    ),
    _row("ListArtifacts", "GET", "/mlflow/artifacts/list", "list_artifacts", M + "ListArtifacts", _RUN_R),
    _row(
        "CreateLoggedModel",
        "POST",
        "/mlflow/logged-models",
        "create_logged_model",
        M + "CreateLoggedModel",
        _EXP_U,
    ),
    _row(
        "SearchLoggedModels",
        "POST",
        "/mlflow/logged-models/search",
        "search_logged_models",
        M + "SearchLoggedModels",
        (None, "read"),
        idempotent=True,
    ),
    _row(
        "FinalizeLoggedModel",
        "PATCH",
        "/mlflow/logged-models/{model_id}",
        "finalize_logged_model",
        M + "FinalizeLoggedModel",
        _LM_U,
        idempotent=True,
    ),
    _row(
        "GetLoggedModel",
        "GET",
        "/mlflow/logged-models/{model_id}",
        "get_logged_model",
        M + "GetLoggedModel",
        _LM_R,
    ),
    _row(
        "DeleteLoggedModel",
        "DELETE",
        "/mlflow/logged-models/{model_id}",
        "delete_logged_model",
        M + "DeleteLoggedModel",
        _LM_D,
    ),
    _row(
        "SetLoggedModelTags",
        "PATCH",
        "/mlflow/logged-models/{model_id}/tags",
        "set_logged_model_tags",
        M + "SetLoggedModelTags",
        _LM_U,
        idempotent=True,
    ),
    _row(
        "DeleteLoggedModelTag",
        "DELETE",
        "/mlflow/logged-models/{model_id}/tags/{tag_key}",
        "delete_logged_model_tag",
        M + "DeleteLoggedModelTag",
        _LM_U,
    ),
    _row(
        "ListLoggedModelArtifacts",
        "GET",
        "/mlflow/logged-models/{model_id}/artifacts/directories",
        "list_logged_model_artifacts",
        M + "ListLoggedModelArtifacts",
        _LM_R,
    ),
    _row(
        "LogLoggedModelParams",
        "POST",
        "/mlflow/logged-models/{model_id}/params",
        "log_logged_model_params",
        M + "LogLoggedModelParams",
        _LM_U,
        idempotent=True,
    ),
]

#: Routes the web UI uses that are not proto RPCs; mounted under ``/ajax-api/2.0`` only.
AJAX_ONLY_ENDPOINTS: list[Endpoint] = [
    _row(
        "GetMetricHistoryBulk",
        "GET",
        "/mlflow/metrics/get-history-bulk",
        "get_metric_history_bulk",
        M + "GetMetricHistoryBulk",
        (None, "read"),
    ),
]

#: rows by RPC name, for the REST store
BY_NAME: dict[str, Endpoint] = {e.name: e for e in ENDPOINTS + AJAX_ONLY_ENDPOINTS}
