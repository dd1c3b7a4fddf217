"""What the authentication middleware, the permission wrapper and the auth handlers share in one server
process: the user store, the permission checker, the session signer, the throttles and a short-lived cache
of verified credentials (keyed by a hash, never the secret)."""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from bakehouse.server.auth.permissions import Caller, PermissionChecker
from bakehouse.server.auth.sessions import SessionSigner
from bakehouse.server.auth.throttle import LoginThrottle, RateLimiter
from bakehouse.store.auth import AuthStore, User

UI_HELPER_PREFIX = "/ajax-api/2.0/bakehouse/"


class CredentialCache:
    def __init__(self) -> None:
        self._entries: dict[str, tuple[User, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> User | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[1] < time.monotonic():
                self._entries.pop(key, None)
                return None
            return entry[0]

    def put(self, key: str, user: User, seconds: float) -> None:
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key] = (user, time.monotonic() + seconds)

    def forget(self, predicate: Callable[[str, User], bool]) -> None:
        with self._lock:
            for key in [k for k, (u, _) in self._entries.items() if predicate(k, u)]:
                del self._entries[key]


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
