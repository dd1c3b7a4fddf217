"""The security middleware: Host allow-list, CORS closed to foreign origins, security headers.

CORS headers go to the server's own origin and to the origins named with ``--cors-allowed-origins`` only:
another port on localhost is another origin (any local program, or a page that rebinds its DNS name to
127.0.0.1, can serve one), so it gets nothing unless named.

Written as plain ASGI (no BaseHTTPMiddleware) because it runs on every logging call.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import orjson

from bakehouse.server.config import ServerConfig

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_CORS_METHODS = b"GET, POST, PUT, PATCH, DELETE, OPTIONS"
_CORS_HEADERS = b"Content-Type, Authorization"


def _header(scope: Scope, name: bytes) -> str | None:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


async def _deny(send: Send, status: int, code: str, message: str) -> None:
    body = orjson.dumps({"error_code": code, "message": message})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, config: ServerConfig) -> None:
        self.app = app
        self.config = config
        self.origins = [origin.lower() for origin in config.cors_allowed_origins]
        extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
        if config.x_frame_options.upper() != "NONE":
            extra.append((b"x-frame-options", config.x_frame_options.upper().encode()))
        self.extra_headers = extra

    def origin_allowed(self, origin: str, host: str | None) -> bool:
        """The server's own origin (scheme http or https, the request's own Host), or a named one."""
        if "*" in self.origins:
            return True
        try:
            parts = urlsplit(origin)
        except ValueError:
            return False
        if host and parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower():
            return True
        return any(fnmatch.fnmatchcase(origin.lower(), pattern) for pattern in self.origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host")
        if host is None or not self.config.host_allowed(host):
            logger.warning("Refused a request with Host header %r", host)
            await _deny(
                send,
                403,
                "PERMISSION_DENIED",
                f"Invalid Host header {host!r}: start the server with --allowed-hosts to accept it.",
            )
            return
        origin = _header(scope, b"origin")
        cors_ok = origin is not None and self.origin_allowed(origin, host)
        method = scope["method"]
        if origin is not None and not cors_ok and (method == "OPTIONS" or method in _STATE_CHANGING):
            await _deny(send, 403, "PERMISSION_DENIED", f"Cross-origin request from {origin!r} refused.")
            return
        if method == "OPTIONS" and origin is not None and _header(scope, b"access-control-request-method"):
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": [
                        (b"access-control-allow-origin", origin.encode("latin-1")),
                        (b"access-control-allow-methods", _CORS_METHODS),
                        (b"access-control-allow-headers", _CORS_HEADERS),
                        (b"access-control-max-age", b"600"),
                        (b"vary", b"Origin"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        extra = list(self.extra_headers)
        if cors_ok and origin is not None:
            extra += [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                existing = {k.lower() for k, _ in message.get("headers", ())}
                message["headers"] = list(message.get("headers", ())) + [
                    (k, v) for k, v in extra if k not in existing
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)
