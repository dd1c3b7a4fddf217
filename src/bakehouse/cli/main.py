"""The ``bakehouse`` command: one click group; each noun lives in its own module, imported only when used.

Commands are referenced as ``"module:attribute"`` strings, so ``bakehouse --version`` imports neither rich,
SQLAlchemy nor the server. Every command is ours: one whose module fails to import (or lacks its
attribute) is an error that stops the CLI with one clear line naming the command, in ``--help`` too, rather
than a command that silently goes missing.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from bakehouse.cli.options import SHORT_HELP_LIMIT
from bakehouse.version import __version__

#: name -> "module:attribute" of a click command or group.
LAZY_COMMANDS: dict[str, str] = {
    "server": "bakehouse.cli.server:server_command",
    "ui": "bakehouse.cli.server:ui_command",
    "models": "bakehouse.cli.models:models_group",
    "run": "bakehouse.cli.run:run_command",
    "experiments": "bakehouse.cli.experiments:experiments_group",
    "runs": "bakehouse.cli.runs:runs_group",
    "artifacts": "bakehouse.cli.artifacts:artifacts_group",
    "db": "bakehouse.cli.db:db_group",
    "gc": "bakehouse.cli.gc:gc_command",
    "tokens": "bakehouse.cli.tokens:tokens_group",
    "migrate": "bakehouse.cli.migrate:migrate_command",
    "sync": "bakehouse.cli.migrate:sync_command",
    "webhooks": "bakehouse.cli.webhooks:webhooks_group",
    "users": "bakehouse.cli.users:users_group",
    "permissions": "bakehouse.cli.permissions:permissions_group",
}

#: Hooks that extend a lazily loaded group: group name -> "module:function(group)".
GROUP_EXTENSIONS: dict[str, list[str]] = {
    "models": ["bakehouse.cli.registry:add_registry_commands", "bakehouse.cli.drift:add_drift_command"],
}


class CommandLoadError(click.ClickException):
    pass


def _import_reference(name: str, reference: str) -> object:
    """The object ``"module:attribute"`` names; CommandLoadError (naming ``name``) if it cannot be had."""
    module_name, _, attribute = reference.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except Exception as exc:
        raise CommandLoadError(f"The '{name}' command failed to load: {type(exc).__name__}: {exc}") from exc


def load_command(name: str) -> click.Command | None:
    """Import the command ``name`` (None if there is no such command)."""
    reference = LAZY_COMMANDS.get(name)
    if reference is None:
        return None
    command = _import_reference(name, reference)
    if not isinstance(command, click.Command):
        raise CommandLoadError(f"The '{name}' command failed to load: {reference} is not a click command")
    for hook_reference in GROUP_EXTENSIONS.get(name, []):
        _apply_extension(name, command, hook_reference)
    return command


_extended: set[tuple[int, str]] = set()


def _apply_extension(name: str, command: click.Command, reference: str) -> None:
    key = (id(command), reference)
    if key in _extended:
        return
    hook = _import_reference(name, reference)
    if not callable(hook):
        raise CommandLoadError(f"The '{name}' command failed to load: {reference} is not callable")
    hook(command)
    _extended.add(key)


class BakehouseGroup(click.Group):
    """Lazily loads subcommands and turns exceptions into one clear line + exit code 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        return load_command(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            rows.append((name, command.get_short_help_str(limit=SHORT_HELP_LIMIT)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            raise click.exceptions.Abort() from None
        except Exception as exc:  # noqa: BLE001 - the one place errors become a user-facing line
            _report(exc, debug=bool(ctx.meta.get("bakehouse.debug")))
            ctx.exit(1)


def _report(exc: Exception, debug: bool) -> None:
    from bakehouse.cli import output
    from bakehouse.errors import BakehouseError

    if debug:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, BakehouseError):
        output.error(exc.cli_message)
    elif type(exc).__module__.startswith("sqlalchemy") and (driver_error := getattr(exc, "orig", None)):
        # the driver's own words, without SQLAlchemy's wrapper, statement and documentation link
        reason = " ".join(str(driver_error).split())
        output.error(f"The database refused or could not be reached: {reason}")
    else:
        message = str(exc) or type(exc).__name__
        hint = "" if debug else " (run with --debug for the traceback)"
        output.error(f"{type(exc).__name__}: {message}{hint}")


def _configure_logging(debug: bool) -> None:
    """The CLI is the only place that configures logging (the library never does)."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@click.group(
    cls=BakehouseGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110}
)
@click.version_option(__version__, "--version", "-V", prog_name="bakehouse", message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True, help="Show debug logs and full tracebacks on errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Bakehouse: track experiments, package and register models, serve them, run projects.

    Compatible with MLflow's clients, storage and model format.
    """
    ctx.meta["bakehouse.debug"] = debug
    _configure_logging(debug)


if __name__ == "__main__":
    main()
