"""``bakehouse tokens``: create, list and revoke your API tokens on a server started with ``--auth``.

The server is the tracking URI (``--tracking-uri``, else ``BAKEHOUSE_TRACKING_URI``/``MLFLOW_TRACKING_URI``);
you sign in with ``BAKEHOUSE_TRACKING_USERNAME``/``PASSWORD`` (or the ``MLFLOW_`` ones) or an existing token
(``BAKEHOUSE_TRACKING_TOKEN``). A new token's secret is printed once, alone on stdout, so a script can
capture it; the server keeps only its hash and cannot show it again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from bakehouse.cli import output
from bakehouse.cli.options import FullHelpGroup, json_option, server_transport, tracking_uri_option

if TYPE_CHECKING:
    from bakehouse.wire.transport import HttpTransport

TOKENS_API = "/api/2.0/bakehouse/tokens"
MAX_EXPIRY_DAYS = 3650


def _transport(tracking_uri: str | None) -> HttpTransport:
    return server_transport(tracking_uri, "API tokens")


@click.group("tokens", cls=FullHelpGroup)
def tokens_group() -> None:
    """Manage your API tokens (for servers started with --auth)."""


@tokens_group.command("create")
@click.option("--name", default=None, help="A label to recognise the token by in `bakehouse tokens list`.")
@click.option(
    "--expires-in-days",
    type=click.IntRange(1, MAX_EXPIRY_DAYS),
    default=None,
    help="Days until the token stops working (server default: 90).",
)
@tracking_uri_option
@json_option
def create(name: str | None, expires_in_days: int | None, tracking_uri: str | None, as_json: bool) -> None:
    """Create a token; its secret is printed once. Use it as MLFLOW_TRACKING_TOKEN or `Authorization: Bearer`."""
    body: dict[str, Any] = {}
    if name:
        body["name"] = name
    if expires_in_days is not None:
        body["expires_in_days"] = expires_in_days
    result = _transport(tracking_uri).call("POST", f"{TOKENS_API}/create", body)
    if as_json:
        output.print_json(result)
        return
    info = result.get("token_info") or {}
    expires = output.format_time(info.get("expires_time")) or "never"
    output.info(
        f"Created token {info.get('id')} ({info.get('prefix')}…), expires {expires} UTC. "
        "Store it now: it will not be shown again."
    )
    click.echo(result["token"])


@tokens_group.command("list")
@tracking_uri_option
@json_option
def list_tokens(tracking_uri: str | None, as_json: bool) -> None:
    """List your tokens (id, name, prefix, dates, revoked); never their secrets."""
    tokens = _transport(tracking_uri).call("GET", f"{TOKENS_API}/list").get("tokens", [])
    if as_json:
        output.print_json(tokens)
        return
    rows = [
        (
            t.get("id"),
            t.get("name"),
            f"{t.get('prefix', '')}…",
            output.format_time(t.get("created_time")),
            output.format_time(t.get("expires_time")) or "never",
            "yes" if t.get("revoked") else "no",
        )
        for t in tokens
    ]
    output.print_table(
        ("ID", "Name", "Prefix", "Created (UTC)", "Expires (UTC)", "Revoked"),
        rows,
        title="API tokens",
        empty="No API tokens.",
    )


@tokens_group.command("revoke")
@click.argument("token_id", type=click.IntRange(min=1))
@tracking_uri_option
def revoke(token_id: int, tracking_uri: str | None) -> None:
    """Revoke the token TOKEN_ID (see `bakehouse tokens list`).

    It stops working at once on the server process that handled this call; other worker processes of a
    multi-worker server may still accept it from their credential cache for up to 10 seconds.
    """
    _transport(tracking_uri).call("POST", f"{TOKENS_API}/revoke", {"token_id": token_id})
    output.success(f"Revoked token {token_id}")


if (
    __name__ == "__main__"
):  # pragma: no cover - `python -m bakehouse.cli.tokens ...`, with the CLI's error lines
    import sys

    from bakehouse.cli.main import main

    main.add_command(tokens_group)
    main(["tokens", *sys.argv[1:]], prog_name="bakehouse")
