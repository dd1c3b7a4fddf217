"""Tracking handlers: parse (done by routing) -> store -> MLflow-shaped JSON. Thin on purpose.

Each function is ``handler(ctx, request) -> dict`` and runs in a worker thread (stores are synchronous).
"""

from __future__ import annotations

import json
import math
from typing import Any

from bakehouse.entities import Metric, Param, RunStatus, RunTag, ViewType
from bakehouse.entities.run import DatasetInput, ModelOutput
from bakehouse.errors import InvalidParameterError, NotFoundError
from bakehouse.server.context import RequestContext
from bakehouse.server.metrics import count_logged
from bakehouse.store.artifacts.paths import safe_relative_path
from bakehouse.store.tracking.base import MetricHistoryRows
from bakehouse.wire import json as wj
from bakehouse.wire import tracking_messages as t

LOG_MODEL_HISTORY_TAG = "mlflow.log-model.history"
BULK_INTERVAL_MAX_RUNS = 100
BULK_INTERVAL_DEFAULT_RESULTS = 320
BULK_INTERVAL_MAX_RESULTS = 2500
HISTORY_BULK_MAX_RUNS = 100
HISTORY_BULK_MAX_POINTS = 25000


def _tags(items: list[Any]) -> dict[str, str]:
    return {kv.key: kv.value for kv in items}


def _artifacts(ctx: RequestContext) -> Any:
    return ctx.request.app.state.artifact_access


# ------------------------------------------------------------------------------------------ experiments
def create_experiment(ctx: RequestContext, req: t.CreateExperiment) -> dict[str, Any]:
    if not req.name:
        raise InvalidParameterError(
            "Missing value for required parameter 'name'. See the API docs for more information about request parameters."
        )
    location = req.artifact_location or None
    _artifacts(ctx).check_new_location(location)
    experiment_id = ctx.tracking_store.create_experiment(req.name, location, _tags(req.tags))
    return {"experiment_id": str(experiment_id)}


def search_experiments(ctx: RequestContext, req: t.SearchExperiments) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "view_type": ViewType.parse(req.view_type),
        "filter_string": req.filter or None,
        "order_by": req.order_by or None,
        "page_token": req.page_token or None,
    }
    if req.max_results is not None:
        kwargs["max_results"] = req.max_results
    page = ctx.tracking_store.search_experiments(**kwargs)
    out: dict[str, Any] = {"experiments": [wj.experiment_to_json(e) for e in page]}
    if page.token:
        out["next_page_token"] = page.token
    return out


def get_experiment(ctx: RequestContext, req: t.GetExperiment) -> dict[str, Any]:
    return {"experiment": wj.experiment_to_json(ctx.tracking_store.get_experiment(req.experiment_id))}


def get_experiment_by_name(ctx: RequestContext, req: t.GetExperimentByName) -> dict[str, Any]:
    if not req.experiment_name:
        raise InvalidParameterError("Missing value for required parameter 'experiment_name'.")
    experiment = ctx.tracking_store.get_experiment_by_name(req.experiment_name)
    if experiment is None:
        raise NotFoundError(f"Could not find experiment with name '{req.experiment_name}'")
    return {"experiment": wj.experiment_to_json(experiment)}


def delete_experiment(ctx: RequestContext, req: t.DeleteExperiment) -> dict[str, Any]:
    ctx.tracking_store.delete_experiment(req.experiment_id)
    return {}


def restore_experiment(ctx: RequestContext, req: t.RestoreExperiment) -> dict[str, Any]:
    ctx.tracking_store.restore_experiment(req.experiment_id)
    return {}


def update_experiment(ctx: RequestContext, req: t.UpdateExperiment) -> dict[str, Any]:
    if not req.new_name:  # MLflow requires it (an empty name would make an experiment nobody can find)
        raise InvalidParameterError(
            "Missing value for required parameter 'new_name'. See the API docs for more information about "
            "request parameters."
        )
    ctx.tracking_store.rename_experiment(req.experiment_id, req.new_name)
    return {}


def set_experiment_tag(ctx: RequestContext, req: t.SetExperimentTag) -> dict[str, Any]:
    ctx.tracking_store.set_experiment_tag(req.experiment_id, req.key, req.value)
    return {}


def delete_experiment_tag(ctx: RequestContext, req: t.DeleteExperimentTag) -> dict[str, Any]:
    ctx.tracking_store.delete_experiment_tag(req.experiment_id, req.key)
    return {}


