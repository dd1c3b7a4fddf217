"""Routes of the web UI: the page, its static files and the UI-only JSON helpers.

``ui_routes()`` is mounted by the server application. Every path gets ``static_prefix`` in front of it
(the SPA only uses relative URLs, so it works under any prefix).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bakehouse.errors import BakehouseError
from bakehouse.server.ui import queries, table_query
from bakehouse.server.ui.assets import AssetCache
from bakehouse.store.validation import MAX_KEY_LENGTH

_assets = AssetCache()

#: The page only ever loads its own code; user content (HTML artifacts) goes into sandboxed iframes.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; frame-src 'self' blob: data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)
HELPER_PREFIX = "/ajax-api/2.0/bakehouse"
#: what an experiment id of the SQL store looks like (ASCII digits, within the integer column)
_EXPERIMENT_ID = re.compile(r"[0-9]{1,10}")
MAX_HISTORY_RUNS = 100
MAX_POINTS = 20000


def ui_routes(static_prefix: str = "") -> list[BaseRoute]:
    """The UI's routes, each under ``static_prefix`` (e.g. ``"/mlflow"``; empty for none)."""
    p = static_prefix.rstrip("/")
    routes: list[BaseRoute] = [
        Route(p + "/", index, methods=["GET", "HEAD"]),
        Route(p + "/index.html", index, methods=["GET", "HEAD"]),
        Route(p + "/static-files/{path:path}", static_file, methods=["GET", "HEAD"]),
        Route(p + HELPER_PREFIX + "/experiments/keys", _nul_free(experiment_keys), methods=["GET"]),
        Route(p + HELPER_PREFIX + "/metrics/runs-with-metric", _nul_free(runs_with_metric), methods=["GET"]),
        Route(
            p + HELPER_PREFIX + "/metrics/history-downsampled",
            _nul_free(history_downsampled),
            methods=["GET"],
        ),
        Route(p + HELPER_PREFIX + "/runs/table", _nul_free(runs_table), methods=["GET"]),
        Route(p + HELPER_PREFIX + "/permissions/mine", my_permissions, methods=["GET"]),
    ]
    if p:
        routes.append(Route(p, lambda request: RedirectResponse(p + "/"), methods=["GET"]))
    return routes


# ------------------------------------------------------------------------------------------ page + files


async def index(request: Request) -> Response:
    asset = _assets.get("index.html")
    if asset is None:  # pragma: no cover - a broken install
        return Response("The Bakehouse UI files are missing from this installation.", status_code=500)
    # whether sign-in exists here: without --auth the page never asks for a session (no 404 per page load)
    config = getattr(request.app.state, "config", None)
    auth = b"on" if config is not None and getattr(config, "app_name", None) else b"off"
    body = asset.body.replace(b"__BUILD__", _assets.build_id.encode()).replace(b"__AUTH__", auth)
    return Response(
        body,
        media_type="text/html; charset=utf-8",
        headers={
            "Cache-Control": "no-cache",
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )


async def static_file(request: Request) -> Response:
    path: str = request.path_params["path"]
    first, _, rest = path.partition("/")
    versioned = first.startswith("b") and len(first) == 13 and bool(rest)
    if versioned:
        path = rest
    asset = await run_in_threadpool(_assets.get, path)
    if asset is None:
        return Response("Not found", status_code=404, media_type="text/plain")
    headers = {
        "ETag": asset.etag,
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "public, max-age=31536000, immutable" if versioned else "no-cache",
        "Vary": "Accept-Encoding",
    }
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    body = asset.body
    if asset.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=asset.content_type, headers=headers)


# ------------------------------------------------------------------------------------------ JSON helpers


def _json(payload: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status_code, media_type="application/json")


def _error(code: str, message: str, status_code: int) -> Response:
    return _json({"error_code": code, "message": message}, status_code)


def _engine(request: Request) -> Any:
    store = getattr(request.app.state, "tracking_store", None)
    return getattr(store, "engine", None)


def _not_sql() -> Response:
    return _error("NOT_IMPLEMENTED", "This helper needs a SQL tracking store.", 501)


Helper = Callable[[Request], Awaitable[Response]]


def _nul_free(helper: Helper) -> Helper:
    """Refuse a NUL in any query parameter before a helper runs (PostgreSQL cannot compare text holding NUL;
    the RPC routes refuse it through their wire messages)."""

    async def checked(request: Request) -> Response:
        if any("\x00" in key or "\x00" in value for key, value in request.query_params.multi_items()):
            return _error(
                "INVALID_PARAMETER_VALUE", "NUL characters are not allowed in query parameters.", 400
            )
        return await helper(request)

    return checked


