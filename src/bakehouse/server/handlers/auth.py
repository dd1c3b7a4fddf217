"""Handlers for users, permission grants and API tokens (only with ``--auth``)."""

from __future__ import annotations

from typing import Any

from bakehouse.errors import InvalidParameterError, NotFoundError, PermissionDeniedError, UnauthenticatedError
from bakehouse.server.auth.runtime import AuthRuntime
from bakehouse.server.context import RequestContext
from bakehouse.store.auth import BUILTIN_DEFAULT_PERMISSION, AuthStore, Permission, User
from bakehouse.wire import auth as w


def _runtime(ctx: RequestContext) -> AuthRuntime:
    runtime: AuthRuntime | None = getattr(getattr(ctx.request, "state", None), "auth", None)
    if runtime is None:
        raise NotFoundError(
            "Authentication is not enabled on this server (start it with --auth)", "ENDPOINT_NOT_FOUND"
        )
    return runtime


def _store(ctx: RequestContext) -> AuthStore:
    return _runtime(ctx).store


def _me(ctx: RequestContext) -> User:
    if ctx.username is None:
        raise UnauthenticatedError("You are not authenticated")
    return _store(ctx).get_user(ctx.username)


def _require_admin(ctx: RequestContext) -> None:
    _runtime(ctx)
    if not ctx.is_admin:
        raise PermissionDeniedError("Only administrators may do this")


def _require_manage(ctx: RequestContext, resource_type: str, resource_id: str) -> None:
    if ctx.is_admin:
        return
    me = _me(ctx)
    checker = _runtime(ctx).checker
    from bakehouse.server.auth.permissions import Caller

    if not checker.can(Caller(me.id, me.username, False), resource_type, resource_id, "manage"):
        raise PermissionDeniedError(
            f"Permission denied: managing grants on {resource_type} {resource_id} needs MANAGE"
        )


def _user_json(ctx: RequestContext, user: User, with_permissions: bool = False) -> dict[str, Any]:
    out = user.to_json()
    if with_permissions:
        grants = _store(ctx).list_permissions(user.id)
        out["experiment_permissions"] = [
            {"experiment_id": rid, "user_id": user.id, "permission": perm}
            for rt, rid, perm in grants
            if rt == "experiment"
        ]
        out["registered_model_permissions"] = [
            {"name": rid, "user_id": user.id, "permission": perm}
            for rt, rid, perm in grants
            if rt == "registered_model"
        ]
    return out


# ------------------------------------------------------------------------------------------- users
def create_user(ctx: RequestContext, req: w.CreateUser) -> dict[str, Any]:
    _require_admin(ctx)
    return {"user": _store(ctx).create_user(req.username, req.password).to_json()}


def get_user(ctx: RequestContext, req: w.UsernameRequest) -> dict[str, Any]:
    _runtime(ctx)
    if not ctx.is_admin and req.username != ctx.username:
        raise PermissionDeniedError("Only administrators may look up other users")
    return {"user": _user_json(ctx, _store(ctx).get_user(req.username), with_permissions=True)}


def get_current_user(ctx: RequestContext, req: w.Empty) -> dict[str, Any]:
    return {"user": _user_json(ctx, _me(ctx), with_permissions=True)}


def list_users(ctx: RequestContext, req: w.Empty) -> dict[str, Any]:
    _require_admin(ctx)
    return {"users": [u.to_json() for u in _store(ctx).list_users()]}


def update_user_password(ctx: RequestContext, req: w.UpdateUserPassword) -> dict[str, Any]:
    store = _store(ctx)
    if not ctx.is_admin:
        if req.username != ctx.username:
            raise PermissionDeniedError("Only administrators may change other users' passwords")
        if not req.current_password or store.authenticate(req.username, req.current_password) is None:
            raise PermissionDeniedError("Changing your own password needs your current password")
    store.update_password(req.username, req.password)
    _runtime(ctx).forget_credentials(req.username)
    return {}


def update_user_admin(ctx: RequestContext, req: w.UpdateUserAdmin) -> dict[str, Any]:
    _require_admin(ctx)
    _store(ctx).update_admin(req.username, req.is_admin)
    _runtime(ctx).forget_credentials(req.username)
    return {}