# ------------------------------------------------------------------------------------------------ runs
def create_run(ctx: RequestContext, req: t.CreateRun) -> dict[str, Any]:
    if not req.experiment_id:
        raise InvalidParameterError(
            "Missing value for required parameter 'experiment_id'. See the API docs for more information about "
            "request parameters."
        )
    run = ctx.tracking_store.create_run(
        experiment_id=req.experiment_id,
        user_id=req.user_id or ctx.username or None,
        start_time=req.start_time,
        tags=[RunTag(kv.key, kv.value) for kv in req.tags],
        run_name=req.run_name or None,
    )
    return {"run": wj.run_to_json(run)}


def update_run(ctx: RequestContext, req: t.UpdateRun) -> dict[str, Any]:
    status = RunStatus.parse(req.status).value if req.status is not None and req.status != "" else None
    info = ctx.tracking_store.update_run_info(
        req.resolved_run_id(), run_status=status, end_time=req.end_time, run_name=req.run_name or None
    )
    return {"run_info": wj.run_info_to_json(info)}


def delete_run(ctx: RequestContext, req: t.DeleteRun) -> dict[str, Any]:
    ctx.tracking_store.delete_run(req.resolved_run_id())
    return {}


def restore_run(ctx: RequestContext, req: t.RestoreRun) -> dict[str, Any]:
    ctx.tracking_store.restore_run(req.resolved_run_id())
    return {}


def get_run(ctx: RequestContext, req: t.GetRun) -> dict[str, Any]:
    return {"run": wj.run_to_json(ctx.tracking_store.get_run(req.resolved_run_id()))}


def search_runs(ctx: RequestContext, req: t.SearchRuns) -> dict[str, Any]:
    page = ctx.tracking_store.search_runs(
        experiment_ids=req.experiment_ids,
        filter_string=req.filter or None,
        run_view_type=ViewType.parse(req.run_view_type),
        max_results=req.max_results,
        order_by=req.order_by or None,
        page_token=req.page_token or None,
    )
    out: dict[str, Any] = {"runs": [wj.run_to_json(r) for r in page]}
    if page.token:
        out["next_page_token"] = page.token
    return out


def log_metric(ctx: RequestContext, req: t.LogMetric) -> dict[str, Any]:
    run_id = req.resolved_run_id()
    ctx.tracking_store.log_metric(run_id, req.to_entity(run_id))
    count_logged(metrics=1)
    return {}


def log_param(ctx: RequestContext, req: t.LogParam) -> dict[str, Any]:
    ctx.tracking_store.log_param(req.resolved_run_id(), Param(req.key, req.value))
    count_logged(params=1)
    return {}


def set_tag(ctx: RequestContext, req: t.SetTag) -> dict[str, Any]:
    ctx.tracking_store.set_tag(req.resolved_run_id(), RunTag(req.key, req.value))
    count_logged(tags=1)
    return {}


def delete_tag(ctx: RequestContext, req: t.DeleteTag) -> dict[str, Any]:
    ctx.tracking_store.delete_tag(req.run_id, req.key)
    return {}


def log_batch(ctx: RequestContext, req: t.LogBatch) -> dict[str, Any]:
    metrics = req.metric_entities()
    ctx.tracking_store.log_batch(
        req.resolved_run_id(),
        metrics=metrics,
        params=[Param(p.key, p.value) for p in req.params],
        tags=[RunTag(kv.key, kv.value) for kv in req.tags],
    )
    count_logged(metrics=len(metrics), params=len(req.params), tags=len(req.tags))
    return {}


_LOG_MODEL_FIELDS = frozenset({"artifact_path", "flavors", "utc_time_created", "run_id"})


def log_model(ctx: RequestContext, req: t.LogModel) -> dict[str, Any]:
    """The legacy LogModel RPC: append the MLmodel JSON to the run's ``mlflow.log-model.history`` tag."""
    run_id = req.resolved_run_id()
    if not req.model_json:
        raise InvalidParameterError("Missing value for required parameter 'model_json'.")
    try:
        model = json.loads(req.model_json)
    except ValueError:
        raise InvalidParameterError("model_json is not valid JSON") from None
    if not isinstance(model, dict):
        raise InvalidParameterError("model_json must be a JSON object")
    missing = sorted(_LOG_MODEL_FIELDS - model.keys())
    if missing:  # MLflow's check: readers of the history tag rely on these
        raise InvalidParameterError(f"Model json is missing mandatory fields: {', '.join(missing)}")
    run = ctx.tracking_store.get_run(run_id)
    history = []
    existing = run.data.tags.get(LOG_MODEL_HISTORY_TAG)
    if existing:
        try:
            history = json.loads(existing)
        except ValueError:
            history = []
    history.append(model)
    ctx.tracking_store.set_tag(run_id, RunTag(LOG_MODEL_HISTORY_TAG, json.dumps(history)))
    return {}


