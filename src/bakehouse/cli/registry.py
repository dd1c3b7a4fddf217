"""``bakehouse models register|list|describe|versions|set-alias|delete-alias|transition|history``.

Added to the ``models`` group by :func:`add_registry_commands` (see ``cli/main.py``'s GROUP_EXTENSIONS).
"""

from __future__ import annotations

import warnings
from typing import Any

import click

from bakehouse.cli import output
from bakehouse.cli.options import json_option, make_client


def _registry_options(func: Any) -> Any:
    func = click.option(
        "--registry-uri",
        default=None,
        metavar="URI",
        help="Registry store or server (default: BAKEHOUSE_REGISTRY_URI, else the tracking URI).",
    )(func)
    return click.option(
        "--tracking-uri",
        default=None,
        metavar="URI",
        help="Tracking store or server (default: BAKEHOUSE_TRACKING_URI, else ./bakehouse.db).",
    )(func)


def _client(tracking_uri: str | None, registry_uri: str | None) -> Any:
    if registry_uri is None:
        return make_client(tracking_uri)
    from bakehouse.client.client import Client

    return Client(tracking_uri=tracking_uri, registry_uri=registry_uri)


def _pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--tag")
        out[key] = value
    return out


def _aliases_of(version: Any) -> str:
    return ", ".join(f"@{a}" for a in version.aliases)


@click.command("register")
@click.option(
    "--model-uri", "-m", required=True, help="runs:/<run_id>/<path>, models:/<model_id> or an artifact URI."
)
@click.option("--name", "-n", required=True, help="Registered model name (created if missing).")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Version tag; repeatable.")
@click.option("--alias", "aliases", multiple=True, help="Point this alias at the new version; repeatable.")
@_registry_options
@json_option
def register(
    model_uri: str,
    name: str,
    tags: tuple[str, ...],
    aliases: tuple[str, ...],
    tracking_uri: str | None,
    registry_uri: str | None,
    as_json: bool,
) -> None:
    """Register a model: a new version of NAME from MODEL_URI."""
    client = _client(tracking_uri, registry_uri)
    version = client.register_model(model_uri, name, tags=_pairs(tags) or None)
    for alias in aliases:
        client.set_registered_model_alias(name, alias, version.version)
    if as_json:
        output.print_json(client.get_model_version(name, version.version))
        return
    output.success(f"Registered version {version.version} of model {name!r} from {version.source}")
    for alias in aliases:
        output.success(f"models:/{name}@{alias} -> version {version.version}")


@click.command("list")
@click.option(
    "--filter", "filter_string", default=None, help="e.g. \"name LIKE 'iris%' OR tags.team = 'ml'\"."
)
@click.option("--order-by", multiple=True, help="e.g. 'last_updated_timestamp DESC'; repeatable.")
@click.option(
    "--max-results",
    type=click.IntRange(1, 1000),
    default=100,
    show_default=True,
    help="At most this many models.",
)
@_registry_options
@json_option
def list_models(
    filter_string: str | None,
    order_by: tuple[str, ...],
    max_results: int,
    tracking_uri: str | None,
    registry_uri: str | None,
    as_json: bool,
) -> None:
    """List registered models."""
    models = _client(tracking_uri, registry_uri).search_registered_models(
        filter_string=filter_string, max_results=max_results, order_by=list(order_by) or None
    )
    if as_json:
        output.print_json(list(models))
        return
    output.print_table(
        ("Name", "Latest version", "Aliases", "Updated", "Description"),
        (
            (
                m.name,
                max((int(v.version) for v in m.latest_versions), default=""),
                ", ".join(f"@{a.alias}→v{a.version}" for a in m.aliases),
                output.format_time(m.last_updated_timestamp),
                m.description or "",
            )
            for m in models
        ),
        empty="No registered models found.",
    )


@click.command("describe")
@click.argument("name")
@_registry_options
@json_option
def describe(name: str, tracking_uri: str | None, registry_uri: str | None, as_json: bool) -> None:
    """Show a registered model: description, tags, aliases and versions."""
    client = _client(tracking_uri, registry_uri)
    model = client.get_registered_model(name)
    versions = client.search_model_versions(f"name = '{_quote(name)}'", order_by=["version_number DESC"])
    if as_json:
        output.print_json({"registered_model": model, "versions": list(versions)})
        return
    output.print_mapping(
        f"Model {model.name}",
        {
            "description": model.description or "",
            "created": output.format_time(model.creation_timestamp),
            "updated": output.format_time(model.last_updated_timestamp),
            "aliases": ", ".join(f"@{a.alias} → v{a.version}" for a in model.aliases),
            **{f"tag {k}": v for k, v in model.tags.items()},
        },
    )
    _print_versions(versions)