def delete_user(ctx: RequestContext, req: w.UsernameRequest) -> dict[str, Any]:
    _require_admin(ctx)
    if req.username == ctx.username:
        raise InvalidParameterError("You cannot delete your own account")
    _store(ctx).delete_user(req.username)
    _runtime(ctx).forget_credentials(req.username)
    return {}


# ------------------------------------------------------------------------------------- grants
def _grant(
    ctx: RequestContext,
    resource_type: str,
    resource_id: str,
    username: str,
    permission: str | None,
    must_be_new: bool,
) -> Permission:
    if permission is None:
        raise InvalidParameterError("Missing value for required parameter 'permission'")
    level = Permission.parse(permission)
    _require_manage(ctx, resource_type, resource_id)
    _check_resource_exists(ctx, resource_type, resource_id)
    user = _store(ctx).get_user(username)
    _store(ctx).set_permission(user.id, resource_type, resource_id, level, must_be_new=must_be_new)
    return level


def _check_resource_exists(ctx: RequestContext, resource_type: str, resource_id: str) -> None:
    if resource_type == "experiment":
        ctx.tracking_store.get_experiment(resource_id)
    elif resource_type == "registered_model" and ctx.registry_store is not None:
        ctx.registry_store.get_registered_model(resource_id)


def _lookup(
    ctx: RequestContext, resource_type: str, resource_id: str, username: str
) -> tuple[User, Permission]:
    if username != ctx.username:
        _require_manage(ctx, resource_type, resource_id)
    user = _store(ctx).get_user(username)
    granted = _store(ctx).get_permission(user.id, resource_type, resource_id)
    if granted is None:
        raise NotFoundError(f"Permission not found for {resource_type} {resource_id} and user {username}")
    return user, granted


#: MLflow's per-resource permission endpoints: resource type -> (id field in the JSON, response key)
_FAMILIES = {
    "experiment": ("experiment_id", "experiment_permission"),
    "registered_model": ("name", "registered_model_permission"),
}


def _grant_json(resource_type: str, resource_id: str, user: User, level: Permission) -> dict[str, Any]:
    id_field, key = _FAMILIES[resource_type]
    return {key: {id_field: resource_id, "user_id": user.id, "permission": level.value}}


def _create_grant(
    ctx: RequestContext, resource_type: str, resource_id: str, username: str, permission: str | None
) -> dict[str, Any]:
    level = _grant(ctx, resource_type, resource_id, username, permission, must_be_new=True)
    return _grant_json(resource_type, resource_id, _store(ctx).get_user(username), level)


def _get_grant(ctx: RequestContext, resource_type: str, resource_id: str, username: str) -> dict[str, Any]:
    user, granted = _lookup(ctx, resource_type, resource_id, username)
    return _grant_json(resource_type, resource_id, user, granted)


def _update_grant(
    ctx: RequestContext, resource_type: str, resource_id: str, username: str, permission: str | None
) -> dict[str, Any]:
    _lookup(ctx, resource_type, resource_id, username)
    _grant(ctx, resource_type, resource_id, username, permission, must_be_new=False)
    return {}


def _delete_grant(ctx: RequestContext, resource_type: str, resource_id: str, username: str) -> dict[str, Any]:
    _require_manage(ctx, resource_type, resource_id)
    _store(ctx).delete_permission(_store(ctx).get_user(username).id, resource_type, resource_id)
    return {}


def create_experiment_permission(ctx: RequestContext, req: w.ExperimentPermissionRequest) -> dict[str, Any]:
    return _create_grant(ctx, "experiment", req.experiment_id, req.username, req.permission)


def get_experiment_permission(ctx: RequestContext, req: w.ExperimentPermissionRequest) -> dict[str, Any]:
    return _get_grant(ctx, "experiment", req.experiment_id, req.username)


def update_experiment_permission(ctx: RequestContext, req: w.ExperimentPermissionRequest) -> dict[str, Any]:
    return _update_grant(ctx, "experiment", req.experiment_id, req.username, req.permission)


def delete_experiment_permission(ctx: RequestContext, req: w.ExperimentPermissionRequest) -> dict[str, Any]:
    return _delete_grant(ctx, "experiment", req.experiment_id, req.username)


