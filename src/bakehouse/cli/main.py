"""The ``bakehouse`` command: one click group; each noun lives in its own module, imported only when used.

Commands are referenced as ``"module:attribute"`` strings, so ``bakehouse --version`` imports neither rich,
SQLAlchemy nor the server. A command whose module is not installed/built is simply not listed.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from typing import Any

import click

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
    "users": "bakehouse.cli.users:users_group",
    "permissions": "bakehouse.cli.permissions:permissions_group",
}

#: Hooks that extend a lazily loaded group: group name -> "module:function(group)".
GROUP_EXTENSIONS: dict[str, list[str]] = {
    "models": ["bakehouse.cli.registry:add_registry_commands"],
}


class CommandLoadError(click.ClickException):
    pass


def _module_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def load_command(name: str, strict: bool) -> click.Command | None:
    """Import the command ``name``; None when its module is absent (not built yet / not installed).

    ``strict``: a module that exists but fails to import raises (when the user asked for that command);
    otherwise (help listings) it is skipped with a log message.
    """
    reference = LAZY_COMMANDS.get(name)
    if reference is None:
        return None
    module_name, _, attribute = reference.partition(":")
    if not _module_exists(module_name):
        return None
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        if strict:
            raise CommandLoadError(
                f"The '{name}' command failed to load: {type(exc).__name__}: {exc}"
            ) from exc
        logging.getLogger(__name__).debug("skipping command %s: %s", name, exc)
        return None
    command = getattr(module, attribute, None)
    if not isinstance(command, click.Command):
        return None
    for hook_reference in GROUP_EXTENSIONS.get(name, []):
        _apply_extension(command, hook_reference)
    return command


_extended: set[tuple[int, str]] = set()


def _apply_extension(command: click.Command, reference: str) -> None:
    key = (id(command), reference)
    if key in _extended:
        return
    module_name, _, attribute = reference.partition(":")
    if not _module_exists(module_name):
        return
    hook = getattr(importlib.import_module(module_name), attribute, None)
    if hook is not None:
        hook(command)
    _extended.add(key)


class BakehouseGroup(click.Group):
    """Lazily loads subcommands and turns exceptions into one clear line + exit code 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        names.update(name for name, ref in LAZY_COMMANDS.items() if _module_exists(ref.partition(":")[0]))
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        # resilient_parsing is set while help/completion lists commands: never fail there.
        return load_command(cmd_name, strict=not ctx.resilient_parsing)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = super().get_command(ctx, name) or load_command(name, strict=False)
            if command is None or command.hidden:
                continue
            rows.append((name, command.get_short_help_str(limit=formatter.width - 6 - len(name))))
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
        output.error(exc.message)
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
