"""Options shared by the tracking commands, and the one way they build a Client."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from bakehouse.client.client import Client

F = TypeVar("F", bound=Callable[..., Any])

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


def make_client(tracking_uri: str | None) -> Client:
    from bakehouse.client.client import Client  # imported only when a command runs

    return Client(tracking_uri=tracking_uri)
