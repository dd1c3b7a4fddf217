"""Routes from the ENDPOINTS table: parse the request MLflow's way, call the handler, answer JSON.

- GET: fields from the query string; repeated keys fill list fields; ``true``/``false`` booleans.
- Other methods: a JSON object body (a double-encoded JSON string is tolerated, as MLflow does); POST and
  PUT must declare ``Content-Type: application/json`` (MLflow's rule); path placeholders are merged in. Malformed JSON, a non-object body or a wrong field type is a 400
  INVALID_PARAMETER_VALUE; unknown fields are ignored. Bodies are bounded by ``max_json_body_bytes``.
- Errors: ``{"error_code", "message"}`` with the status of :data:`bakehouse.errors.HTTP_STATUS`. Anything
  unexpected is logged with its traceback and answered with a generic 500 INTERNAL_ERROR.
"""

from __future__ import annotations

import importlib
import logging
import types
import typing
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from bakehouse.errors import BakehouseError, InvalidParameterError
from bakehouse.server.context import RequestContext
from bakehouse.server.error_boundary import unexpected_error_body
from bakehouse.server.inline import run_short_call
from bakehouse.wire.endpoints import Endpoint

logger = logging.getLogger(__name__)

Handler = Callable[..., Any]
#: ``wrapper(endpoint, handler) -> handler``: how the auth layer adds its checks around every handler.
HandlerWrapper = Callable[[Endpoint, Handler], Handler]

JSON_MEDIA_TYPE = "application/json"


class JSONResponse(Response):
    media_type = JSON_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


#: JSON bodies at least this large are gzip'd for the web UI (``/ajax-api``), which often runs over a real
#: network; API clients on loopback gain nothing from compression and would pay its CPU.
GZIP_MIN_BYTES = 64 * 1024


def json_result(request: Request, result: Any) -> Response:
    body = orjson.dumps(result if result is not None else {})
    if (
        len(body) >= GZIP_MIN_BYTES
        and "/ajax-api/" in request.url.path
        and "gzip" in request.headers.get("accept-encoding", "")
    ):
        import gzip  # only for large UI responses

        return Response(
            gzip.compress(body, compresslevel=1),
            media_type=JSON_MEDIA_TYPE,
            headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"},
        )
    return Response(body, media_type=JSON_MEDIA_TYPE)


def error_response(exc: BakehouseError) -> Response:
    return JSONResponse(exc.to_json(), status_code=exc.http_status)


def unexpected_error_response(exc: BaseException, where: str) -> Response:
    """A 503 TEMPORARILY_UNAVAILABLE when the database could not be reached, else a generic 500 (logged)."""
    status, body = unexpected_error_body(exc, where)
    return JSONResponse(body, status_code=status, headers={"Retry-After": "2"} if status == 503 else None)


def resolve_handler(reference: str) -> Handler:
    module_name, _, function = reference.partition(":")
    module = importlib.import_module(f"bakehouse.server.handlers.{module_name}")
    handler: Handler = getattr(module, function)
    return handler


# ------------------------------------------------------------------------------------------- parsing
def _is_list_annotation(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (list, tuple):
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_is_list_annotation(arg) for arg in typing.get_args(annotation))
    if origin is typing.Annotated:
        return _is_list_annotation(typing.get_args(annotation)[0])
    return False


_LIST_FIELDS: dict[type, frozenset[str]] = {}


def list_fields(model: type[BaseModel]) -> frozenset[str]:
    cached = _LIST_FIELDS.get(model)
    if cached is None:
        names = set()
        for name, info in model.model_fields.items():
            if _is_list_annotation(info.annotation):
                names.add(name)
                if info.alias:
                    names.add(info.alias)
        cached = _LIST_FIELDS[model] = frozenset(names)
    return cached


def query_to_dict(request: Request, model: type[BaseModel] | None) -> dict[str, Any]:
    lists = list_fields(model) if model is not None else frozenset()
    out: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if "\x00" in key:
            raise InvalidParameterError("NUL characters are not allowed in query parameters")
        if value in ("true", "false") and model is not None and _is_bool_field(model, key):
            parsed: Any = value == "true"
        else:
            parsed = value
        if key in lists:
            out.setdefault(key, []).append(parsed)
        else:
            out[key] = parsed
    return out


