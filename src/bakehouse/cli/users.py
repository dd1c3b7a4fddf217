"""``bakehouse users``: create, list and delete the accounts of a server started with ``--auth``.

Talks to the server (``--tracking-uri`` or BAKEHOUSE_TRACKING_URI) as an administrator, through the same REST
endpoints as MLflow's auth client, so it needs neither ``mlflow[auth]`` nor access to the database.
Passwords are never command-line arguments (``ps`` would show them): they are asked for at the terminal,
or read from standard input with ``--password-stdin``.
"""

from __future__ import annotations

import sys

import click

from bakehouse.cli import output
from bakehouse.cli.options import FullHelpGroup, json_option, server_transport, tracking_uri_option
from bakehouse.wire.transport import HttpTransport

USERS_API = "/api/2.0/mlflow/users"


def _transport(tracking_uri: str | None) -> HttpTransport:
    return server_transport(tracking_uri, "Users")


def password_option(func: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--password-stdin",
        is_flag=True,
        help="Read the password from standard input (one line) instead of asking for it.",
    )(func)


def read_password(from_stdin: bool, prompt: str) -> str:
    """The new password, from stdin or the terminal (asked twice); never from the command line."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = str(click.prompt(prompt, hide_input=True, confirmation_prompt=True))
    else:
        raise click.UsageError("No terminal to ask for the password: pipe it in with --password-stdin.")
    if not password:
        raise click.UsageError("The password is empty.")
    return password


@click.group("users", cls=FullHelpGroup)
def users_group() -> None:
    """Manage user accounts of a server started with --auth (administrators only)."""


@users_group.command("create")
@click.argument("username")
@click.option("--admin", is_flag=True, help="Make the new user an administrator.")
@password_option
@tracking_uri_option
def create(username: str, admin: bool, password_stdin: bool, tracking_uri: str | None) -> None:
    """Create the user USERNAME (the password is asked for, or read with --password-stdin)."""
    password = read_password(password_stdin, f"Password for {username}")
    transport = _transport(tracking_uri)
    transport.call("POST", f"{USERS_API}/create", {"username": username, "password": password})
    if admin:
        transport.call("PATCH", f"{USERS_API}/update-admin", {"username": username, "is_admin": True})
    output.success(f"Created {'administrator' if admin else 'user'} {username}")


@users_group.command("list")
@tracking_uri_option
@json_option
def list_users(tracking_uri: str | None, as_json: bool) -> None:
    """List every user (id, name, administrator or not)."""
    users = _transport(tracking_uri).call("GET", f"{USERS_API}/list").get("users", [])
    if as_json:
        output.print_json(users)
        return
    rows = [(u.get("id"), u.get("username"), "yes" if u.get("is_admin") else "no") for u in users]
    output.print_table(("ID", "User", "Admin"), rows, title="Users", empty="No users.")


@users_group.command("delete")
@click.argument("username")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@tracking_uri_option
def delete(username: str, yes: bool, tracking_uri: str | None) -> None:
    """Delete the user USERNAME with their grants and API tokens."""
    if not yes:
        click.confirm(f"Delete user {username}, their permissions and their API tokens?", abort=True)
    _transport(tracking_uri).call("DELETE", f"{USERS_API}/delete", {"username": username})
    output.success(f"Deleted user {username}")


@users_group.command("set-admin")
@click.argument("username")
@click.argument("is_admin", metavar="[true|false]", type=click.BOOL, default=True)
@tracking_uri_option
def set_admin(username: str, is_admin: bool, tracking_uri: str | None) -> None:
    """Make USERNAME an administrator (or, with `false`, no longer one)."""
    _transport(tracking_uri).call(
        "PATCH", f"{USERS_API}/update-admin", {"username": username, "is_admin": is_admin}
    )
    output.success(f"{username} is {'now' if is_admin else 'no longer'} an administrator")


@users_group.command("set-password")
@click.argument("username")
@password_option
@tracking_uri_option
def set_password(username: str, password_stdin: bool, tracking_uri: str | None) -> None:
    """Set USERNAME's password; their browser sessions end, their API tokens keep working."""
    password = read_password(password_stdin, f"New password for {username}")
    _transport(tracking_uri).call(
        "PATCH", f"{USERS_API}/update-password", {"username": username, "password": password}
    )
    output.success(f"Changed the password of {username}")