def _ids(request: Request, name: str) -> list[str] | Response:
    values = request.query_params.getlist(name)
    ids = [v for raw in values for v in raw.split(",") if v]
    if not ids:
        return _error("INVALID_PARAMETER_VALUE", f"Missing value for required parameter '{name}'.", 400)
    return ids


def _view(request: Request) -> str:
    view = request.query_params.get("view_type", "ACTIVE_ONLY").upper()
    return view if view in ("ACTIVE_ONLY", "DELETED_ONLY", "ALL") else "ACTIVE_ONLY"


def _engine_and_experiments(request: Request) -> tuple[Any, list[str]] | Response:
    """The SQL engine and the numeric ``experiment_ids`` of a helper request, or the error response."""
    engine = _engine(request)
    if engine is None:
        return _not_sql()
    ids = _ids(request, "experiment_ids")
    if isinstance(ids, Response):
        return ids
    if not all(_EXPERIMENT_ID.fullmatch(i.strip()) for i in ids):
        return _error("INVALID_PARAMETER_VALUE", "experiment_ids must be numeric experiment ids.", 400)
    return engine, ids


async def experiment_keys(request: Request) -> Response:
    """GET ?experiment_ids=1&experiment_ids=2 → {metric_keys, param_keys, tag_keys, run_count}."""
    checked = _engine_and_experiments(request)
    if isinstance(checked, Response):
        return checked
    engine, ids = checked
    return _json(await run_in_threadpool(queries.experiment_keys, engine, ids, _view(request)))


async def runs_with_metric(request: Request) -> Response:
    """GET ?experiment_ids=1&metric_key=loss → {run_ids: [...]}."""
    checked = _engine_and_experiments(request)
    if isinstance(checked, Response):
        return checked
    engine, ids = checked
    key = request.query_params.get("metric_key")
    if not key:
        return _error("INVALID_PARAMETER_VALUE", "Missing value for required parameter 'metric_key'.", 400)
    run_ids = await run_in_threadpool(queries.runs_with_metric, engine, ids, key, _view(request))
    return _json({"run_ids": run_ids})


async def history_downsampled(request: Request) -> Response:
    """GET ?run_ids=a&run_ids=b&metric_key=loss&max_points=2000&x_axis=step → {series: [...]}.

    Each series holds parallel arrays ``steps``, ``timestamps``, ``values`` (bucket mean), ``mins`` and
    ``maxs`` (the bucket's envelope), plus ``total`` (points stored) and ``downsampled``.
    """
    engine = _engine(request)
    if engine is None:
        return _not_sql()
    run_ids = _ids(request, "run_ids")
    if isinstance(run_ids, Response):
        return run_ids
    if len(run_ids) > MAX_HISTORY_RUNS:
        return _error("INVALID_PARAMETER_VALUE", f"At most {MAX_HISTORY_RUNS} run_ids per request.", 400)
    key = request.query_params.get("metric_key")
    if not key:
        return _error("INVALID_PARAMETER_VALUE", "Missing value for required parameter 'metric_key'.", 400)
    try:
        max_points = int(request.query_params.get("max_points", "2000"))
    except ValueError:
        return _error("INVALID_PARAMETER_VALUE", "max_points must be an integer.", 400)
    max_points = max(10, min(MAX_POINTS, max_points))
    axis = request.query_params.get("x_axis", "step")

    def load() -> list[dict[str, Any]]:
        return [queries.downsampled_history(engine, run_id, key, max_points, axis) for run_id in run_ids]

    return _json({"series": await run_in_threadpool(load)})


