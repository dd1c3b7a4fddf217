"""Routes that are not RPCs: health, version, server info, the OpenAPI document, raw artifact bytes for the UI."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bakehouse.errors import BakehouseError, InvalidParameterError
from bakehouse.server.context import RequestContext
from bakehouse.server.handlers.artifacts import stream_response
from bakehouse.server.handlers.probes import metrics, ready
from bakehouse.server.routing import JSONResponse, error_response, make_context, unexpected_error_response
from bakehouse.store.artifacts.paths import safe_relative_path
from bakehouse.version import __version__
from bakehouse.wire.endpoints import Endpoint

logger = logging.getLogger(__name__)


async def health(request: Request) -> Response:
    return PlainTextResponse("OK")


#: What ``/version`` answers: the MLflow release whose REST API this server speaks, with Bakehouse's own
#: version as the PEP 440 local part. MLflow's client reads it to decide what the server can do (3.4 and
#: later: spans go to ``/v1/traces`` and stay in the tracking store).
MLFLOW_API_VERSION = "3.17.2"
SERVER_VERSION = f"{MLFLOW_API_VERSION}+bakehouse.{__version__}"


async def version(request: Request) -> Response:
    return PlainTextResponse(SERVER_VERSION)


async def server_info(request: Request) -> Response:
    config = request.app.state.config
    store = request.app.state.tracking_store
    return JSONResponse(
        {
            "store_type": "SqlStore" if type(store).__name__.startswith("Sql") else type(store).__name__,
            "workspaces_enabled": False,
            "trace_archival_enabled": False,
            "otlp_traces_enabled": True,
            "artifact_serving_enabled": bool(config.serve_artifacts),
            "multipart_uploads_enabled": False,
            "multipart_downloads_enabled": False,
            "presigned_upload_run_id_supported": False,
            "presigned_upload_model_id_supported": False,
            "server": "bakehouse",
            "version": __version__,
        }
    )


async def _artifact_bytes(
    request: Request, raw_path: str | None, uri_of: Callable[[RequestContext], str]
) -> Response:
    """Shared body of the UI download routes: resolve the owner's artifact URI, stream one file."""
    try:
        path = safe_relative_path(raw_path)
        if not path:
            raise InvalidParameterError("Missing value for required parameter 'path'.")
        ctx = make_context(request)

        def open_stream() -> Any:
            repo = request.app.state.artifact_access.repo_for_uri(uri_of(ctx))
            return repo.open_read(path)

        stream = await anyio.to_thread.run_sync(open_stream)
        return stream_response(stream, path, inline=True)
    except BakehouseError as exc:
        return error_response(exc)
    except Exception as exc:  # noqa: BLE001 - logged and answered as JSON by unexpected_error_response
        return unexpected_error_response(exc, request.url.path)


async def get_artifact(request: Request) -> Response:
    """``/get-artifact?path=&run_uuid=``: raw bytes of a run artifact (the UI's file viewer)."""
    run_id = request.query_params.get("run_uuid") or request.query_params.get("run_id")

    def uri(ctx: RequestContext) -> str:
        if not run_id:
            raise InvalidParameterError("Missing value for required parameter 'run_uuid'.")
        return ctx.tracking_store.get_run(run_id).info.artifact_uri

    return await _artifact_bytes(request, request.query_params.get("path"), uri)


async def get_logged_model_artifact(request: Request) -> Response:
    """``/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files?artifact_file_path=``."""
    model_id = request.path_params["model_id"]
    raw_path = request.query_params.get("artifact_file_path") or request.query_params.get("path")

    def uri(ctx: RequestContext) -> str:
        return ctx.tracking_store.get_logged_model(model_id).artifact_location

    return await _artifact_bytes(request, raw_path, uri)


# ------------------------------------------------------------------------------------------- OpenAPI
_PLACEHOLDER = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)(?::[a-z]+)?\}")


def openapi_document(endpoints: list[Endpoint], static_prefix: str = "") -> dict[str, Any]:
    """OpenAPI 3.1 from the ENDPOINTS table (the same rows the router and the REST stores use)."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for ep in endpoints:
        base = static_prefix if ep.root else f"{static_prefix}/api/{ep.version}"
        path = base + _PLACEHOLDER.sub(r"{\1}", ep.path)
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _PLACEHOLDER.findall(ep.path)
        ]
        for method in ep.methods:
            operation: dict[str, Any] = {
                "operationId": ep.name if method == ep.method else f"{ep.name}{method.title()}",
                "summary": ep.summary or ep.name,
                "responses": {
                    "200": {
                        "description": "Success",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "default": {
                        "description": "Error",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    },
                },
            }
            if ep.permission[0] is not None:
                operation["x-permission"] = list(ep.permission)
            if params:
                operation["parameters"] = list(params)
            request_model = ep.request_model()
            if request_model is not None:
                schema = request_model.model_json_schema(ref_template="#/components/schemas/{model}")
                for name, sub in schema.pop("$defs", {}).items():
                    schemas[name] = sub
                schemas[request_model.__name__] = schema
                ref = {"$ref": f"#/components/schemas/{request_model.__name__}"}
                if method in ("GET", "HEAD"):
                    operation["parameters"] = operation.get("parameters", []) + [
                        {
                            "name": name,
                            "in": "query",
                            "required": name in schema.get("required", ()),
                            "schema": prop,
                        }
                        for name, prop in schema.get("properties", {}).items()
                        if name not in {p["name"] for p in params}
                    ]
                else:
                    operation["requestBody"] = {"content": {"application/json": {"schema": ref}}}
            elif ep.raw and ep.root:
                operation["requestBody"] = {
                    "content": {
                        "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
                        "application/json": {"schema": {"type": "object"}},
                    }
                }
            elif ep.raw and method == "PUT":
                operation["requestBody"] = {
                    "content": {
                        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                    }
                }
            paths.setdefault(path, {})[method.lower()] = operation
    schemas["Error"] = {
        "type": "object",
        "properties": {"error_code": {"type": "string"}, "message": {"type": "string"}},
        "required": ["error_code", "message"],
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Bakehouse tracking server (MLflow-compatible REST API)", "version": __version__},
        "paths": paths,
        "components": {"schemas": schemas},
    }


async def openapi(request: Request) -> Response:
    state = request.app.state
    if getattr(state, "openapi", None) is None:  # built on first request: start-up stays fast
        state.openapi = openapi_document(state.endpoints, state.config.static_prefix)
    return JSONResponse(state.openapi)


def meta_routes(static_prefix: str, artifacts_only: bool = False) -> list[BaseRoute]:
    p = static_prefix
    routes: list[BaseRoute] = [
        Route(p + "/health", health, methods=["GET"]),
        Route(p + "/ready", ready, methods=["GET"]),
        Route(p + "/metrics", metrics, methods=["GET"]),
        Route(p + "/version", version, methods=["GET"]),
        Route(p + "/api/3.0/mlflow/server-info", server_info, methods=["GET"]),
        Route(p + "/ajax-api/3.0/mlflow/server-info", server_info, methods=["GET"]),
        Route(p + "/api/2.0/openapi.json", openapi, methods=["GET"]),
    ]
    if not artifacts_only:
        routes += [
            Route(p + "/get-artifact", get_artifact, methods=["GET"]),
            Route(
                p + "/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files",
                get_logged_model_artifact,
                methods=["GET"],
            ),
        ]
    return routes