def _is_bool_field(model: type[BaseModel], key: str) -> bool:
    info = model.model_fields.get(key)
    return info is not None and info.annotation in (bool, bool | None)


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise InvalidParameterError(f"Request body is larger than the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InvalidParameterError(f"Request body is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def check_json_content_type(request: Request) -> None:
    """POST and PUT bodies must be declared JSON, as MLflow requires (same messages).

    Besides compatibility, a browser can send a cross-site form or ``text/plain`` POST without a CORS
    preflight; refusing anything but ``application/json`` keeps such requests away from every JSON endpoint.
    """
    if request.method not in ("POST", "PUT"):
        return
    content_type = request.headers.get("content-type")
    if content_type is None:
        raise InvalidParameterError("Bad Request. Content-Type header is missing.")
    if content_type.split(";", 1)[0].strip().lower() != JSON_MEDIA_TYPE:
        raise InvalidParameterError(f"Bad Request. Content-Type must be one of ['{JSON_MEDIA_TYPE}'].")


def body_to_dict(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
        if isinstance(data, str):  # double-encoded JSON from old clients
            data = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidParameterError(f"Malformed JSON in request body: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidParameterError("The request body must be a JSON object")
    return data


_BRANCH_TAGS = {"float", "int", "str", "bool"}


def _is_branch(part: object) -> bool:
    """pydantic adds union-branch names ('float', 'constrained-int', 'literal[...]') to error locations."""
    return isinstance(part, str) and (part in _BRANCH_TAGS or "-" in part or "[" in part)


def _explain(errors: list[ErrorDetails]) -> str:
    kinds = {str(e.get("type", "")) for e in errors}
    branches = {str(e["loc"][-1]) for e in errors if e.get("loc") and _is_branch(e["loc"][-1])}
    if "float" in branches:
        return 'expected a valid double (a number, or "NaN", "Infinity", "-Infinity")'
    if "constrained-int" in branches or "int_parsing" in kinds:
        too_big = any(t in kinds for t in ("less_than_equal", "greater_than_equal"))
        return "outside the int64 range" if too_big else "expected a 64-bit integer"
    if "string_pattern_mismatch" in kinds:
        return "NUL characters are not allowed"
    if "string_type" in kinds:
        return "expected a string (MLflow's protocol sends ids, names and values as JSON strings)"
    return "; ".join(str(e.get("msg", "invalid")) for e in errors[:2])


def validation_message(exc: ValidationError) -> str:
    by_field: dict[str, list[ErrorDetails]] = {}
    inputs: dict[str, Any] = {}
    for error in exc.errors(include_url=False):
        loc = [p for p in error.get("loc", ()) if not _is_branch(p)]
        location = ".".join(str(p) for p in loc)
        if error.get("type") == "missing":
            return (
                f"Missing value for required parameter '{location}'. See the API docs for more information about "
                "request parameters."
            )
        by_field.setdefault(location, []).append(error)
        inputs.setdefault(location, error.get("input"))
    parts = []
    for location, errors in list(by_field.items())[:5]:
        shown = repr(inputs[location])
        if len(shown) > 100:
            shown = shown[:100] + "..."
        parts.append(f"Invalid value {shown} for parameter '{location}': {_explain(errors)}")
    return "; ".join(parts) or "Invalid request"


def parse_request(model: type[BaseModel], data: dict[str, Any]) -> BaseModel:
    fast = getattr(model, "fast_validate", None)  # a message's shortcut for its common plain shape
    if fast is not None:
        parsed: BaseModel | None = fast(data)
        if parsed is not None:
            return parsed
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidParameterError(validation_message(exc)) from None


# ------------------------------------------------------------------------------------------ endpoints
def make_context(request: Request) -> RequestContext:
    state = request.app.state
    return RequestContext(
        tracking_store=state.tracking_store,
        registry_store=getattr(state, "registry_store", None),
        settings=state.config,
        username=getattr(request.state, "username", None),
        is_admin=bool(getattr(request.state, "is_admin", False)),
        request=request,
    )


def json_endpoint(
    endpoint: Endpoint, handler: Handler, inline: bool = False
) -> Callable[[Request], Awaitable[Response]]:
    """``inline``: the handler may run on the event loop when the store allows it (``server.inline``)."""
    model = endpoint.request_model()

    async def run(request: Request) -> Response:
        try:
            if request.method in ("GET", "HEAD"):
                data = query_to_dict(request, model)
            else:
                check_json_content_type(request)
                data = body_to_dict(await read_body(request, request.app.state.config.max_json_body_bytes))
            if request.path_params:
                data.update(request.path_params)
            parsed = parse_request(model, data) if model is not None else None
            ctx = make_context(request)
            if inline:
                result = await run_short_call(ctx.tracking_store, handler, ctx, parsed)
            else:
                result = await run_in_threadpool(handler, ctx, parsed)
            if isinstance(result, Response):
                return result
            return json_result(request, result)
        except BakehouseError as exc:
            return error_response(exc)
        except Exception as exc:  # noqa: BLE001 - logged and answered as JSON by unexpected_error_response
            return unexpected_error_response(exc, f"{request.method} {request.url.path}")

    return run


def raw_endpoint(endpoint: Endpoint, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        try:
            response: Response = await handler(make_context(request), request)
            return response
        except BakehouseError as exc:
            return error_response(exc)
        except ClientDisconnect:  # an upload cut short: the partial file was discarded, nobody is listening
            logger.info("Client went away during %s %s", request.method, request.url.path)
            return Response(status_code=499)
        except Exception as exc:  # noqa: BLE001 - logged and answered as JSON by unexpected_error_response
            return unexpected_error_response(exc, f"{request.method} {request.url.path}")

    return run


def api_prefixes(endpoint: Endpoint, static_prefix: str) -> list[str]:
    if endpoint.root:
        return [static_prefix]
    return [f"{static_prefix}/api/{endpoint.version}", f"{static_prefix}/ajax-api/{endpoint.version}"]


def routes_for(
    endpoints: list[Endpoint],
    static_prefix: str,
    wrapper: HandlerWrapper | None = None,
    ajax_only: bool = False,
) -> list[Route]:
    routes: list[Route] = []
    for endpoint in endpoints:
        handler = resolve_handler(endpoint.handler)
        if wrapper is not None:
            handler = wrapper(endpoint, handler)
        if endpoint.raw:
            app = raw_endpoint(endpoint, handler)
        else:  # an auth wrapper may reach its own database: then always on a worker thread
            app = json_endpoint(endpoint, handler, inline=endpoint.inline and wrapper is None)
        prefixes = api_prefixes(endpoint, static_prefix)
        if ajax_only and not endpoint.root:
            prefixes = prefixes[1:]
        for prefix in prefixes:
            routes.append(Route(prefix + endpoint.path, app, methods=list(endpoint.methods), name=None))
    return routes
