"""The last line: whatever escapes a handler or a middleware is answered with the documented JSON error.

Handlers already turn Bakehouse errors into ``{"error_code", "message"}``; this catches the rest (a
database that went away while the authentication layer looked up a user, a bug) so that no client ever
gets Starlette's plain-text "Internal Server Error". An unreachable database is a 503
TEMPORARILY_UNAVAILABLE, which clients retry; anything else is a 500 with the traceback in the log only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from bakehouse.errors import ErrorCode
from bakehouse.store.db.transactions import database_unavailable

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]

DATABASE_UNAVAILABLE_MESSAGE = "The database is unavailable; try again shortly."
INTERNAL_ERROR_MESSAGE = "Internal server error; see the server log."


def unexpected_error_body(exc: BaseException, where: str) -> tuple[int, dict[str, str]]:
    """Status and JSON body for an exception no handler expected, logged here once."""
    if database_unavailable(exc):
        logger.warning("Database unavailable during %s: %s", where, " ".join(str(exc).split())[:300])
        return 503, {
            "error_code": ErrorCode.TEMPORARILY_UNAVAILABLE.value,
            "message": DATABASE_UNAVAILABLE_MESSAGE,
        }
    logger.error("Unhandled error in %s", where, exc_info=exc)
    return 500, {"error_code": ErrorCode.INTERNAL_ERROR.value, "message": INTERNAL_ERROR_MESSAGE}


class ErrorBoundaryMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:  # half a response is out: nothing valid can follow, the connection just ends
                raise
            status, body = unexpected_error_body(exc, f"{scope.get('method')} {scope.get('path')}")
            payload = orjson.dumps(body)
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ]
            if status == 503:
                headers.append((b"retry-after", b"2"))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": payload})