def log_inputs(ctx: RequestContext, req: t.LogInputs) -> dict[str, Any]:
    datasets = [
        DatasetInput(
            name=d.dataset.name,
            digest=d.dataset.digest,
            source_type=d.dataset.source_type,
            source=d.dataset.source,
            schema=d.dataset.schema_,
            profile=d.dataset.profile,
            tags=_tags(d.tags),
        )
        for d in req.datasets
    ]
    ctx.tracking_store.log_inputs(req.run_id, datasets=datasets, models=[m.model_id for m in req.models])
    return {}


def log_outputs(ctx: RequestContext, req: t.LogOutputs) -> dict[str, Any]:
    ctx.tracking_store.log_outputs(req.run_id, [ModelOutput(m.model_id, m.step) for m in req.models])
    return {}


# ---------------------------------------------------------------------------------------------- metrics
def get_metric_history(ctx: RequestContext, req: t.GetMetricHistory) -> dict[str, Any]:
    run_id = req.resolved_run_id()
    token = req.page_token or None
    store = ctx.tracking_store
    if isinstance(store, MetricHistoryRows):  # the SQL store's shortcut: no Metric objects on the way
        rows = store.metric_history_rows(
            run_id, req.metric_key, max_results=req.max_results, page_token=token
        )
        out: dict[str, Any] = {"metrics": _history_json_from_rows(req.metric_key, rows)}
        next_token = rows.token
    else:
        page = store.get_metric_history(run_id, req.metric_key, max_results=req.max_results, page_token=token)
        out = {"metrics": _history_json(page)}
        next_token = page.token
    if next_token:
        out["next_page_token"] = next_token
    return out


def _history_json_from_rows(key: str, rows: list[tuple[float, int, int]]) -> list[dict[str, Any]]:
    """The hot path of big histories: (value, timestamp, step) rows straight to MLflow's JSON shape."""
    finite = math.isfinite
    return [
        {
            "key": key,
            "value": value if finite(value) else wj.float_to_json(value),
            "timestamp": ts,
            "step": step,
        }
        for value, ts, step in rows
    ]


def _history_json(points: list[Metric]) -> list[dict[str, Any]]:
    """Plain points skip the general converter (same output)."""
    finite = math.isfinite
    out = []
    for m in points:
        if m.dataset_name is None and m.dataset_digest is None and m.model_id is None and finite(m.value):
            out.append({"key": m.key, "value": m.value, "timestamp": m.timestamp, "step": m.step})
        else:
            out.append(wj.metric_to_json(m))
    return out


def get_metric_history_bulk_interval(
    ctx: RequestContext, req: t.GetMetricHistoryBulkInterval
) -> dict[str, Any]:
    if not req.run_ids:
        raise InvalidParameterError("GetMetricHistoryBulkInterval request must specify at least one run_id.")
    if len(req.run_ids) > BULK_INTERVAL_MAX_RUNS:
        raise InvalidParameterError(
            f"GetMetricHistoryBulkInterval request cannot specify more than {BULK_INTERVAL_MAX_RUNS} run_ids. "
            f"Received {len(req.run_ids)} run_ids."
        )
    if req.start_step is not None and req.end_step is not None and req.start_step > req.end_step:
        raise InvalidParameterError(
            f"end_step must be greater than start_step. Found start_step={req.start_step} and end_step={req.end_step}."
        )
    max_results = req.max_results if req.max_results is not None else BULK_INTERVAL_DEFAULT_RESULTS
    if not 1 <= max_results <= BULK_INTERVAL_MAX_RESULTS:
        raise InvalidParameterError(
            f"max_results must be between 1 and {BULK_INTERVAL_MAX_RESULTS}, got {max_results}"
        )
    points = ctx.tracking_store.get_metric_history_bulk_interval(
        req.run_ids, req.metric_key, max_results, start_step=req.start_step, end_step=req.end_step
    )
    return {"metrics": [wj.metric_to_json(m, with_run_id=True) for m in points]}


