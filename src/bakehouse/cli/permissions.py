"""``bakehouse permissions``: grant, revoke and list what users may do, on a server started with ``--auth``.

A grant gives one user a level (READ, USE, EDIT, MANAGE or NO_PERMISSIONS) on one experiment or registered
model; where nobody granted anything, the server-wide default applies (``bakehouse permissions default``),
kept in the database so that every server process agrees on it.
"""

from __future__ import annotations

from typing import Any

import click

from bakehouse.cli import output
from bakehouse.cli.options import FullHelpGroup, json_option, server_transport, tracking_uri_option
from bakehouse.wire.transport import HttpTransport

LEVELS = click.Choice(["READ", "USE", "EDIT", "MANAGE", "NO_PERMISSIONS"], case_sensitive=False)
PERMISSIONS_API = "/api/3.0/mlflow/users/permissions"
DEFAULT_API = "/api/2.0/bakehouse/permissions/default"


def _transport(tracking_uri: str | None) -> HttpTransport:
    return server_transport(tracking_uri, "Permissions")


def resource_options(func: click.decorators.FC) -> click.decorators.FC:
    options = [
        click.option("--experiment-id", default=None, metavar="ID", help="The experiment, by id."),
        click.option("--experiment-name", default=None, metavar="NAME", help="The experiment, by name."),
        click.option("--registered-model", default=None, metavar="NAME", help="The registered model."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _resource(
    transport: HttpTransport,
    experiment_id: str | None,
    experiment_name: str | None,
    registered_model: str | None,
) -> tuple[str, str]:
    """``(resource_type, resource_id)`` from exactly one of the resource options."""
    given = [v for v in (experiment_id, experiment_name, registered_model) if v]
    if len(given) != 1:
        raise click.UsageError(
            "Name exactly one resource: --experiment-id, --experiment-name or --registered-model."
        )
    if registered_model:
        return "registered_model", registered_model
    if experiment_name:
        found = transport.call(
            "GET", "/api/2.0/mlflow/experiments/get-by-name", {"experiment_name": experiment_name}
        )
        return "experiment", str(found["experiment"]["experiment_id"])
    return "experiment", str(experiment_id)


def _send(
    verb: str,
    username: str,
    resource: tuple[str | None, str | None, str | None],
    tracking_uri: str | None,
    extra: dict[str, Any] | None = None,
) -> str:
    """POST a grant or revoke for one user on one resource; returns the resource in words."""
    transport = _transport(tracking_uri)
    resource_type, resource_id = _resource(transport, *resource)
    body = {"username": username, "resource_type": resource_type, "resource_id": resource_id, **(extra or {})}
    transport.call("POST", f"{PERMISSIONS_API}/{verb}", body)
    return f"{resource_type.replace('_', ' ')} {resource_id}"


@click.group("permissions", cls=FullHelpGroup)
def permissions_group() -> None:
    """Manage who may do what on experiments and registered models (servers started with --auth)."""


@permissions_group.command("grant")
@click.argument("username")
@click.argument("level", type=LEVELS)
@resource_options
@tracking_uri_option
def grant(
    username: str,
    level: str,
    experiment_id: str | None,
    experiment_name: str | None,
    registered_model: str | None,
    tracking_uri: str | None,
) -> None:
    """Give USERNAME the LEVEL on one experiment or registered model (replacing an earlier grant)."""
    resource = (experiment_id, experiment_name, registered_model)
    what = _send("grant", username, resource, tracking_uri, {"permission": level.upper()})
    output.success(f"{username} has {level.upper()} on {what}")


@permissions_group.command("revoke")
@click.argument("username")
@resource_options
@tracking_uri_option
def revoke(
    username: str,
    experiment_id: str | None,
    experiment_name: str | None,
    registered_model: str | None,
    tracking_uri: str | None,
) -> None:
    """Remove USERNAME's grant on one resource (the default permission applies again)."""
    what = _send("revoke", username, (experiment_id, experiment_name, registered_model), tracking_uri)
    output.success(f"Revoked {username}'s grant on {what}")


@permissions_group.command("list")
@click.argument("username", required=False)
@tracking_uri_option
@json_option
def list_permissions(username: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """List USERNAME's grants (yours without a name; other users' need an administrator)."""
    body: dict[str, Any] = {"username": username} if username else {}
    grants = _transport(tracking_uri).call("GET", f"{PERMISSIONS_API}/list", body).get("permissions", [])
    if as_json:
        output.print_json(grants)
        return
    rows = [
        (g.get("resource_type", "").replace("_", " "), g.get("resource_id"), g.get("permission"))
        for g in grants
    ]
    output.print_table(
        ("Resource", "Id / name", "Permission"),
        rows,
        title=f"Grants of {username}" if username else "Your grants",
        empty="No grants: the default permission applies everywhere.",
    )


@permissions_group.command("default")
@click.argument("level", type=LEVELS, required=False)
@tracking_uri_option
def default(level: str | None, tracking_uri: str | None) -> None:
    """Show the default permission, or set it to LEVEL (administrators) for every server sharing the database.

    It applies to every user on every experiment and registered model nobody granted them anything on;
    servers pick up a change within a few seconds, without a restart."""
    transport = _transport(tracking_uri)
    if level is None:
        click.echo(transport.call("GET", DEFAULT_API).get("permission", ""))
        return
    result = transport.call("POST", f"{DEFAULT_API}/set", {"permission": level.upper()})
    output.success(f"Default permission: {result.get('permission')} (was {result.get('previous')})")