def _print_versions(versions: Any) -> None:
    output.print_table(
        ("Version", "Stage", "Aliases", "Source", "Run ID", "Created", "Description"),
        (
            (
                v.version,
                v.current_stage,
                _aliases_of(v),
                v.source,
                v.run_id or "",
                output.format_time(v.creation_timestamp),
                v.description or "",
            )
            for v in versions
        ),
        empty="No versions.",
    )


@click.command("versions")
@click.argument("name", required=False)
@click.option("--filter", "filter_string", default=None, help="e.g. \"run_id = '...'\" (combined with NAME).")
@click.option(
    "--max-results",
    type=click.IntRange(1, 200000),
    default=1000,
    show_default=True,
    help="At most this many versions.",
)
@_registry_options
@json_option
def versions(
    name: str | None,
    filter_string: str | None,
    max_results: int,
    tracking_uri: str | None,
    registry_uri: str | None,
    as_json: bool,
) -> None:
    """List model versions (of NAME, or matching --filter)."""
    clauses = [f"name = '{_quote(name)}'"] if name else []
    if filter_string:
        clauses.append(f"({filter_string})")
    found = _client(tracking_uri, registry_uri).search_model_versions(
        " AND ".join(clauses) or None, max_results=max_results, order_by=["name ASC", "version_number DESC"]
    )
    if as_json:
        output.print_json(list(found))
        return
    _print_versions(found)


@click.command("set-alias")
@click.argument("name")
@click.argument("alias")
@click.argument("version")
@_registry_options
def set_alias(
    name: str, alias: str, version: str, tracking_uri: str | None, registry_uri: str | None
) -> None:
    """Point models:/NAME@ALIAS at VERSION (moves it if it exists)."""
    client = _client(tracking_uri, registry_uri)
    client.set_registered_model_alias(name, alias, version)
    output.success(f"models:/{name}@{alias} -> version {version}")


@click.command("delete-alias")
@click.argument("name")
@click.argument("alias")
@_registry_options
def delete_alias(name: str, alias: str, tracking_uri: str | None, registry_uri: str | None) -> None:
    """Remove the alias ALIAS from NAME (an alias that does not exist is an error)."""
    from bakehouse.errors import NotFoundError

    client = _client(tracking_uri, registry_uri)
    # the model first: a missing model is reported as such, not as a missing alias
    aliases = {a.alias: a.version for a in client.get_registered_model(name).aliases}
    if alias not in aliases:
        known = ", ".join(f"@{a}" for a in sorted(aliases)) or "none"
        raise NotFoundError(f"Model {name!r} has no alias @{alias} (its aliases: {known})")
    client.delete_registered_model_alias(name, alias)
    output.success(f"Alias @{alias} removed from model {name!r} (it pointed at version {aliases[alias]})")


@click.command("transition")
@click.argument("name")
@click.argument("version")
@click.argument(
    "stage", type=click.Choice(["None", "Staging", "Production", "Archived"], case_sensitive=False)
)
@click.option(
    "--archive-existing-versions",
    is_flag=True,
    help="Archive the versions now in STAGE (Staging/Production only).",
)
@_registry_options
def transition(
    name: str,
    version: str,
    stage: str,
    archive_existing_versions: bool,
    tracking_uri: str | None,
    registry_uri: str | None,
) -> None:
    """Move VERSION of NAME to STAGE (stages are superseded by aliases, kept for existing workflows)."""
    client = _client(tracking_uri, registry_uri)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        result = client.transition_model_version_stage(name, version, stage, archive_existing_versions)
    output.success(f"Version {result.version} of {name!r} is now in stage {result.current_stage}")


