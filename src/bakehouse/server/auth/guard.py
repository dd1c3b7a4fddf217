"""The handler wrapper: every RPC is checked against the caller's permission before it runs.

Each ENDPOINTS row names what it touches (``permission = (resource, level)``); this module finds the
resource's id in the parsed request, checks it, runs the handler, then grants MANAGE to the creator of a
new experiment or registered model and filters search results down to what the caller may read.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from bakehouse.errors import NotFoundError, PermissionDeniedError, UnauthenticatedError
from bakehouse.server.auth.permissions import Caller, PermissionChecker, canonical_experiment_id
from bakehouse.server.context import RequestContext
from bakehouse.store.auth import Permission
from bakehouse.wire.endpoints import Endpoint

Handler = Callable[..., Any]


def caller_of(ctx: RequestContext) -> Caller | None:
    request = ctx.request
    state = getattr(request, "state", None) if request is not None else None
    user_id = getattr(state, "user_id", None) if state is not None else None
    if user_id is None or ctx.username is None:
        return None
    return Caller(int(user_id), ctx.username, ctx.is_admin)


def checker_of(ctx: RequestContext) -> PermissionChecker:
    checker: PermissionChecker = ctx.request.state.auth.checker  # the AuthRuntime the middleware put there
    return checker


def _field(req: Any, *names: str) -> Any:
    for name in names:
        value = getattr(req, name, None)
        if value not in (None, ""):
            return value
    return None


def experiment_from_artifact_path(path: str | None) -> str | None:
    """Proxied artifacts live under ``<experiment_id>/...``: the first segment names the experiment.

    The path is normalised exactly as the artifact layer will normalise it (``./7/x`` is ``7/x``), so the
    checked experiment is the one whose files are touched; the root itself (``""``) returns None.
    """
    from bakehouse.store.artifacts.paths import safe_relative_path

    relative = safe_relative_path(unquote(path or ""))
    first = relative.split("/", 1)[0]
    return canonical_experiment_id(first) if first else None


def check_request(endpoint: Endpoint, ctx: RequestContext, req: Any) -> None:
    """Raise unless the caller may make this request."""
    caller = caller_of(ctx)
    if caller is None:
        raise UnauthenticatedError("You are not authenticated. Please see the documentation for details.")
    if caller.is_admin:
        return
    resource, level = endpoint.permission
    checker = checker_of(ctx)
    if resource is None or level == "create":
        return  # searches are filtered afterwards; anyone signed in may create
    if resource == "admin":
        raise PermissionDeniedError("Only administrators may do this")
    if resource == "experiment":
        experiment_id = _experiment_id_of(endpoint, req, checker)
        if experiment_id is None:
            if endpoint.name == "ListArtifactsProxy":
                raise PermissionDeniedError("Listing the root of the artifact store needs an administrator")
            return  # the handler answers the missing experiment with 404
        checker.require_experiment(caller, experiment_id, level)
    elif resource == "run":
        run_id = _field(req, "run_id", "run_uuid")
        if run_id:
            checker.require_run(caller, str(run_id), level)
    elif resource == "logged_model":
        model_id = _field(req, "model_id")
        if model_id:
            try:
                experiment_id = checker.experiment_of_logged_model(str(model_id))
            except NotFoundError:
                return
            checker.require_experiment(caller, experiment_id, level)
    elif resource == "registered_model":
        name = _field(req, "name")
        if name:
            checker.require(caller, "registered_model", str(name), level)
    elif resource == "trace":  # a trace's permission is its experiment's
        trace_ids = [_field(req, "trace_id", "request_id"), *(getattr(req, "trace_ids", None) or [])]
        for trace_id in dict.fromkeys(str(t) for t in trace_ids if t):
            try:
                experiment_id = checker.experiment_of_trace(trace_id)
            except NotFoundError:
                continue  # the handler answers a missing trace with 404
            checker.require_experiment(caller, experiment_id, level)
    elif resource == "trace_start":
        info = ((getattr(req, "trace", None) or {}).get("trace_info")) or {}
        location = (info.get("trace_location") or {}).get("mlflow_experiment") or {}
        if location.get("experiment_id") not in (None, ""):
            checker.require_experiment(caller, canonical_experiment_id(location["experiment_id"]), level)


def _experiment_id_of(endpoint: Endpoint, req: Any, checker: PermissionChecker) -> str | None:
    if endpoint.name == "GetExperimentByName":
        return checker.experiment_by_name(str(_field(req, "experiment_name") or ""))
    if endpoint.raw:
        return None
    value = _field(req, "experiment_id")
    if value is not None:
        return canonical_experiment_id(value)
    return experiment_from_artifact_path(_field(req, "artifact_path", "path"))


def after_request(endpoint: Endpoint, ctx: RequestContext, req: Any, result: Any) -> Any:
    caller = caller_of(ctx)
    if caller is None or not isinstance(result, dict):
        return result
    checker = checker_of(ctx)
    store = checker.store
    if endpoint.name == "CreateExperiment" and result.get("experiment_id"):
        store.set_permission(caller.user_id, "experiment", str(result["experiment_id"]), Permission.MANAGE)
    elif endpoint.name == "CreateRegisteredModel":
        name = (result.get("registered_model") or {}).get("name") or _field(req, "name")
        if name:
            store.set_permission(caller.user_id, "registered_model", str(name), Permission.MANAGE)
    elif endpoint.name == "RenameRegisteredModel":
        new_name = _field(req, "new_name")
        if new_name:
            store.rename_registered_model(str(_field(req, "name")), str(new_name))
    if caller.is_admin:
        return result
    return _filter_search(endpoint.name, result, caller, checker)


def _filter_search(
    name: str, result: dict[str, Any], caller: Caller, checker: PermissionChecker
) -> dict[str, Any]:
    def readable_experiment(experiment_id: Any) -> bool:
        return checker.can(caller, "experiment", str(experiment_id), "read")

    def readable_model(model_name: Any) -> bool:
        return checker.can(caller, "registered_model", str(model_name), "read")

    if name == "SearchRuns" and "runs" in result:  # defence in depth: filter by each run's real experiment
        result["runs"] = [
            r for r in result["runs"] if readable_experiment((r.get("info") or {}).get("experiment_id"))
        ]
    elif name == "SearchExperiments" and "experiments" in result:
        result["experiments"] = [
            e for e in result["experiments"] if readable_experiment(e.get("experiment_id"))
        ]
    elif name == "SearchLoggedModels" and "models" in result:
        result["models"] = [
            m for m in result["models"] if readable_experiment((m.get("info") or {}).get("experiment_id"))
        ]
    elif name == "SearchRegisteredModels" and "registered_models" in result:
        result["registered_models"] = [
            m for m in result["registered_models"] if readable_model(m.get("name"))
        ]
    elif name == "SearchModelVersions" and "model_versions" in result:
        result["model_versions"] = [v for v in result["model_versions"] if readable_model(v.get("name"))]
    return result


def restrict_search_request(endpoint: Endpoint, ctx: RequestContext, req: Any) -> None:
    """Searches over runs only look inside experiments the caller may read."""
    caller = caller_of(ctx)
    if caller is None or caller.is_admin:
        return
    checker = checker_of(ctx)
    if endpoint.name in ("SearchRuns", "SearchLoggedModels") and hasattr(req, "experiment_ids"):
        requested = list(dict.fromkeys(canonical_experiment_id(e) for e in (req.experiment_ids or [])))
        allowed = checker.readable_experiments(caller, requested)
        if requested and not allowed:
            raise PermissionDeniedError(
                f"Permission denied: {caller.username} may not read these experiments"
            )
        req.experiment_ids = allowed
    elif endpoint.name == "SearchTracesV3":
        requested = list(dict.fromkeys(canonical_experiment_id(e) for e in req.experiment_id_list()))
        allowed = checker.readable_experiments(caller, requested)
        if requested and not allowed:
            raise PermissionDeniedError(
                f"Permission denied: {caller.username} may not read these experiments"
            )
        req.locations = []
        req.experiment_ids = allowed
    elif endpoint.name in ("GetMetricHistoryBulkInterval", "GetMetricHistoryBulk"):
        for run_id in list(getattr(req, "run_ids", None) or []) + [getattr(req, "run_id", None)]:
            if run_id:
                checker.require_run(caller, str(run_id), "read")


def wrap(endpoint: Endpoint, handler: Handler) -> Handler:
    """The ``handler_wrapper`` the server calls for every RPC route."""
    if endpoint.raw or inspect.iscoroutinefunction(handler):

        async def raw_wrapped(ctx: RequestContext, request: Any) -> Any:
            caller = caller_of(ctx)
            if caller is None:
                raise UnauthenticatedError(
                    "You are not authenticated. Please see the documentation for details."
                )
            resource, level = endpoint.permission
            if not caller.is_admin and resource == "experiment_header":  # OTLP: x-mlflow-experiment-id
                from starlette.concurrency import run_in_threadpool

                header = request.headers.get("x-mlflow-experiment-id")
                if header:
                    await run_in_threadpool(
                        checker_of(ctx).require_experiment, caller, canonical_experiment_id(header), level
                    )
            elif not caller.is_admin and resource == "experiment":
                from starlette.concurrency import run_in_threadpool

                experiment_id = experiment_from_artifact_path(request.path_params.get("artifact_path"))
                if experiment_id is None:
                    raise PermissionDeniedError(
                        "Only administrators may touch the root of the artifact store"
                    )
                await run_in_threadpool(checker_of(ctx).require_experiment, caller, experiment_id, level)
            elif not caller.is_admin and resource == "run":  # the history stream: run_id in the query
                from starlette.concurrency import run_in_threadpool

                run_id = request.query_params.get("run_id") or request.query_params.get("run_uuid")
                if run_id:
                    await run_in_threadpool(checker_of(ctx).require_run, caller, run_id, level)
            return await handler(ctx, request)

        return raw_wrapped

    def wrapped(ctx: RequestContext, req: Any) -> Any:
        check_request(endpoint, ctx, req)
        restrict_search_request(endpoint, ctx, req)
        result = handler(ctx, req)
        return after_request(endpoint, ctx, req, result)

    return wrapped
