"""Authentication and permissions for ``bakehouse server --auth`` (or ``--app-name basic-auth``).

``hooks(config)`` returns what ``create_app`` plugs in: the authentication middleware and the handler
wrapper that checks permissions around every RPC.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from bakehouse.errors import InvalidParameterError
from bakehouse.server.auth.guard import wrap
from bakehouse.server.auth.middleware import AuthMiddleware, CredentialCache
from bakehouse.server.auth.permissions import Caller, PermissionChecker
from bakehouse.server.auth.sessions import SessionSigner
from bakehouse.server.auth.throttle import LoginThrottle, RateLimiter
from bakehouse.store.auth import AuthStore, Permission, User

logger = logging.getLogger(__name__)

SUPPORTED_APP_NAMES = ("basic-auth", "bakehouse-auth")
UI_HELPER_PREFIX = "/ajax-api/2.0/bakehouse/"


@dataclass
class AuthRuntime:
    """Everything the middleware, the wrapper and the auth handlers share inside one server process."""

    store: AuthStore
    checker: PermissionChecker
    signer: SessionSigner
    static_prefix: str
    rate_limiter: RateLimiter
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    cache: CredentialCache = field(default_factory=CredentialCache)

    def session_user(self, user_id: int, generation: str) -> User | None:
        """The session's user, unless deleted or their password changed since the session began."""
        found = self.store.get_user_with_generation(user_id)
        if found is None or not hmac.compare_digest(found[1], generation):
            return None
        return found[0]

    def forget_credentials(self, username: str) -> None:
        self.cache.forget(lambda key, user: user.username == username)

    def check_non_rpc_route(self, path: str, scope: dict[str, Any], caller: Caller) -> None:
        """Routes outside the ENDPOINTS table that return data: artifact downloads and UI helpers."""
        if caller.is_admin:
            return
        query = {k: v for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()}
        first = {k: v[0] for k, v in query.items() if v}
        if path == "/get-artifact":
            run_id = first.get("run_uuid") or first.get("run_id")
            if run_id:
                self.checker.require_run(caller, run_id, "read")
        elif path == "/model-versions/get-artifact" or path.endswith("/model-versions/get-artifact"):
            if first.get("name"):
                self.checker.require(caller, "registered_model", first["name"], "read")
        elif path.startswith("/ajax-api/2.0/mlflow/logged-models/") and "/artifacts/files" in path:
            model_id = path.split("/")[5]
            self.checker.require_experiment(caller, self.checker.experiment_of_logged_model(model_id), "read")
        elif path.startswith(UI_HELPER_PREFIX):
            for key in ("experiment_id", "experiment_ids"):
                for experiment_id in query.get(key, []):
                    for part in experiment_id.split(","):
                        if part:
                            self.checker.require_experiment(caller, part, "read")
            for key in ("run_id", "run_ids"):
                for run_id in query.get(key, []):
                    for part in run_id.split(","):
                        if part:
                            self.checker.require_run(caller, part, "read")


def _secret_key() -> bytes:
    from bakehouse.settings import session_secret_key

    configured = session_secret_key()
    if configured:
        return configured.encode()
    # Per process: browser sessions then only work with one worker; multi-worker servers set the key.
    return secrets.token_bytes(32)


def build_runtime(config: Any, tracking_store: Any) -> AuthRuntime:
    store = AuthStore(config.backend_store_uri)
    default = Permission.parse(config.auth_default_permission)
    rate = float(config.rate_limit_per_second)
    return AuthRuntime(
        store=store,
        checker=PermissionChecker(store, tracking_store, default),
        signer=SessionSigner(_secret_key()),
        static_prefix=config.static_prefix,
        rate_limiter=RateLimiter(rate, max(rate * 2, 1.0)),
    )


def ensure_admin(config: Any, password_prompt: Callable[[], str] | None = None) -> None:
    """Create the first admin from ``BAKEHOUSE_ADMIN_PASSWORD`` (or a prompt); refuse to run without one."""
    from bakehouse.settings import admin_credentials

    store = AuthStore(config.backend_store_uri)
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