@click.command("history")
@click.argument("name")
@click.option(
    "--max-results",
    type=click.IntRange(1, 100000),
    default=1000,
    show_default=True,
    help="At most this many events.",
)
@_registry_options
@json_option
def history(
    name: str, max_results: int, tracking_uri: str | None, registry_uri: str | None, as_json: bool
) -> None:
    """The audit trail of NAME: every alias move and stage transition (who, when, from → to)."""
    events = _client(tracking_uri, registry_uri).get_registry_history(name, max_results)
    if as_json:
        output.print_json(events)
        return
    output.print_table(
        ("When (UTC)", "User", "Event", "Alias", "Version", "From", "To"),
        (
            (
                output.format_time(e.timestamp),
                e.user_id or "",
                e.kind,
                f"@{e.alias}" if e.alias else "",
                e.version or "",
                e.from_value or "",
                e.to_value or "",
            )
            for e in events
        ),
        title=f"Registry history of {name}",
        empty=f"No alias or stage changes recorded for {name!r}.",
    )


def _quote(value: str) -> str:
    return value.replace("'", "\\'")


REGISTRY_COMMANDS = (register, list_models, describe, versions, set_alias, delete_alias, transition, history)


def add_registry_commands(group: click.Group) -> None:
    """Attach the registry commands to ``bakehouse models`` (called once by cli/main.py)."""
    for command in REGISTRY_COMMANDS:
        if command.name not in group.commands:
            group.add_command(command)
    serve = group.commands.get("serve")
    if serve is not None:
        add_watch_options(serve)


def add_watch_options(serve: click.Command) -> None:
    """Give ``models serve`` ``--watch/--watch-interval`` (continuous delivery from the registry).

    Without ``--watch`` the original command runs untouched; with it, the registry watcher serves instead.
    """
    if any(p.name == "watch" for p in serve.params) or serve.callback is None:
        return
    original = serve.callback
    serve.params.append(
        click.Option(
            ["--watch/--no-watch"],
            default=False,
            help="Follow a moving registry URI (models:/name@alias, /Stage, /latest): poll it and hot-swap new "
            "versions without dropping a request.",
        )
    )
    serve.params.append(
        click.Option(
            ["--watch-interval"],
            type=click.FloatRange(min=0.05),
            default=10.0,
            show_default=True,
            help="Seconds between registry polls with --watch.",
        )
    )

    def callback(**kwargs: Any) -> Any:
        watch = kwargs.pop("watch", False)
        interval = kwargs.pop("watch_interval", 10.0)
        if not watch:
            return original(**kwargs)
        return _serve_watching(interval=interval, **kwargs)

    serve.callback = callback


def _serve_watching(interval: float, model_uri: str, **kwargs: Any) -> None:
    import logging

    from bakehouse.cli.models import sampling_config
    from bakehouse.serving.registry_versions import is_watchable
    from bakehouse.serving.watch import serve_watching

    if not is_watchable(model_uri):
        raise click.BadParameter(
            "--watch needs a registry URI that can move: models:/<name>@<alias>, models:/<name>/<stage> or "
            "models:/<name>/latest",
            param_hint="--model-uri",
        )
    if kwargs.get("env_manager", "local") != "local":
        raise click.BadParameter(
            "--watch serves in this interpreter; use --env-manager local", param_hint="--watch"
        )
    from bakehouse.cli.models import announcer
    from bakehouse.cli.ports import bind_port

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    host = kwargs.get("host", "127.0.0.1")
    try:
        sock = bind_port(host, kwargs.get("port", 5000))  # a busy port fails before the model loads
        try:
            serve_watching(
                model_uri,
                interval=interval,
                host=host,
                port=kwargs.get("port", 5000),
                workers=kwargs.get("workers", 1),
                timeout=kwargs.get("timeout"),
                max_body_bytes=kwargs.get("max_body_bytes"),
                allow_pickle=kwargs.get("allow_pickle"),
                sock=sock,
                on_ready=announcer(sock, host),
                sampling=sampling_config(
                    kwargs.get("sample_inputs", False),
                    kwargs.get("sample_rate", 0.1),
                    kwargs.get("sample_max_rows", 10_000),
                    kwargs.get("sample_flush_interval", 60.0),
                ),
            )
        finally:
            sock.close()
    except Exception as exc:
        from bakehouse.errors import BakehouseError

        if isinstance(exc, BakehouseError):
            raise click.ClickException(exc.cli_message) from None
        raise
