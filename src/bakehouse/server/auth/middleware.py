"""Authentication for every route: HTTP Basic, bearer API tokens, or a signed browser session.

Only ``/health``, ``/ready``, ``/metrics`` (probes and scrapers carry no credentials), the UI's static
shell and the login endpoints answer without credentials. Failed credentials count against the client's
address (``LoginThrottle``); requests over the per-client rate get 429 with ``Retry-After``. Verified
credentials are cached briefly (keyed by a hash, never the secret) so the Argon2 check is not paid on every
call of a tight logging loop.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import anyio

from bakehouse.errors import BakehouseError, RateLimitedError
from bakehouse.server.auth.permissions import Caller
from bakehouse.server.auth.runtime import AuthRuntime
from bakehouse.server.auth.sessions import COOKIE_NAME, CSRF_HEADER, SESSION_SECONDS
from bakehouse.server.auth.throttle import LoginThrottle
from bakehouse.store.auth import User

logger = logging.getLogger(__name__)

ASGIApp = Callable[..., Awaitable[None]]
CACHE_SECONDS = 30.0
LOGIN_PATH = "/bakehouse/auth/login"
LOGOUT_PATH = "/bakehouse/auth/logout"
SESSION_PATH = "/bakehouse/auth/session"
PUBLIC_PATHS = ("/health", "/ready", "/metrics", "/favicon.ico", "/", "/index.html")
PUBLIC_PREFIXES = ("/static-files/",)
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def _json_response(
    status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
) -> Any:
    payload = json.dumps(body).encode()

    async def respond(send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    *(headers or []),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    return respond


class AuthMiddleware:
    def __init__(self, app: ASGIApp, runtime: AuthRuntime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        runtime = self.runtime
        path = scope.get("path", "")
        prefix = runtime.static_prefix
        if prefix and path.startswith(prefix):
            path = path[len(prefix) :] or "/"
        client = (scope.get("client") or ("unknown", 0))[0]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}

        wait = runtime.rate_limiter.check(client)
        if wait > 0:
            await self._too_many(send, wait, "Too many requests from this client")
            return
        if path == LOGIN_PATH and scope["method"] == "POST":
            await self._login(scope, receive, send, client, headers)
            return
        if path == LOGOUT_PATH:
            await self._logout(scope, send)
            return
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return

        try:
            user, via_cookie, csrf = await self._authenticate(headers, client)
        except _Throttled as throttled:
            await self._too_many(send, throttled.seconds, throttled.message)
            return
        if user is None:
            await self._unauthenticated(send, path)
            return
        if (
            via_cookie
            and scope["method"] in UNSAFE_METHODS
            and not (csrf and hmac.compare_digest(headers.get(CSRF_HEADER, "").encode(), csrf.encode()))
        ):
            await _json_response(
                403,
                {
                    "error_code": "PERMISSION_DENIED",
                    "message": "Missing or wrong CSRF token (X-CSRF-Token header)",
                },
            )(send)
            return
        if path == SESSION_PATH:
            await _json_response(200, {"user": user.to_json(), "csrf_token": csrf or ""})(send)
            return
        state = scope.setdefault("state", {})
        state.update(username=user.username, user_id=user.id, is_admin=user.is_admin, auth=runtime)
        try:
            await anyio.to_thread.run_sync(
                runtime.check_non_rpc_route, path, scope, Caller(user.id, user.username, user.is_admin)
            )
        except BakehouseError as exc:
            await _json_response(exc.http_status, exc.to_json())(send)
            return
        await self.app(scope, receive, send)

    # ----------------------------------------------------------------------------------- credentials
    async def _authenticate(
        self, headers: dict[str, str], client: str
    ) -> tuple[User | None, bool, str | None]:
        runtime = self.runtime
        authorization = headers.get("authorization", "")
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "basic" and value:
            try:
                username, _, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                self._check_throttle(client, LoginThrottle.MALFORMED)
                runtime.throttle.failed(client, LoginThrottle.MALFORMED)
                return None, False, None
            return await self._check_password(username, password, client), False, None
        if scheme.lower() == "bearer" and value:
            return await self._check_token(value.strip(), client), False, None
        cookie = _cookie(headers.get("cookie", ""), COOKIE_NAME)
        if cookie:
            session = runtime.signer.verify(cookie)
            if session is None:
                return None, True, None
            user = await anyio.to_thread.run_sync(runtime.session_user, session.user_id, session.generation)
            return user, True, session.csrf
        return None, False, None

    def _check_throttle(self, client: str, identity: str) -> None:
        """Raise _Throttled while this address (or this address and user name) must wait."""
        wait, message = self.runtime.throttle.retry_after(client, identity)
        if wait > 0:
            raise _Throttled(wait, message)

    async def _check_password(self, username: str, password: str, client: str) -> User | None:
        runtime = self.runtime
        self._check_throttle(client, username)  # before the cache: a throttled client gets no answer at all
        key = "p:" + hashlib.sha256(f"{username}\x00{password}".encode()).hexdigest()
        cached = runtime.cache.get(key)
        if cached is not None:
            return cached
        user = await anyio.to_thread.run_sync(runtime.store.authenticate, username, password)
        if user is None:
            runtime.throttle.failed(client, username)
            logger.warning("Failed login for user %r from %s", username, client)
            return None
        runtime.throttle.succeeded(client, username)
        runtime.cache.put(key, user, CACHE_SECONDS)
        return user

    async def _check_token(self, token: str, client: str) -> User | None:
        """Tokens are checked against the database every time (one indexed lookup of a SHA-256), so a
        revoked or expired token stops working at once, on every server process."""
        runtime = self.runtime
        self._check_throttle(client, LoginThrottle.TOKEN)
        user = await anyio.to_thread.run_sync(runtime.store.authenticate_token, token)
        if user is None:
            runtime.throttle.failed(client, LoginThrottle.TOKEN)
            logger.warning("Rejected API token from %s", client)
            return None
        return user

    # --------------------------------------------------------------------------------- login/logout
    async def _login(
        self, scope: dict[str, Any], receive: Any, send: Any, client: str, headers: dict[str, str]
    ) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > 16384:
                await _json_response(
                    413, {"error_code": "INVALID_PARAMETER_VALUE", "message": "Body too large"}
                )(send)
                return
            if not message.get("more_body"):
                break
        try:
            if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                form = parse_qs(body.decode())
                username, password = form.get("username", [""])[0], form.get("password", [""])[0]
            else:
                data = json.loads(body or b"{}")
                username, password = str(data.get("username", "")), str(data.get("password", ""))
        except (ValueError, UnicodeDecodeError, AttributeError):
            await _json_response(
                400, {"error_code": "INVALID_PARAMETER_VALUE", "message": "Malformed login request"}
            )(send)
            return
        try:
            user = await self._check_password(username, password, client)
        except _Throttled as throttled:
            await self._too_many(send, throttled.seconds, throttled.message)
            return
        if user is None:
            await _json_response(
                401, {"error_code": "UNAUTHENTICATED", "message": "Wrong username or password"}
            )(send)
            return
        found = await anyio.to_thread.run_sync(self.runtime.store.get_user_with_generation, user.id)
        if found is None:
            await _json_response(
                401, {"error_code": "UNAUTHENTICATED", "message": "Wrong username or password"}
            )(send)
            return
        cookie, session = self.runtime.signer.issue(user.id, found[1])
        secure = (
            "; Secure"
            if scope.get("scheme") == "https" or headers.get("x-forwarded-proto") == "https"
            else ""
        )
        set_cookie = (
            f"{COOKIE_NAME}={cookie}; Path={self.runtime.static_prefix or '/'}; HttpOnly; SameSite=Strict; "
            f"Max-Age={SESSION_SECONDS}{secure}"
        )
        await _json_response(
            200, {"user": user.to_json(), "csrf_token": session.csrf}, [(b"set-cookie", set_cookie.encode())]
        )(send)

    async def _logout(self, scope: dict[str, Any], send: Any) -> None:
        clear = (
            f"{COOKIE_NAME}=; Path={self.runtime.static_prefix or '/'}; HttpOnly; SameSite=Strict; Max-Age=0"
        )
        await _json_response(200, {}, [(b"set-cookie", clear.encode())])(send)

    # ----------------------------------------------------------------------------------- responses
    async def _unauthenticated(self, send: Any, path: str) -> None:
        # The web UI's own calls get no WWW-Authenticate, so the browser shows our sign-in form, not its dialog.
        from_ui = path.startswith(("/ajax-api/", "/bakehouse/auth/"))
        extra = [] if from_ui else [(b"www-authenticate", b'Basic realm="bakehouse"')]
        await _json_response(
            401,
            {
                "error_code": "UNAUTHENTICATED",
                "message": "You are not authenticated. Send HTTP Basic credentials, an API token "
                "(Authorization: Bearer ...) or sign in.",
            },
            extra,
        )(send)

    async def _too_many(self, send: Any, seconds: float, message: str) -> None:
        retry = str(max(1, math.ceil(seconds))).encode()
        await _json_response(
            429, {"error_code": "REQUEST_LIMIT_EXCEEDED", "message": message}, [(b"retry-after", retry)]
        )(send)


class _Throttled(RateLimitedError):
    """Too many failed logins (for a user name at an address, or from an address): answered 429 with
    Retry-After ``seconds`` and ``message`` saying which limit applies."""

    def __init__(self, seconds: float, message: str) -> None:
        super().__init__(message)
        self.seconds = seconds
        self.message = message


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None
