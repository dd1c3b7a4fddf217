"""Model registry handlers: parse -> registry store -> MLflow's JSON.

Who did it (for the audit trail) is the authenticated user when auth is on, else the optional ``user_id``
a Bakehouse client sends; the official client sends none, and the event is recorded without a user.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from bakehouse.errors import InvalidParameterError, NotFoundError, NotImplementedFeatureError
from bakehouse.server.context import RequestContext
from bakehouse.store.artifacts.locations import check_location_spelling
from bakehouse.store.registry.base import (
    REGISTERED_MODELS_MAX_RESULTS_DEFAULT,
    RegistryStore,
    link_logged_models,
)
from bakehouse.wire import registry as w
from bakehouse.wire.messages import KeyValue
from bakehouse.wire.registry import model_version_to_json, registered_model_to_json, registry_event_to_json

logger = logging.getLogger(__name__)

MODEL_VERSIONS_TAG = "mlflow.modelVersions"


def _store(ctx: RequestContext) -> RegistryStore:
    store = ctx.registry_store
    if store is None:
        raise NotImplementedFeatureError("The model registry is not enabled on this server.")
    # versions registered from ``models:/<model_id>`` resolve through the tracking store's logged models
    link_logged_models(store, ctx.tracking_store.get_logged_model)
    return store


def _who(ctx: RequestContext, sent: str | None) -> str | None:
    return ctx.username or sent or None


def _tags(items: list[KeyValue]) -> dict[str, str]:
    return {t.key: t.value for t in items}


# ------------------------------------------------------------------------------------ registered models
def create_registered_model(ctx: RequestContext, req: w.CreateRegisteredModel) -> dict[str, Any]:
    model = _store(ctx).create_registered_model(
        req.name, tags=_tags(req.tags), description=req.description, user_id=ctx.username
    )
    return {"registered_model": registered_model_to_json(model)}


def rename_registered_model(ctx: RequestContext, req: w.RenameRegisteredModel) -> dict[str, Any]:
    if not req.new_name:
        raise InvalidParameterError(
            "Missing value for required parameter 'new_name'. See the API docs for more information about "
            "request parameters."
        )
    model = _store(ctx).rename_registered_model(req.name, req.new_name, user_id=_who(ctx, req.user_id))
    return {"registered_model": registered_model_to_json(model)}


def update_registered_model(ctx: RequestContext, req: w.UpdateRegisteredModel) -> dict[str, Any]:
    model = _store(ctx).update_registered_model(req.name, req.description)
    return {"registered_model": registered_model_to_json(model)}


def delete_registered_model(ctx: RequestContext, req: w.DeleteRegisteredModel) -> dict[str, Any]:
    _store(ctx).delete_registered_model(req.name)
    return {}


def get_registered_model(ctx: RequestContext, req: w.GetRegisteredModel) -> dict[str, Any]:
    return {"registered_model": registered_model_to_json(_store(ctx).get_registered_model(req.name))}


def search_registered_models(ctx: RequestContext, req: w.SearchRegisteredModels) -> dict[str, Any]:
    page = _store(ctx).search_registered_models(
        filter_string=req.filter,
        max_results=req.max_results if req.max_results is not None else REGISTERED_MODELS_MAX_RESULTS_DEFAULT,
        order_by=req.order_by or None,
        page_token=req.page_token or None,
    )
    out: dict[str, Any] = {}
    if page:
        out["registered_models"] = [registered_model_to_json(m) for m in page]
    if page.token:
        out["next_page_token"] = page.token
    return out


def get_latest_versions(ctx: RequestContext, req: w.GetLatestVersions) -> dict[str, Any]:
    versions = _store(ctx).get_latest_versions(req.name, req.stages or None)
    return {"model_versions": [model_version_to_json(v) for v in versions]} if versions else {}


def set_registered_model_tag(ctx: RequestContext, req: w.SetRegisteredModelTag) -> dict[str, Any]:
    _store(ctx).set_registered_model_tag(req.name, req.key, req.value)
    return {}


def delete_registered_model_tag(ctx: RequestContext, req: w.DeleteRegisteredModelTag) -> dict[str, Any]:
    _store(ctx).delete_registered_model_tag(req.name, req.key)
    return {}


# ---------------------------------------------------------------------------------------- aliases
def set_registered_model_alias(ctx: RequestContext, req: w.SetRegisteredModelAlias) -> dict[str, Any]:
    _store(ctx).set_registered_model_alias(req.name, req.alias, req.version, user_id=_who(ctx, req.user_id))
    return {}


def delete_registered_model_alias(ctx: RequestContext, req: w.DeleteRegisteredModelAlias) -> dict[str, Any]:
    _store(ctx).delete_registered_model_alias(req.name, req.alias, user_id=_who(ctx, req.user_id))
    return {}


def get_model_version_by_alias(ctx: RequestContext, req: w.GetModelVersionByAlias) -> dict[str, Any]:
    return {
        "model_version": model_version_to_json(_store(ctx).get_model_version_by_alias(req.name, req.alias))
    }


# ---------------------------------------------------------------------------------------- model versions
#: MLflow's prompt registry keeps prompts as registered models; their versions carry no files, only this
#: placeholder source (the client's and the store's), and MLflow's server accepts nothing else for them.
_PROMPT_SOURCES = frozenset({"dummy-source", "prompt-template"})


def _is_prompt_version(tags: Any) -> bool:
    """Tagged ``mlflow.prompt.is_prompt=true`` (the last value of a repeated key wins, as in MLflow)."""
    values = {t.key: t.value for t in tags}
    return str(values.get("mlflow.prompt.is_prompt", "false")).lower() == "true"


def create_model_version(ctx: RequestContext, req: w.CreateModelVersion) -> dict[str, Any]:
    store = _store(ctx)
    if _is_prompt_version(req.tags):
        if req.source not in _PROMPT_SOURCES:
            raise InvalidParameterError(
                f"Invalid prompt source: '{req.source}'. Prompt sources must use an MLflow placeholder."
            )
    else:
        validate_source(ctx, req.source, req.run_id or None, req.model_id or None)
    version = store.create_model_version(
        req.name,
        req.source,
        run_id=req.run_id or None,
        tags=_tags(req.tags),
        run_link=req.run_link or None,
        description=req.description,
        model_id=req.model_id or None,
        user_id=_who(ctx, req.user_id),
    )
    if version.model_id:
        _record_version_on_logged_model(ctx, version.model_id, version.name, version.version)
    return {"model_version": model_version_to_json(version)}


def _invalid_source(source: str, id_name: str) -> InvalidParameterError:
    return InvalidParameterError(
        f"Invalid model version source: '{source}'. The {id_name} request parameter must identify the resource "
        "that contains the source."
    )


def validate_source(ctx: RequestContext, source: str, run_id: str | None, model_id: str | None) -> None:
    """MLflow's server-side rules and more, so a client cannot register (and later read through the server)
    files that belong to no run: no source may carry a hostile spelling (``..`` however often encoded, a
    query or fragment, NUL, backslashes: see :mod:`bakehouse.store.artifacts.locations`); a local path must
    lie inside the artifact directory of the given run or logged model, an ``mlflow-artifacts:`` source (or
    its ``http(s)://<server>/api/2.0/mlflow-artifacts/artifacts/...`` form) inside that run's/model's
    artifact root, and a ``runs:/`` source must name the given run."""
    check_location_spelling(source, "model version source")
    parsed = urlsplit(source)
    scheme = parsed.scheme.lower()
    if scheme == "models":
        if parsed.netloc:
            raise InvalidParameterError(
                f"Invalid model version source: '{source}'. Registered model sources must use the active model "
                "registry."
            )
        target = parsed.path.strip("/")
        if target and "/" not in target and "@" not in target and model_id != target:
            # models:/<model id>: the request's model_id must name that logged model (as MLflow checks)
            raise _invalid_source(source, "model_id")
        return  # models:/<name>/<version> and models:/<name>@<alias> are resolved (and checked) by the store
    owner_name = "model_id" if model_id else "run_id"
    if scheme in ("", "file") or (len(scheme) == 1 and source[1:2] == ":"):  # local path (or C:\...)
        root = _owner_artifact_root(ctx, source, run_id, model_id)
        local_root = _local_path(root) if root else None
        if local_root is not None:
            path = Path(_local_path(source) or source).resolve()
            if local_root.resolve() in (path, *path.parents):
                return
        raise InvalidParameterError(
            f"Invalid model version source: '{source}'. To use a local path as a model version source, the "
            f"{owner_name} request parameter has to be specified and the local path has to be contained within "
            f"the artifact directory of the run specified by the {owner_name}."
        )
    if scheme == "runs":
        if parsed.netloc or model_id or not run_id or parsed.path.strip("/").split("/")[0] != run_id:
            raise _invalid_source(source, owner_name)
        return
    proxied = _proxied_path(source)
    if proxied is not None:
        root = _owner_artifact_root(ctx, source, run_id, model_id)
        root_path = _proxied_path(root) if root else None
        if root_path is None or not _segments_within(proxied, root_path):
            raise _invalid_source(source, owner_name)


#: where the artifact proxy lives in an ``http(s)://`` URL: what follows is an ``mlflow-artifacts:`` path
_PROXY_URL_MARKER = "/mlflow-artifacts/artifacts"


def _proxied_path(uri: str) -> str | None:
    """The proxy-relative path of ``mlflow-artifacts:[//host]/<path>`` or of the proxy's http(s) URL form;
    None for any other URI."""
    parsed = urlsplit(uri)
    scheme = parsed.scheme.lower()
    if scheme == "mlflow-artifacts":
        return parsed.path
    if scheme in ("http", "https") and _PROXY_URL_MARKER in parsed.path:
        return parsed.path.split(_PROXY_URL_MARKER, 1)[1]
    return None


def _segments_within(path: str, root: str) -> bool:
    """Whether ``path`` is ``root`` or below it, comparing the decoded segments (neither holds a ``..``)."""
    path_parts = [unquote(x) for x in path.split("/") if x]
    root_parts = [unquote(x) for x in root.split("/") if x]
    return bool(root_parts) and path_parts[: len(root_parts)] == root_parts


def _owner_artifact_root(
    ctx: RequestContext, source: str, run_id: str | None, model_id: str | None
) -> str | None:
    tracking = ctx.tracking_store
    if tracking is None or not (run_id or model_id):
        return None
    try:
        if model_id:
            return str(tracking.get_logged_model(model_id).artifact_location)
        if run_id:
            return str(tracking.get_run(run_id).info.artifact_uri)
    except NotFoundError:
        raise _invalid_source(source, "model_id" if model_id else "run_id") from None
    return None


def _local_path(uri: str) -> Path | None:
    parsed = urlsplit(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" or len(parsed.scheme) == 1:
        return Path(uri)
    return None


def _record_version_on_logged_model(ctx: RequestContext, model_id: str, name: str, version: str) -> None:
    """MLflow 3 tags the logged model with ``mlflow.modelVersions`` so the UI links model -> versions."""
    tracking = ctx.tracking_store
    if tracking is None:
        return
    # An error here surfaces (as in MLflow); only a logged model deleted since the source check is let go.
    try:
        model = tracking.get_logged_model(model_id)
    except NotFoundError:
        logger.warning(
            "Logged model %s is gone: not tagged with model version %s/%s", model_id, name, version
        )
        return
    try:
        entries = json.loads(model.tags.get(MODEL_VERSIONS_TAG) or "[]")
    except ValueError:
        entries = None
    if not isinstance(entries, list):  # a client overwrote the tag with something else: start it afresh
        logger.warning(
            "Logged model %s: its %s tag is not a JSON list; rewritten", model_id, MODEL_VERSIONS_TAG
        )
        entries = []
    entry = {"name": name, "version": str(version)}
    if entry in entries:
        return
    entries.append(entry)
    tracking.set_logged_model_tags(model_id, {MODEL_VERSIONS_TAG: json.dumps(entries)})


def update_model_version(ctx: RequestContext, req: w.UpdateModelVersion) -> dict[str, Any]:
    version = _store(ctx).update_model_version(req.name, req.version, req.description)
    return {"model_version": model_version_to_json(version)}


def transition_model_version_stage(ctx: RequestContext, req: w.TransitionModelVersionStage) -> dict[str, Any]:
    version = _store(ctx).transition_model_version_stage(
        req.name, req.version, req.stage, req.archive_existing_versions, user_id=_who(ctx, req.user_id)
    )
    return {"model_version": model_version_to_json(version)}


def delete_model_version(ctx: RequestContext, req: w.DeleteModelVersion) -> dict[str, Any]:
    _store(ctx).delete_model_version(req.name, req.version, user_id=_who(ctx, req.user_id))
    return {}


def get_model_version(ctx: RequestContext, req: w.GetModelVersion) -> dict[str, Any]:
    return {"model_version": model_version_to_json(_store(ctx).get_model_version(req.name, req.version))}


def search_model_versions(ctx: RequestContext, req: w.SearchModelVersions) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if req.max_results is not None:
        kwargs["max_results"] = req.max_results
    page = _store(ctx).search_model_versions(
        filter_string=req.filter, order_by=req.order_by or None, page_token=req.page_token or None, **kwargs
    )
    out: dict[str, Any] = {}
    if page:
        out["model_versions"] = [model_version_to_json(v) for v in page]
    if page.token:
        out["next_page_token"] = page.token
    return out


def get_model_version_download_uri(ctx: RequestContext, req: w.GetModelVersionDownloadUri) -> dict[str, Any]:
    return {"artifact_uri": _store(ctx).get_model_version_download_uri(req.name, req.version)}


def set_model_version_tag(ctx: RequestContext, req: w.SetModelVersionTag) -> dict[str, Any]:
    _store(ctx).set_model_version_tag(req.name, req.version, req.key, req.value)
    return {}


def delete_model_version_tag(ctx: RequestContext, req: w.DeleteModelVersionTag) -> dict[str, Any]:
    _store(ctx).delete_model_version_tag(req.name, req.version, req.key)
    return {}


# ------------------------------------------------------------------------------------------ audit trail
def get_registry_history(ctx: RequestContext, req: w.GetRegistryHistory) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if req.max_results is not None:
        kwargs["max_results"] = req.max_results
    events = _store(ctx).get_registry_history(req.name, **kwargs)
    return {"events": [registry_event_to_json(e) for e in events]}