async def runs_table(request: Request) -> Response:
    """GET ?experiment_ids=1&filter=...&run_view_type=ACTIVE_ONLY&order_by=...&max_results=1000&page_token=...
    [&include=params,metrics][&param_keys=a&param_keys=b&metric_keys=x&tag_keys=t][&run_fields=run_name]
    [&total=true]

    One page of ``runs/search`` (same selection, order and page tokens) as columns: see ``table_query``.
    ``include`` names the key groups to send whole; ``param_keys`` / ``metric_keys`` / ``tag_keys``
    (repeatable, one exact key each) send only those keys of their group. Without any ``*_keys`` the
    default ``include`` is all three groups, with them none (a group is named one way or the other, not
    both). ``run_fields`` (default: all) names the run columns to send besides ``run_id``.
    ``total=true`` adds the match count.
    The experiment ids are query parameters so that, with ``--auth``, the middleware checks READ on each.
    """
    checked = _engine_and_experiments(request)
    if isinstance(checked, Response):
        return checked
    engine, ids = checked
    qp = request.query_params
    try:
        max_results = int(qp.get("max_results", "1000"))
    except ValueError:
        return _error("INVALID_PARAMETER_VALUE", "max_results must be an integer.", 400)
    if not 1 <= max_results <= table_query.MAX_RESULTS:
        return _error(
            "INVALID_PARAMETER_VALUE",
            f"max_results must be between 1 and {table_query.MAX_RESULTS}, got {max_results}.",
            400,
        )
    view = qp.get("run_view_type", "ACTIVE_ONLY").upper()
    if view not in ("ACTIVE_ONLY", "DELETED_ONLY", "ALL"):
        return _error("INVALID_PARAMETER_VALUE", f"Invalid run_view_type {view!r}.", 400)
    order_by = [o for o in qp.getlist("order_by") if o]
    keys = _table_keys(request)
    if isinstance(keys, Response):
        return keys
    include = _named(request, "include", table_query.KEY_GROUPS, () if keys else table_query.KEY_GROUPS)
    if isinstance(include, Response):
        return include
    run_fields = _named(request, "run_fields", tuple(table_query.RUN_FIELDS), tuple(table_query.RUN_FIELDS))
    if isinstance(run_fields, Response):
        return run_fields
    both = [g for g in include if g in keys]
    if both:
        return _error(
            "INVALID_PARAMETER_VALUE",
            f"{both[0]} is named both in include (every key) and by {both[0][:-1]}_keys (some keys); "
            "give one or the other.",
            400,
        )
    with_total = qp.get("total", "false").lower()
    if with_total not in ("true", "false"):
        return _error("INVALID_PARAMETER_VALUE", f"total must be true or false, got {with_total!r}.", 400)
    try:
        out = await run_in_threadpool(
            table_query.runs_table,
            engine,
            [i.strip() for i in ids],
            qp.get("filter") or None,
            view,
            order_by,
            max_results,
            qp.get("page_token") or None,
            include,
            with_total == "true",
            keys,
            run_fields,
        )
    except BakehouseError as exc:
        return _json(exc.to_json(), exc.http_status)
    return _json(out)


def _named(
    request: Request, name: str, allowed: tuple[str, ...], default: tuple[str, ...]
) -> list[str] | Response:
    """A comma-separated choice among ``allowed`` (``include``, ``run_fields``), or the 400 response."""
    raw_value = request.query_params.get(name)
    names = list(default) if raw_value is None else [v.strip() for v in raw_value.split(",") if v.strip()]
    unknown = [v for v in names if v not in allowed]
    if unknown:
        return _error(
            "INVALID_PARAMETER_VALUE",
            f"{name} may only name {', '.join(allowed)}; got {', '.join(unknown)!r}.",
            400,
        )
    return names


def _table_keys(request: Request) -> dict[str, list[str]] | Response:
    """The exact keys asked of runs/table (``param_keys`` / ``metric_keys`` / ``tag_keys``, repeatable, one
    key per value: keys are never split, whatever they hold), by group; bounded in number and length."""
    keys: dict[str, list[str]] = {}
    for group in table_query.KEY_GROUPS:
        name = f"{group[:-1]}_keys"
        values = request.query_params.getlist(name)
        if not values:
            continue
        for key in values:
            if not key or len(key) > MAX_KEY_LENGTH:
                return _error(
                    "INVALID_PARAMETER_VALUE",
                    f"Each {name} value must be one key of 1 to {MAX_KEY_LENGTH} characters; "
                    f"got {len(key)} characters.",
                    400,
                )
        keys[group] = list(dict.fromkeys(values))
    count = sum(len(v) for v in keys.values())
    if count > table_query.MAX_KEYS:
        return _error(
            "INVALID_PARAMETER_VALUE",
            f"At most {table_query.MAX_KEYS} keys per request (param_keys, metric_keys and tag_keys "
            f"together), got {count}; ask for whole groups with include= instead.",
            400,
        )
    return keys


async def my_permissions(request: Request) -> Response:
    """GET -> what the signed-in user may do, so the UI can hide the writes the server would refuse.

    ``{"auth": false}`` on a server without authentication. With ``--auth``: ``{"auth": true, "user",
    "is_admin", "default_permission", "experiments": {id: level}, "registered_models": {name: level}}``;
    a resource without an explicit grant has the server's default permission (admins may do everything).
    """
    runtime = getattr(request.state, "auth", None)
    username = getattr(request.state, "username", None)
    user_id = getattr(request.state, "user_id", None)
    if runtime is None or user_id is None:
        return _json({"auth": False})

    def load() -> dict[str, Any]:
        grants = runtime.store.list_permissions(int(user_id))
        return {
            "auth": True,
            "user": username,
            "is_admin": bool(getattr(request.state, "is_admin", False)),
            "default_permission": runtime.checker.default_permission.value,
            "experiments": {str(rid): str(perm) for rt, rid, perm in grants if rt == "experiment"},
            "registered_models": {
                str(rid): str(perm) for rt, rid, perm in grants if rt == "registered_model"
            },
        }

    return _json(await run_in_threadpool(load))