def get_metric_history_bulk(ctx: RequestContext, req: t.GetMetricHistoryBulk) -> dict[str, Any]:
    """UI helper: whole histories of up to 100 runs (at most 25,000 points in total, as in MLflow)."""
    if not req.run_id:
        raise InvalidParameterError("GetMetricHistoryBulk request must specify at least one run_id.")
    if len(req.run_id) > HISTORY_BULK_MAX_RUNS:
        raise InvalidParameterError(
            f"GetMetricHistoryBulk request cannot specify more than {HISTORY_BULK_MAX_RUNS} run_ids."
        )
    limit = min(req.max_results or HISTORY_BULK_MAX_POINTS, HISTORY_BULK_MAX_POINTS)
    metrics: list[dict[str, Any]] = []
    for run_id in sorted(set(req.run_id)):
        remaining = limit - len(metrics)
        if remaining <= 0:
            break
        page = ctx.tracking_store.get_metric_history(run_id, req.metric_key, max_results=remaining)
        for m in page:
            m.run_id = run_id
            metrics.append(wj.metric_to_json(m, with_run_id=True))
    return {"metrics": metrics}


# -------------------------------------------------------------------------------------------- artifacts
def _list_under(ctx: RequestContext, root_uri: str, path: str | None) -> dict[str, Any]:
    rel = safe_relative_path(path)
    repo = _artifacts(ctx).repo_for_uri(root_uri)
    files = [wj.file_info_to_json(f) for f in repo.list_artifacts(rel or None)]
    out: dict[str, Any] = {"root_uri": root_uri}
    if files:
        out["files"] = files
    return out


def list_artifacts(ctx: RequestContext, req: t.ListArtifacts) -> dict[str, Any]:
    run = ctx.tracking_store.get_run(req.resolved_run_id())
    return _list_under(ctx, run.info.artifact_uri, req.path)


# ---------------------------------------------------------------------------------------- logged models
def create_logged_model(ctx: RequestContext, req: t.CreateLoggedModel) -> dict[str, Any]:
    model = ctx.tracking_store.create_logged_model(
        experiment_id=req.experiment_id,
        name=req.name or None,
        source_run_id=req.source_run_id or None,
        tags=_tags(req.tags),
        params=_tags(req.params),
        model_type=req.model_type or None,
    )
    return {"model": wj.logged_model_to_json(model)}


def finalize_logged_model(ctx: RequestContext, req: t.FinalizeLoggedModel) -> dict[str, Any]:
    status = req.status
    if isinstance(status, int):
        status = {1: "LOGGED_MODEL_PENDING", 2: "LOGGED_MODEL_READY", 3: "LOGGED_MODEL_UPLOAD_FAILED"}.get(
            status, str(status)
        )
    return {"model": wj.logged_model_to_json(ctx.tracking_store.finalize_logged_model(req.model_id, status))}


def get_logged_model(ctx: RequestContext, req: t.GetLoggedModel) -> dict[str, Any]:
    return {"model": wj.logged_model_to_json(ctx.tracking_store.get_logged_model(req.model_id))}


def delete_logged_model(ctx: RequestContext, req: t.DeleteLoggedModel) -> dict[str, Any]:
    ctx.tracking_store.delete_logged_model(req.model_id)
    return {}


def search_logged_models(ctx: RequestContext, req: t.SearchLoggedModels) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "experiment_ids": req.experiment_ids,
        "filter_string": req.filter or None,
        "order_by": [o.model_dump(exclude_none=True) for o in req.order_by] or None,
        "page_token": req.page_token or None,
        "datasets": [d.model_dump(exclude_none=True) for d in req.datasets] or None,
    }
    if req.max_results is not None:
        kwargs["max_results"] = req.max_results
    page = ctx.tracking_store.search_logged_models(**kwargs)
    out: dict[str, Any] = {"models": [wj.logged_model_to_json(m) for m in page]}
    if page.token:
        out["next_page_token"] = page.token
    return out


def set_logged_model_tags(ctx: RequestContext, req: t.SetLoggedModelTags) -> dict[str, Any]:
    ctx.tracking_store.set_logged_model_tags(req.model_id, _tags(req.tags))
    return {}


def delete_logged_model_tag(ctx: RequestContext, req: t.DeleteLoggedModelTag) -> dict[str, Any]:
    ctx.tracking_store.delete_logged_model_tag(req.model_id, req.tag_key)
    return {}


def log_logged_model_params(ctx: RequestContext, req: t.LogLoggedModelParams) -> dict[str, Any]:
    ctx.tracking_store.log_logged_model_params(req.model_id, _tags(req.params))
    return {}


def list_logged_model_artifacts(ctx: RequestContext, req: t.ListLoggedModelArtifacts) -> dict[str, Any]:
    model = ctx.tracking_store.get_logged_model(req.model_id)
    return _list_under(ctx, model.artifact_location, req.artifact_directory_path)
