"""Options shared by the tracking commands, and the one way they build a Client."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from bakehouse.client.client import Client
    from bakehouse.wire.transport import HttpTransport

F = TypeVar("F", bound=Callable[..., Any])

#: a command's first sentence is shown whole in a group's help (wrapped, never cut off with "...")
SHORT_HELP_LIMIT = 300


class FullHelpGroup(click.Group):
    """A command group whose help lists each command with its first sentence in full."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=SHORT_HELP_LIMIT)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


VIEW_CHOICES = click.Choice(["active_only", "deleted_only", "all"], case_sensitive=False)


def tracking_uri_option(func: F) -> F:
    return click.option(
        "--tracking-uri",
        default=None,
        metavar="URI",
        help="Tracking store or server (default: BAKEHOUSE_TRACKING_URI, else ./bakehouse.db).",
    )(func)


def view_option(func: F) -> F:
    return click.option(
        "--view",
        "-v",
        type=VIEW_CHOICES,
        default="active_only",
        show_default=True,
        help="Which lifecycle stages to include.",
    )(func)


def json_option(func: F) -> F:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON instead of a table (for scripts)."
    )(func)


def store_uri_file_option(func: F) -> F:
    return click.option(
        "--backend-store-uri-file",
        "store_uri_file",
        default=None,
        metavar="PATH",
        type=click.Path(dir_okay=False),
        help="Read the database URI from this file (e.g. a mounted secret) instead of the command line, "
        "where `ps` would show its password. Also: BAKEHOUSE_BACKEND_STORE_URI(_FILE).",
    )(func)


def resolve_store_uri(uri: str | None, uri_file: str | None) -> str | None:
    """The database URI from the command line, a file, or BAKEHOUSE_BACKEND_STORE_URI(_FILE), in that order.

    A URI without a password leaves it to the driver: PostgreSQL reads ``PGPASSWORD`` or ``~/.pgpass``."""
    from bakehouse.settings import backend_store_uri_from_env

    if uri and uri_file:
        raise click.UsageError("Give the database URI or a file holding it, not both.")
    if not uri and not uri_file:
        uri, uri_file = backend_store_uri_from_env()
        if uri and uri_file:
            raise click.UsageError(
                "Both BAKEHOUSE_BACKEND_STORE_URI and BAKEHOUSE_BACKEND_STORE_URI_FILE are set; keep one."
            )
    if uri_file:
        try:
            with open(uri_file, encoding="utf-8") as fh:
                uri = fh.read().strip()
        except OSError as exc:
            raise click.UsageError(f"Cannot read the database URI from {uri_file}: {exc.strerror}") from None
        if not uri:
            raise click.UsageError(f"The database URI file {uri_file} is empty.")
    return uri or None


def make_client(tracking_uri: str | None) -> Client:
    from bakehouse.client.client import Client  # imported only when a command runs

    return Client(tracking_uri=tracking_uri)


def server_transport(tracking_uri: str | None, what: str) -> HttpTransport:
    """The HTTP transport to the tracking server, for commands that only a server can answer (``what`` says
    which, in the error); credentials come from BAKEHOUSE_TRACKING_USERNAME/PASSWORD or ..._TOKEN."""
    from bakehouse.settings import tracking_uri_from_env
    from bakehouse.wire.transport import HttpTransport

    uri = tracking_uri or tracking_uri_from_env()
    if not uri or not uri.lower().startswith(("http://", "https://")):
        raise click.UsageError(
            f"{what} live on a tracking server: pass --tracking-uri http(s)://... or set BAKEHOUSE_TRACKING_URI "
            f"(got {uri!r})."
        )
    return HttpTransport(uri)
