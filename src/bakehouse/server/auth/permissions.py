"""Who may do what: resolve the resource a request touches and check the caller's permission on it.

Runs, metrics and artifacts inherit their experiment's permission; model versions inherit their
registered model's; logged models inherit their experiment's. A resource with no explicit grant falls back
to the default permission, which is kept in the database (``bakehouse permissions default``) so that every
server process sharing it agrees; each process re-reads it every few seconds. Admins may do everything.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bakehouse.errors import NotFoundError, PermissionDeniedError, UnauthenticatedError
from bakehouse.store.auth import BUILTIN_DEFAULT_PERMISSION, AuthStore, Permission

#: how long a process keeps the database's default permission before reading it again
DEFAULT_PERMISSION_TTL_SECONDS = 5.0


def canonical_experiment_id(value: Any) -> str:
    """The id as the store will read it: ``07``, ``+7`` and `` 7`` all name experiment ``7``.

    Permission checks must use the same spelling as the store, or a differently written id would be
    checked against a grant that does not exist (and fall back to the default permission).
    """
    text = str(value).strip()
    try:
        return str(int(text))
    except ValueError:
        return text


@dataclass(frozen=True)
class Caller:
    user_id: int
    username: str
    is_admin: bool


class PermissionChecker:
    def __init__(self, store: AuthStore, tracking_store: Any) -> None:
        self.store = store
        self.tracking_store = tracking_store
        self._default: tuple[Permission, float] | None = None
        self._default_lock = threading.Lock()

    @property
    def default_permission(self) -> Permission:
        """The database's default level (a change reaches every process within the TTL)."""
        now = time.monotonic()
        cached = self._default
        if cached is not None and cached[1] > now:
            return cached[0]
        with self._default_lock:
            level = self.store.get_default_permission() or BUILTIN_DEFAULT_PERMISSION
            self._default = (level, now + DEFAULT_PERMISSION_TTL_SECONDS)
        return level

    def forget_default_permission(self) -> None:
        """This process changed it: read it again at once (other processes within the TTL)."""
        self._default = None

    # ------------------------------------------------------------------------------ effective level
    def effective(self, caller: Caller, resource_type: str, resource_id: str) -> Permission:
        if caller.is_admin:
            return Permission.MANAGE
        if resource_type == "experiment":
            resource_id = canonical_experiment_id(resource_id)
        granted = self.store.get_permission(caller.user_id, resource_type, resource_id)
        return granted if granted is not None else self.default_permission

    def can(self, caller: Caller, resource_type: str, resource_id: str, level: str) -> bool:
        return caller.is_admin or self.effective(caller, resource_type, resource_id).allows(level)

    def require(self, caller: Caller | None, resource_type: str, resource_id: str, level: str) -> None:
        if caller is None:
            raise UnauthenticatedError("You are not authenticated. Please see the documentation for details.")
        if not self.can(caller, resource_type, resource_id, level):
            raise PermissionDeniedError(
                f"Permission denied: {caller.username} may not {level} {resource_type.replace('_', ' ')} {resource_id}"
            )

    # ---------------------------------------------------------------------------- resource lookups
    def experiment_of_run(self, run_id: str) -> str:
        return str(self.tracking_store.get_run(run_id).info.experiment_id)

    def experiment_of_logged_model(self, model_id: str) -> str:
        return str(self.tracking_store.get_logged_model(model_id).experiment_id)

    def experiment_of_trace(self, trace_id: str) -> str:
        return str(self.tracking_store.get_trace_info(trace_id).experiment_id)

    def experiment_by_name(self, name: str) -> str | None:
        experiment = self.tracking_store.get_experiment_by_name(name)
        return None if experiment is None else str(experiment.experiment_id)

    def require_experiment(self, caller: Caller | None, experiment_id: str, level: str) -> None:
        self.require(caller, "experiment", str(experiment_id), level)

    def require_run(self, caller: Caller | None, run_id: str, level: str) -> None:
        try:
            experiment_id = self.experiment_of_run(run_id)
        except NotFoundError:
            if caller is not None and caller.is_admin:
                return
            raise
        self.require(caller, "experiment", experiment_id, level)

    def readable_experiments(self, caller: Caller, experiment_ids: Iterable[str]) -> list[str]:
        return [e for e in experiment_ids if self.can(caller, "experiment", str(e), "read")]
