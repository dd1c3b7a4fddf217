"""Transfer handlers (``bakehouse migrate`` / ``sync`` into this server): thin over the store's transfer side.

Every artifact location in a batch must be one this server may serve (as for a new experiment); everything else
is checked by the store's validation rules before the one write transaction.
"""

from __future__ import annotations

import re
from typing import Any

from bakehouse.entities.transfer import TransferBatch
from bakehouse.errors import InvalidParameterError, NotImplementedFeatureError
from bakehouse.server.context import RequestContext
from bakehouse.store.transfer.state import StateQuery
from bakehouse.store.transfer.store import SqlTransferStore
from bakehouse.store.validation import MAX_KEY_LENGTH
from bakehouse.wire import transfer as w

_RUN_ID = re.compile(r"^[0-9a-zA-Z][\w\-]{0,31}$")


def _store(ctx: RequestContext) -> SqlTransferStore:
    tracking = ctx.tracking_store
    engine = getattr(tracking, "engine", None)
    root = getattr(tracking, "default_artifact_root", None)
    if engine is None or not isinstance(root, str):
        raise NotImplementedFeatureError("This server's tracking store does not accept transfers")
    registry = getattr(ctx.registry_store, "engine", None)
    return SqlTransferStore(engine, registry, root)


def transfer_state(ctx: RequestContext, req: w.TransferState) -> dict[str, Any]:
    store = _store(ctx)
    state = store.state(
        StateQuery(
            experiment_ids=req.experiment_ids,
            experiment_names=req.experiment_names,
            run_ids=req.run_ids,
            logged_model_ids=req.logged_model_ids,
            registered_model_names=req.registered_model_names,
        )
    )
    out: dict[str, Any] = w.to_wire(state)
    out["model_versions"] = [w.to_wire(v) for v in state.model_versions.values()]
    out["default_artifact_root"] = store.default_artifact_root
    return out


def transfer_write(ctx: RequestContext, req: w.TransferWrite) -> dict[str, Any]:
    batch = TransferBatch(
        experiments=req.experiments,
        new_experiments=req.new_experiments,
        runs=req.runs,
        metrics=req.metrics,  # pydantic already made each point a tuple
        datasets=req.datasets,
        inputs=req.inputs,
        logged_models=req.logged_models,
        registered_models=req.registered_models,
        model_versions=req.model_versions,
    )
    _check(ctx, batch)
    return {"new_experiment_ids": _store(ctx).write(batch)}


def transfer_metric_points(ctx: RequestContext, req: w.TransferMetricPoints) -> dict[str, Any]:
    return {"metrics": w.to_wire(_store(ctx).metric_points(req.run_ids))}


def _check(ctx: RequestContext, batch: TransferBatch) -> None:
    access = ctx.request.app.state.artifact_access if ctx.request is not None else None
    points = sum(len(p) for p in batch.metrics.values())
    if points > w.MAX_POINTS_PER_REQUEST:
        raise InvalidParameterError(
            f"A transfer may carry at most {w.MAX_POINTS_PER_REQUEST} metric points; this one has {points}"
        )
    locations = [e.artifact_location for e in (*batch.experiments, *batch.new_experiments)]
    locations += [r.artifact_uri for r in batch.runs] + [m.artifact_location for m in batch.logged_models]
    if access is not None:
        for location in locations:
            access.check_new_location(location)
    for e in batch.experiments:
        if not e.experiment_id.isdigit():
            raise InvalidParameterError(f"Invalid experiment id {e.experiment_id!r}: expected an integer")
    for r in batch.runs:
        if not _RUN_ID.match(r.run_id) or not r.experiment_id.isdigit():
            raise InvalidParameterError(f"Invalid run id {r.run_id!r} or experiment id {r.experiment_id!r}")
        for key in (*r.params, *r.tags):
            _check_key(key)
    for run_id, run_points in batch.metrics.items():
        if not _RUN_ID.match(run_id):
            raise InvalidParameterError(f"Invalid run id {run_id!r}")
        for key in {p[0] for p in run_points}:
            _check_key(key)


def _check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidParameterError(f"Invalid key {key[:40]!r}: 1 to {MAX_KEY_LENGTH} characters")
