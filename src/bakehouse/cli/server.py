"""``bakehouse server`` and ``bakehouse ui``: the tracking server (REST API, artifact proxy, web UI)."""

from __future__ import annotations

import secrets
import socket
import sys
from typing import Any

import click

from bakehouse.cli.options import resolve_store_uri, store_uri_file_option
from bakehouse.server.config import DEFAULT_BACKEND_STORE_URI, LOOPBACK_HOSTS, ServerConfig
from bakehouse.settings import DEFAULT_ARTIFACTS_DIR, session_secret_key

_CONTEXT = {"help_option_names": ["--help"]}  # -h is --host, as in MLflow


def _split(values: tuple[str, ...] | str | None) -> list[str]:
    out: list[str] = []
    for value in [values] if isinstance(values, str) else values or ():
        out += [v.strip() for v in value.split(",") if v.strip()]
    return out


def _exposure_warning(host: str, config: ServerConfig) -> str:
    what = []
    if not config.artifacts_only:
        what.append("the tracking REST API (read and write: experiments, runs, models, registry)")
    if config.serve_artifacts:
        what.append(
            f"the artifact proxy (read, write and delete of files under {config.artifacts_destination})"
        )
    if not config.artifacts_only and config.serve_ui:
        what.append("the web UI")
    auth = (
        "with authentication (--app-name)"
        if config.app_name
        else "WITHOUT authentication (add --app-name basic-auth, or put an authenticating proxy in front)"
    )
    return (
        f"Binding to {host} exposes "
        + ", ".join(what)
        + f" to every machine that can reach this host, {auth}."
        " Requests must also carry an allowed Host header (--allowed-hosts)."
    )


def _check_schema(config: ServerConfig) -> None:
    """Fail fast with the store's clear message (it names ``bakehouse db upgrade``) before serving."""
    from bakehouse.server.app import create_tracking_store

    store = create_tracking_store(config)
    check = getattr(store, "check_schema", None)
    if check is not None:
        check()
    engine = getattr(store, "engine", None)
    if engine is not None and hasattr(engine, "dispose"):
        engine.dispose()  # workers are forked next; each opens its own connections


def run_server(config: ServerConfig) -> None:
    from bakehouse.cli import output
    from bakehouse.cli.ports import bind_port
    from bakehouse.server.metrics_files import prepare_multiprocess_dir, remove_multiprocess_dir
    from bakehouse.store.db.engine import share_connection_budget

    config = config.normalized()
    # the port first: a busy one fails now, before a database is created or an admin is asked for
    sock = bind_port(config.host, config.port)
    # Before anything imports the metrics library (it picks its storage at import): workers share a directory.
    metrics_dir = prepare_multiprocess_dir() if config.workers > 1 else None
    try:
        share_connection_budget(config.workers)
        if config.host in ("0.0.0.0", "::"):
            output.warn(_exposure_warning(config.host, config))
        if config.app_name:
            _ensure_admin(config)
            _share_session_key(config, output)
        _serve(config, sock)
    finally:
        sock.close()
        remove_multiprocess_dir(metrics_dir)


def _serve(config: ServerConfig, sock: socket.socket) -> None:
    from bakehouse.cli.ports import bound_url
    from bakehouse.server.runner import serve

    app = None
    if config.workers <= 1:
        from bakehouse.server.app import create_app

        app = create_app(config)  # checks the schema while building the store
        store = app.state.tracking_store
        if store is not None and hasattr(store, "check_schema"):
            store.check_schema()
    elif not config.artifacts_only:
        _check_schema(config)
    url = bound_url(sock, config.host, f"{config.static_prefix or ''}/")
    click.echo(
        f"Bakehouse server listening on {url} "
        f"({config.workers} worker{'s' if config.workers != 1 else ''}; store {_redact(config.backend_store_uri)})",
        err=True,
    )
    serve(config, app, sock=sock)