def create_registered_model_permission(
    ctx: RequestContext, req: w.RegisteredModelPermissionRequest
) -> dict[str, Any]:
    return _create_grant(ctx, "registered_model", req.name, req.username, req.permission)


def get_registered_model_permission(
    ctx: RequestContext, req: w.RegisteredModelPermissionRequest
) -> dict[str, Any]:
    return _get_grant(ctx, "registered_model", req.name, req.username)


def update_registered_model_permission(
    ctx: RequestContext, req: w.RegisteredModelPermissionRequest
) -> dict[str, Any]:
    return _update_grant(ctx, "registered_model", req.name, req.username, req.permission)


def delete_registered_model_permission(
    ctx: RequestContext, req: w.RegisteredModelPermissionRequest
) -> dict[str, Any]:
    return _delete_grant(ctx, "registered_model", req.name, req.username)


def grant_user_permission(ctx: RequestContext, req: w.UserPermissionRequest) -> dict[str, Any]:
    _grant(ctx, req.resource_type, req.resource_id, req.username, req.permission, must_be_new=False)
    return {}


def revoke_user_permission(ctx: RequestContext, req: w.UserPermissionRequest) -> dict[str, Any]:
    _require_manage(ctx, req.resource_type, req.resource_id)
    user = _store(ctx).get_user(req.username)
    _store(ctx).delete_permission(user.id, req.resource_type, req.resource_id)
    return {}


def get_user_permission(ctx: RequestContext, req: w.UserPermissionRequest) -> dict[str, Any]:
    from bakehouse.server.auth.permissions import Caller

    if req.username != ctx.username:
        _require_manage(ctx, req.resource_type, req.resource_id)
    user = _store(ctx).get_user(req.username)
    level = _runtime(ctx).checker.effective(
        Caller(user.id, user.username, user.is_admin), req.resource_type, req.resource_id
    )
    return {"allowed": level.allows("use"), "permission": level.value}


def _permission_list(ctx: RequestContext, user: User) -> dict[str, Any]:
    return {
        "permissions": [
            {"resource_type": rt, "resource_id": rid, "permission": perm}
            for rt, rid, perm in _store(ctx).list_permissions(user.id)
        ]
    }


def list_user_permissions(ctx: RequestContext, req: w.ListUserPermissions) -> dict[str, Any]:
    username = req.username or ctx.username
    if username != ctx.username:
        _require_admin(ctx)
    return _permission_list(ctx, _store(ctx).get_user(username or ""))


def list_current_user_permissions(ctx: RequestContext, req: w.Empty) -> dict[str, Any]:
    return _permission_list(ctx, _me(ctx))


def get_default_permission(ctx: RequestContext, req: w.Empty) -> dict[str, Any]:
    """What every user may do where nobody granted them anything (the same on every server)."""
    return {"permission": _runtime(ctx).checker.default_permission.value}


def set_default_permission(ctx: RequestContext, req: w.SetDefaultPermission) -> dict[str, Any]:
    _require_admin(ctx)
    level = Permission.parse(req.permission)
    previous = _store(ctx).set_default_permission(level)
    _runtime(ctx).checker.forget_default_permission()
    return {"permission": level.value, "previous": (previous or BUILTIN_DEFAULT_PERMISSION).value}


# -------------------------------------------------------------------------------------- tokens
def create_token(ctx: RequestContext, req: w.CreateToken) -> dict[str, Any]:
    me = _me(ctx)
    days = req.expires_in_days if req.expires_in_days is not None else 90
    if days <= 0 or days > 3650:
        raise InvalidParameterError("expires_in_days must be between 1 and 3650")
    token, info = _store(ctx).create_token(me.id, req.name, days * 86400)
    return {"token": token, "token_info": info.to_json()}


def list_tokens(ctx: RequestContext, req: w.Empty) -> dict[str, Any]:
    me = _me(ctx)
    return {"tokens": [t.to_json() for t in _store(ctx).list_tokens(me.id)]}


def revoke_token(ctx: RequestContext, req: w.RevokeToken) -> dict[str, Any]:
    me = _me(ctx)
    _store(ctx).revoke_token(me.id, int(req.token_id), is_admin=ctx.is_admin)
    return {}
