"""Authentication and permissions for ``bakehouse server --auth`` (or ``--app-name basic-auth``).

``hooks(config)`` returns what ``create_app`` plugs in: the authentication middleware and the handler
wrapper that checks permissions around every RPC.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any

from bakehouse.errors import InvalidParameterError
from bakehouse.server.auth.guard import wrap
from bakehouse.server.auth.middleware import AuthMiddleware
from bakehouse.server.auth.permissions import PermissionChecker
from bakehouse.server.auth.runtime import AuthRuntime
from bakehouse.server.auth.sessions import SessionSigner
from bakehouse.server.auth.throttle import LoginThrottle, RateLimiter
from bakehouse.store.auth import AuthStore, Permission

logger = logging.getLogger(__name__)

SUPPORTED_APP_NAMES = ("basic-auth", "bakehouse-auth")


def _secret_key(config: Any) -> bytes:
    """``BAKEHOUSE_SECRET_KEY`` (the same on every server behind one URL), else the key the server's parent
    process made at start and handed to its workers, else (an app built directly) one for this process."""
    from bakehouse.settings import session_secret_key

    configured = session_secret_key()
    if configured:
        return configured.encode()
    shared = getattr(config, "session_secret", "")
    if shared:
        return bytes.fromhex(shared)
    return secrets.token_bytes(32)


def apply_default_permission(config: Any, store: AuthStore) -> None:
    """A ``--auth-default-permission`` given at start becomes the database's value for every server."""
    wanted = getattr(config, "auth_default_permission", None)
    if not wanted:
        return
    level = Permission.parse(wanted)
    if store.get_default_permission() == level:
        return
    previous = store.set_default_permission(level)
    if previous is not None and previous != level:
        logger.warning(
            "--auth-default-permission %s replaced the default permission %s for every server sharing this "
            "database",
            level.value,
            previous.value,
        )


def build_runtime(config: Any, tracking_store: Any) -> AuthRuntime:
    store = AuthStore(config.backend_store_uri)
    rate = float(config.rate_limit_per_second)
    return AuthRuntime(
        store=store,
        checker=PermissionChecker(store, tracking_store),
        signer=SessionSigner(_secret_key(config)),
        static_prefix=config.static_prefix,
        rate_limiter=RateLimiter(rate, max(rate * 2, 1.0)),
        throttle=LoginThrottle(address_free_attempts=int(config.login_failures_per_address)),
    )


def ensure_admin(config: Any, password_prompt: Callable[[], str] | None = None) -> None:
    """Create the first admin from ``BAKEHOUSE_ADMIN_PASSWORD`` (or a prompt); refuse to run without one."""
    from bakehouse.settings import admin_credentials

    store = AuthStore(config.backend_store_uri)
    apply_default_permission(config, store)
    if store.has_admin():
        return
    username, password = admin_credentials()
    if not password and password_prompt is not None:
        password = password_prompt()
    if not password:
        raise InvalidParameterError(
            "Authentication is on but no administrator exists yet. Set BAKEHOUSE_ADMIN_PASSWORD (and optionally "
            "BAKEHOUSE_ADMIN_USERNAME) to create one; there is no default password."
        )
    try:
        store.create_user(username, password, is_admin=True)
        logger.info("Created the administrator %r", username)
    except Exception:  # another worker created it at the same moment
        if not store.has_admin():
            raise


def hooks(config: Any) -> tuple[list[Callable[[Any], Any]], Callable[..., Any]]:
    """What ``create_app`` plugs in when authentication is on."""
    if config.app_name not in SUPPORTED_APP_NAMES:
        raise InvalidParameterError(
            f"Unknown --app-name {config.app_name!r}: Bakehouse provides {', '.join(SUPPORTED_APP_NAMES)}"
        )
    ensure_admin(config)
    holder: dict[str, AuthRuntime] = {}

    def runtime_for(tracking_store: Any) -> AuthRuntime:
        if "runtime" not in holder:
            holder["runtime"] = build_runtime(config, tracking_store)
        return holder["runtime"]

    def middleware(app: Any) -> Any:
        return _LazyAuthMiddleware(app, runtime_for)

    return [middleware], wrap


class _LazyAuthMiddleware:
    """Builds the runtime on the first request, once the app's tracking store exists."""

    def __init__(self, app: Any, runtime_for: Callable[[Any], AuthRuntime]) -> None:
        self.app = app
        self.runtime_for = runtime_for
        self._inner: AuthMiddleware | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self._inner is None:
            if scope["type"] == "lifespan":
                await self.app(scope, receive, send)
                return
            tracking_store = scope["app"].state.tracking_store
            self._inner = AuthMiddleware(self.app, self.runtime_for(tracking_store))
        await self._inner(scope, receive, send)
