"""Options shared by the tracking commands, and the one way they build a Client."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from bakehouse.client.client import Client

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


def json_option(func: F) -> F:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON instead of a table (for scripts)."
    )(func)


def make_client(tracking_uri: str | None) -> Client:
    from bakehouse.client.client import Client  # imported only when a command runs

    return Client(tracking_uri=tracking_uri)