def _share_session_key(config: ServerConfig, output: Any) -> None:
    """Browser sessions must verify on every worker: without BAKEHOUSE_SECRET_KEY the parent makes one key
    for all of them (valid until this server stops, and only on it)."""
    if session_secret_key():
        return
    config.session_secret = secrets.token_hex(32)
    if config.host not in LOOPBACK_HOSTS:
        output.warn(
            "BAKEHOUSE_SECRET_KEY is not set: browser sessions are signed with a key made at start. They work on "
            "every worker of this server but end when it restarts, and another server behind the same proxy "
            "refuses them. Set BAKEHOUSE_SECRET_KEY (the same random value on every server) to share them."
        )


def _ensure_admin(config: ServerConfig) -> None:
    """The first administrator: from BAKEHOUSE_ADMIN_PASSWORD, or asked for when a person is at the terminal."""
    from bakehouse.server.auth import ensure_admin

    def prompt() -> str:
        if not sys.stdin.isatty():
            return ""
        return str(
            click.prompt(
                "No administrator exists yet. Choose the admin password",
                hide_input=True,
                confirmation_prompt=True,
            )
        )

    ensure_admin(config, prompt)


def _redact(uri: str) -> str:
    """Never print a database password."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(uri)
    except ValueError:
        return uri
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return uri


def _server_options(func: Any) -> Any:
    options = [
        click.option(
            "--backend-store-uri",
            default=None,
            metavar="URI",
            help="Tracking database: sqlite:///path.db, postgresql://..., mysql://... (default: "
            f"BAKEHOUSE_BACKEND_STORE_URI, else {DEFAULT_BACKEND_STORE_URI}).",
        ),
        store_uri_file_option,
        click.option(
            "--registry-store-uri",
            default=None,
            metavar="URI",
            help="Model registry database (default: the backend store).",
        ),
        click.option(
            "--default-artifact-root",
            default=None,
            metavar="URI",
            help="Artifact root for new experiments (default: mlflow-artifacts:/ when serving artifacts, "
            "else --artifacts-destination).",
        ),
        click.option(
            "--serve-artifacts/--no-serve-artifacts",
            default=True,
            show_default=True,
            help="Proxy artifact uploads and downloads through this server.",
        ),
        click.option(
            "--artifacts-destination",
            default=f"./{DEFAULT_ARTIFACTS_DIR}",
            show_default=True,
            metavar="URI",
            help="Where proxied artifacts are stored: a local directory or s3://bucket/prefix.",
        ),
        click.option(
            "--artifacts-only", is_flag=True, help="Serve only the artifact proxy (no tracking API, no UI)."
        ),
        click.option(
            "-h",
            "--host",
            default="127.0.0.1",
            show_default=True,
            help="Interface to bind; 0.0.0.0 exposes the server to the network.",
        ),
        click.option(
            "-p",
            "--port",
            default=5000,
            show_default=True,
            type=click.IntRange(0, 65535),
            help="Port to listen on.",
        ),
        click.option(
            "-w",
            "--workers",
            default=1,
            show_default=True,
            type=click.IntRange(1, 64),
            help="Worker processes sharing the port.",
        ),
        click.option(
            "--allowed-hosts",
            multiple=True,
            metavar="HOSTS",
            help="Extra Host header values to accept (comma-separated; '*.example.com' wildcards; '*' = any).",
        ),
        click.option(
            "--cors-allowed-origins",
            multiple=True,
            metavar="ORIGINS",
            help="Other origins allowed to call the API from a browser (comma-separated, wildcards ok). "
            "Default: none; the server's own pages always may.",
        ),
        click.option(
            "--static-prefix", default="", metavar="PREFIX", help="Path prefix for every route, e.g. /mlflow."
        ),
        click.option(
            "--x-frame-options",
            default="SAMEORIGIN",
            show_default=True,
            type=click.Choice(["SAMEORIGIN", "DENY", "NONE"], case_sensitive=False),
            help="The X-Frame-Options header of every response (NONE: no header, e.g. to embed the UI).",
        ),
        click.option(
            "--disable-security-middleware",
            is_flag=True,
            help="Turn off the Host check, CORS policy and security headers (only behind a proxy doing them).",
        ),
        click.option("--app-name", default=None, metavar="NAME", help="Server app plug-in, e.g. basic-auth."),
        click.option("--auth", "auth", is_flag=True, help="Shortcut for --app-name basic-auth."),
        click.option(
            "--auth-default-permission",
            default=None,
            type=click.Choice(["READ", "USE", "EDIT", "MANAGE", "NO_PERMISSIONS"], case_sensitive=False),
            help="With --auth: what users may do on experiments and models nobody granted them. Stored in the "
            "database for every server sharing it (default there: READ); see `bakehouse permissions default`.",
        ),
        click.option(
            "--rate-limit",
            default=1000.0,
            show_default=True,
            type=click.FloatRange(min=0),
            help="With --auth: requests per second per client address (0 = no limit).",
        ),
        click.option(
            "--login-failures-per-address",
            default=100,
            show_default=True,
            type=click.IntRange(min=5),
            help="With --auth: failed logins one address may make, over all user names, before every login "
            "from it is slowed down (each user name at an address gets 5).",
        ),
        click.option(
            "--webhook-delivery/--no-webhook-delivery",
            default=True,
            show_default=True,
            help="Send registry webhooks from this server (each worker claims due deliveries).",
        ),
        click.option(
            "--forwarded-allow-ips",
            default="",
            metavar="IPS",
            help="Reverse proxies whose X-Forwarded-For/-Proto headers are trusted (comma-separated).",
        ),
        click.option(
            "--log-level",
            default="info",
            show_default=True,
            type=click.Choice(["critical", "error", "warning", "info", "debug"], case_sensitive=False),
            help="How much the server logs.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _config_from(kwargs: dict[str, Any]) -> ServerConfig:
    app_name = kwargs.pop("app_name", None)
    if kwargs.pop("auth", False):
        app_name = app_name or "basic-auth"
    backend_store_uri = resolve_store_uri(kwargs["backend_store_uri"], kwargs["store_uri_file"])
    return ServerConfig(
        backend_store_uri=backend_store_uri or DEFAULT_BACKEND_STORE_URI,
        registry_store_uri=kwargs["registry_store_uri"],
        default_artifact_root=kwargs["default_artifact_root"],
        serve_artifacts=kwargs["serve_artifacts"],
        artifacts_destination=kwargs["artifacts_destination"],
        artifacts_only=kwargs["artifacts_only"],
        host=kwargs["host"],
        port=kwargs["port"],
        workers=kwargs["workers"],
        allowed_hosts=_split(kwargs["allowed_hosts"]),
        cors_allowed_origins=_split(kwargs["cors_allowed_origins"]),
        static_prefix=kwargs["static_prefix"],
        x_frame_options=kwargs["x_frame_options"].upper(),
        disable_security_middleware=kwargs["disable_security_middleware"],
        app_name=app_name,
        log_level=kwargs["log_level"].lower(),
        auth_default_permission=(kwargs["auth_default_permission"] or "").upper() or None,
        rate_limit_per_second=kwargs["rate_limit"],
        login_failures_per_address=kwargs["login_failures_per_address"],
        forwarded_allow_ips=kwargs["forwarded_allow_ips"],
        deliver_webhooks=kwargs["webhook_delivery"] and not kwargs["artifacts_only"],
    )


@click.command("server", context_settings=_CONTEXT)
@_server_options
def server_command(**kwargs: Any) -> None:
    """Run the tracking server: MLflow-compatible REST API, artifact proxy and web UI."""
    run_server(_config_from(kwargs))


@click.command("ui", context_settings=_CONTEXT)
@_server_options
def ui_command(**kwargs: Any) -> None:
    """Open the web UI on the local default store (the same server as ``bakehouse server``)."""
    run_server(_config_from(kwargs))


if __name__ == "__main__":  # pragma: no cover
    server_command(sys.argv[1:])
