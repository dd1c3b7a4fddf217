"""Users, permissions and API tokens: MLflow's basic-auth paths plus Bakehouse's token endpoints.

The rows are mounted on every server; without ``--auth`` their handlers answer 404 (authentication is
not enabled), as MLflow does when its auth app is not loaded.
"""

from __future__ import annotations

from typing import Any

from bakehouse.wire.endpoints import Endpoint
from bakehouse.wire.messages import Id, Int64, Text, WireModel


class UsernameRequest(WireModel):
    username: Text


class CreateUser(WireModel):
    username: Text
    password: Text


class UpdateUserPassword(WireModel):
    username: Text
    password: Text
    current_password: Text | None = None


class UpdateUserAdmin(WireModel):
    username: Text
    is_admin: bool


class Empty(WireModel):
    pass


class ExperimentPermissionRequest(WireModel):
    experiment_id: Id
    username: Text
    permission: Text | None = None


class RegisteredModelPermissionRequest(WireModel):
    name: Text
    username: Text
    permission: Text | None = None


class UserPermissionRequest(WireModel):
    username: Text
    resource_type: Text
    resource_id: Text
    permission: Text | None = None


class ListUserPermissions(WireModel):
    username: Text | None = None


class SetDefaultPermission(WireModel):
    permission: Text


class CreateToken(WireModel):
    name: Text | None = None
    expires_in_days: Int64 | None = None


class RevokeToken(WireModel):
    token_id: Int64


def _row(name: str, method: str, path: str, fn: str, request: Any, version: str = "2.0") -> Endpoint:
    return Endpoint(
        name=name,
        method=method,
        path=path,
        handler=f"auth:{fn}",
        request=request,
        version=version,
        permission=("user", "manage"),
    )


_EP = "/mlflow/experiments/permissions"
_RP = "/mlflow/registered-models/permissions"

ENDPOINTS: list[Endpoint] = [
    _row("CreateUser", "POST", "/mlflow/users/create", "create_user", CreateUser),
    _row("GetUser", "GET", "/mlflow/users/get", "get_user", UsernameRequest),
    _row("GetCurrentUser", "GET", "/mlflow/users/current", "get_current_user", Empty),
    _row("ListUsers", "GET", "/mlflow/users/list", "list_users", Empty),
    _row(
        "UpdateUserPassword",
        "PATCH",
        "/mlflow/users/update-password",
        "update_user_password",
        UpdateUserPassword,
    ),
    _row("UpdateUserAdmin", "PATCH", "/mlflow/users/update-admin", "update_user_admin", UpdateUserAdmin),
    _row("DeleteUser", "DELETE", "/mlflow/users/delete", "delete_user", UsernameRequest),
    _row(
        "CreateExperimentPermission",
        "POST",
        f"{_EP}/create",
        "create_experiment_permission",
        ExperimentPermissionRequest,
    ),
    _row(
        "GetExperimentPermission",
        "GET",
        f"{_EP}/get",
        "get_experiment_permission",
        ExperimentPermissionRequest,
    ),
    _row(
        "UpdateExperimentPermission",
        "PATCH",
        f"{_EP}/update",
        "update_experiment_permission",
        ExperimentPermissionRequest,
    ),
    _row(
        "DeleteExperimentPermission",
        "DELETE",
        f"{_EP}/delete",
        "delete_experiment_permission",
        ExperimentPermissionRequest,
    ),
    _row(
        "CreateRegisteredModelPermission",
        "POST",
        f"{_RP}/create",
        "create_registered_model_permission",
        RegisteredModelPermissionRequest,
    ),
    _row(
        "GetRegisteredModelPermission",
        "GET",
        f"{_RP}/get",
        "get_registered_model_permission",
        RegisteredModelPermissionRequest,
    ),
    _row(
        "UpdateRegisteredModelPermission",
        "PATCH",
        f"{_RP}/update",
        "update_registered_model_permission",
        RegisteredModelPermissionRequest,
    ),
    _row(
        "DeleteRegisteredModelPermission",
        "DELETE",
        f"{_RP}/delete",
        "delete_registered_model_permission",
        RegisteredModelPermissionRequest,
    ),
    _row(
        "GrantUserPermission",
        "POST",
        "/mlflow/users/permissions/grant",
        "grant_user_permission",
        UserPermissionRequest,
        "3.0",
    ),
    _row(
        "RevokeUserPermission",
        "POST",
        "/mlflow/users/permissions/revoke",
        "revoke_user_permission",
        UserPermissionRequest,
        "3.0",
    ),
    _row(
        "GetUserPermission",
        "GET",
        "/mlflow/users/permissions/get",
        "get_user_permission",
        UserPermissionRequest,
        "3.0",
    ),
    _row(
        "ListUserPermissions",
        "GET",
        "/mlflow/users/permissions/list",
        "list_user_permissions",
        ListUserPermissions,
        "3.0",
    ),
    _row(
        "ListCurrentUserPermissions",
        "GET",
        "/mlflow/users/current/permissions",
        "list_current_user_permissions",
        Empty,
        "3.0",
    ),
    _row(
        "GetDefaultPermission",
        "GET",
        "/bakehouse/permissions/default",
        "get_default_permission",
        Empty,
    ),
    _row(
        "SetDefaultPermission",
        "POST",
        "/bakehouse/permissions/default/set",
        "set_default_permission",
        SetDefaultPermission,
    ),
    _row("CreateToken", "POST", "/bakehouse/tokens/create", "create_token", CreateToken),
    _row("ListTokens", "GET", "/bakehouse/tokens/list", "list_tokens", Empty),
    _row("RevokeToken", "POST", "/bakehouse/tokens/revoke", "revoke_token", RevokeToken),
]
