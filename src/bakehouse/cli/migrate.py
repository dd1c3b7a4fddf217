"""``bakehouse migrate`` (move a whole MLflow or Bakehouse store) and ``bakehouse sync`` (push offline runs)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Self

import click

from bakehouse.cli import output

if TYPE_CHECKING:
    from bakehouse.migrate.engine import MigrationOptions
    from bakehouse.migrate.report import MigrationReport

_KIND_LABELS = {
    "experiments": "experiments",
    "runs": "runs",
    "metrics": "metric histories",
    "datasets": "datasets",
    "inputs": "dataset/model links",
    "logged_models": "logged models",
    "registered_models": "registered models",
    "model_versions": "model versions",
    "artifacts": "artifact files",
}


class RichMigrationProgress:
    """Bars for objects, metric points and artifact bytes, plus the current stage (on stderr)."""

    def __init__(self, enabled: bool) -> None:
        from rich.filesize import decimal
        from rich.progress import (  # rich: only when a migration runs
            BarColumn,
            Progress,
            ProgressColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        class AmountColumn(ProgressColumn):
            """``done/total``, in bytes for the artifact bar."""

            def render(self, task: Any) -> Text:
                if task.total is None:
                    return Text("")
                if task.fields.get("unit") == "bytes":
                    return Text(f"{decimal(int(task.completed))}/{decimal(int(task.total))}")
                return Text(f"{int(task.completed):,}/{int(task.total):,}")

        self._progress = Progress(
            TextColumn("[bold]{task.description:<16}"),
            BarColumn(),
            TaskProgressColumn(),
            AmountColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=output.console(stderr=True),
            disable=not enabled,
            transient=False,
        )
        self._tasks: dict[str, Any] = {}
        self._stage: Any = None

    def __enter__(self) -> Self:
        self._progress.start()
        self._stage = self._progress.add_task("", total=None)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._stage is not None:
            self._progress.update(self._stage, description="done", visible=False)
        self._progress.stop()

    def stage(self, text: str) -> None:
        self._progress.update(self._stage, description=text[:60])

    def start(self, task: str, total: int) -> None:
        if total <= 0:
            return
        self._tasks[task] = self._progress.add_task(task, total=total, unit=task)

    def advance(self, task: str, amount: int = 1) -> None:
        handle = self._tasks.get(task)
        if handle is not None and amount:
            self._progress.update(handle, advance=amount)


def _common_options(func: Any) -> Any:
    func = click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (for scripts).")(
        func
    )
    func = click.option(
        "--verify",
        type=click.Choice(["summary", "points", "none"]),
        default="summary",
        show_default=True,
        help="Check the destination afterwards: every history's summary, or every point and artifact byte.",
    )(func)
    func = click.option("--dry-run", is_flag=True, help="Show what would move; change nothing.")(func)
    func = click.option(
        "--artifact-root",
        metavar="URI",
        default=None,
        help="Where copied artifacts go when DEST is a database "
        "(default: BAKEHOUSE_DEFAULT_ARTIFACT_ROOT, else ./bakehouse-artifacts).",
    )(func)
    func = click.option(
        "--artifacts",
        type=click.Choice(["copy", "reference"]),
        default="copy",
        show_default=True,
        help="Copy artifacts into DEST's artifact store, or leave them where they are and point at them.",
    )(func)
    return func


@click.command("migrate")
@click.option(
    "--from",
    "source",
    required=True,
    metavar="SOURCE",
    help="An MLflow or Bakehouse database (sqlite:///mlflow.db, postgresql://..., mysql://...), an MLflow "
    "file store (./mlruns) or a tracking server (http://host:5000).",
)
@click.option(
    "--to",
    "destination",
    default=None,
    metavar="DEST",
    help="A Bakehouse tracking URI: a database or a Bakehouse server; an MLflow server to leave "
    "(default: BAKEHOUSE_TRACKING_URI, else ./bakehouse.db).",
)
@click.option(
    "--artifacts-destination",
    "source_artifacts",
    default=None,
    metavar="URI",
    help="When SOURCE is the database of an MLflow server that proxied artifacts (mlflow-artifacts:/ URIs): "
    "that server's --artifacts-destination (a directory, s3://...) or its URL.",
)
@click.option("--skip-registry", is_flag=True, help="Leave registered models, versions and prompts out.")
@click.option(
    "--batch-points",
    type=click.IntRange(min=1),
    default=250_000,
    hidden=True,
    help="Metric points per write transaction (smaller: less to redo after an interruption).",
)
@_common_options
def migrate_command(
    source: str,
    destination: str | None,
    source_artifacts: str | None,
    skip_registry: bool,
    batch_points: int,
    artifacts: str,
    artifact_root: str | None,
    dry_run: bool,
    verify: str,
    as_json: bool,
) -> None:
    """Move an MLflow (or Bakehouse) store into Bakehouse, or back into MLflow, keeping every id.

    Copies experiments, runs with every metric point, datasets, logged models, the registry (versions, stages,
    aliases, prompts) and artifacts from SOURCE into DEST; SOURCE is only read.

    Safe to repeat: a second run copies only what changed, an interrupted run resumes, and a conflict (the
    same id holding different content on both sides) stops before anything is written. Examples:

    \b
    bakehouse migrate --from sqlite:///mlflow.db --to sqlite:///bakehouse.db
    bakehouse migrate --from ./mlruns --to postgresql://user@db/bakehouse --artifacts reference
    bakehouse migrate --from http://mlflow:5000 --to http://bakehouse:5000
    bakehouse migrate --from sqlite:///bakehouse.db --to http://mlflow:5000     # and back to MLflow
    """
    from bakehouse.migrate.engine import MigrationOptions

    options = MigrationOptions(
        artifacts=artifacts,
        dry_run=dry_run,
        verify=verify,
        include_registry=not skip_registry,
        batch_points=batch_points,
    )
    _run(source, destination, options, artifact_root, as_json, source_artifacts)


@click.command("sync")
@click.argument("source", required=False, metavar="[SOURCE]")
@click.option(
    "--to", "destination", required=True, metavar="URL", help="The team's tracking server (or database)."
)
@_common_options
def sync_command(
    source: str | None,
    destination: str,
    artifacts: str,
    artifact_root: str | None,
    dry_run: bool,
    verify: str,
    as_json: bool,
) -> None:
    """Push runs logged offline to a team server: only what it lacks.

    SOURCE (default: BAKEHOUSE_TRACKING_URI, else ./bakehouse.db) is a Bakehouse store; new runs, new points
    and artifact files go to URL.

    Run it as often as you like: only what the server lacks is sent. Experiments are matched by name (a new
    one is created on the server), run and logged-model ids are kept; the registry stays where it is.

    \b
    bakehouse sync --to https://tracking.example.com
    bakehouse sync sqlite:///scratch/bakehouse.db --to https://tracking.example.com
    """
    from bakehouse import settings
    from bakehouse.migrate.engine import MigrationOptions

    options = MigrationOptions(
        artifacts=artifacts, dry_run=dry_run, verify=verify, experiments_by_name=True, include_registry=False
    )
    _run(
        source or settings.tracking_uri_from_env() or settings.default_tracking_uri(),
        destination,
        options,
        artifact_root,
        as_json,
    )


def _run(
    source: str,
    destination: str | None,
    options: MigrationOptions,
    artifact_root: str | None,
    as_json: bool,
    source_artifacts: str | None = None,
) -> None:
    from bakehouse import settings
    from bakehouse.migrate.errors import MigrationConflictError
    from bakehouse.migrate.session import open_migration

    target = destination or settings.tracking_uri_from_env() or settings.default_tracking_uri()
    interactive = not as_json and output.console(stderr=True).is_terminal
    with open_migration(source, target, options, artifact_root, source_artifacts) as migration:
        if not as_json:
            verb = "Would move" if options.dry_run else "Moving"
            output.info(f"{verb} {migration.source_description} → {migration.destination_description}")
        try:
            with RichMigrationProgress(enabled=interactive) as progress:
                report = migration.run(progress)
        except MigrationConflictError as exc:
            if as_json:
                click.echo(json.dumps({"conflicts": exc.conflicts, "changed": False}, indent=2))
            else:
                for conflict in exc.conflicts:
                    output.warn(conflict)
            raise
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2, default=str))
    else:
        _print_report(report)
    if not report.verified:
        raise click.ClickException(
            "The destination does not hold exactly what was copied (see the checksums above); run again to retry"
        )


def _print_report(report: MigrationReport) -> None:
    from rich.table import Table

    title = "Dry run: nothing was changed" if report.dry_run else f"Migrated in {report.seconds:.1f} s"
    table = Table(title=title, title_justify="left")
    table.add_column("kind")
    for name in ("source", "new", "updated", "unchanged"):
        table.add_column(name, justify="right")
    table.add_column("checksum")
    table.add_column("check")
    for kind in report.kinds.values():
        if not kind.source and not kind.created:
            continue
        check = (
            "" if kind.verified is None else ("[green]✓[/]" if kind.verified else f"[red]✗ {kind.found}[/]")
        )
        table.add_row(
            _KIND_LABELS.get(kind.kind, kind.kind),
            str(kind.source),
            str(kind.created),
            str(kind.updated),
            str(kind.unchanged),
            kind.expected or "",
            check,
        )
    output.console().print(table)
    if not report.dry_run:
        size = report.artifact_bytes_copied
        output.console().print(
            f"{report.metric_points_written:,} metric points written; {report.artifact_files_copied:,} artifact "
            f"files copied ({size / 1e6:,.1f} MB); artifacts {'copied' if report.artifacts == 'copy' else 'referenced in place'}."
        )
