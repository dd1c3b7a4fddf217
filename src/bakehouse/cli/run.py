"""``bakehouse run``: run an MLproject (local dir, file://, .zip or git URL) as a tracked run, or a sweep."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import click

from bakehouse.cli import output
from bakehouse.cli.options import tracking_uri_option
from bakehouse.cli.triggers import run_triggered

ENV_MANAGER_CHOICE = click.Choice(["local", "virtualenv", "uv", "conda"])
EXIT_FAILED = 1
EXIT_KILLED = 130


class RichBuildProgress:
    """Environment build steps as a rich progress bar on stderr (the library only reports the steps)."""

    def __init__(self) -> None:
        self._progress: Any = None
        self._task: Any = None
        self._title = ""
        self._started = 0

    def begin(self, title: str, steps: int) -> None:
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._title = title
        self._started = 0
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=20),
            TimeElapsedColumn(),
            TextColumn("[dim]{task.fields[step]}"),
            console=output.console(stderr=True),
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(title, total=steps, step="")

    def advance(self, message: str) -> None:
        if self._progress is None:
            return
        if self._started:
            self._progress.advance(self._task)
        self._started += 1
        self._progress.update(self._task, step=message)

    def note(self, message: str) -> None:
        output.info(message)

    def end(self) -> None:
        if self._progress is not None:
            task = self._progress.tasks[0]
            self._progress.update(self._task, completed=task.total, step="done")
            self._progress.stop()
            self._progress = None


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@click.command("run")
@click.argument("uri", default=".")
@click.option("--entry-point", "-e", default="main", show_default=True, help="Entry point to run.")
@click.option("--version", "-v", "version", default=None, help="Git branch, tag or commit to run.")
@click.option(
    "--param-list",
    "-P",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A parameter for the entry point (repeatable).",
)
@click.option("--experiment-name", default=None, help="Experiment to log into (created if missing).")
@click.option("--experiment-id", default=None, help="Experiment id to log into.")
@click.option("--run-name", default=None, help="Name of the run (of the parent run for sweeps).")
@click.option(
    "--env-manager",
    type=ENV_MANAGER_CHOICE,
    default=None,
    help="Environment: local, virtualenv, uv or conda (default: from the project's environment file).",
)
@click.option("--build-env-only", is_flag=True, help="Build (or reuse) the environment, then stop.")
@click.option(
    "--strict-python",
    is_flag=True,
    help="Fail when the Python version the environment asks for is not installed "
    "(default: use the nearest installed one and say so).",
)
@click.option("--backend", "-b", default="local", show_default=True, help="local or kubernetes.")
@click.option(
    "--backend-config", "-c", default=None, metavar="FILE|JSON", help="Backend config (JSON file or inline)."
)
@click.option(
    "--sweep",
    "sweeps",
    multiple=True,
    metavar="NAME=V1,V2,...",
    help="Run every combination of these values as child runs of one parent run (repeatable).",
)
@click.option(
    "--parallel",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="How many sweep runs execute at once.",
)
@click.option(
    "--dry-run", is_flag=True, help="Validate and print what would run (the command, or the Kubernetes Job)."
)
@click.option(
    "--storage-dir",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where remote 'path' parameters are downloaded (default: a temporary directory).",
)
@click.option(
    "--every",
    default=None,
    metavar="INTERVAL",
    help="Run again every INTERVAL (30s, 15m, 1h, 1d) until interrupted; with --backend kubernetes, a CronJob.",
)
@click.option(
    "--on-new-data",
    "on_new_data",
    default=None,
    metavar="PATH|s3://PREFIX",
    help="Run whenever new files appear there; each new file is recorded as a dataset input of the run.",
)
@click.option(
    "--poll-interval",
    default="60s",
    show_default=True,
    metavar="INTERVAL",
    help="How often --on-new-data looks for new files.",
)
@click.option(
    "--data-param",
    default=None,
    metavar="NAME",
    help="Entry-point parameter that receives the newest file (default: 'data', when the entry point has it).",
)
@click.option("--skip-existing", is_flag=True, help="With --on-new-data: ignore the files already there.")
@click.option("--once", is_flag=True, help="With --on-new-data: check once, run if there is new data, exit.")
@click.option(
    "--max-runs", default=None, type=click.IntRange(min=1), help="Stop after this many triggered runs."
)
@tracking_uri_option
def run_command(
    uri: str,
    entry_point: str,
    version: str | None,
    params: tuple[str, ...],
    experiment_name: str | None,
    experiment_id: str | None,
    run_name: str | None,
    env_manager: str | None,
    build_env_only: bool,
    strict_python: bool,
    backend: str,
    backend_config: str | None,
    sweeps: tuple[str, ...],
    parallel: int,
    dry_run: bool,
    storage_dir: Path | None,
    every: str | None,
    on_new_data: str | None,
    poll_interval: str,
    data_param: str | None,
    skip_existing: bool,
    once: bool,
    max_runs: int | None,
    tracking_uri: str | None,
) -> None:
    """Run the MLproject at URI (a directory, file://, .zip or git URL with #subdir) as a tracked run."""
    from bakehouse.projects.backends.kubernetes import load_backend_config
    from bakehouse.projects.parameters import parse_param_pairs
    from bakehouse.projects.runner import ProjectRunRequest, run_project
    from bakehouse.server.bridge import serve_local_store

    logging.getLogger("bakehouse.projects").setLevel(logging.INFO)
    request = ProjectRunRequest(
        uri=uri,
        entry_point=entry_point,
        version=version,
        parameters=parse_param_pairs(list(params)),
        experiment_name=experiment_name,
        experiment_id=experiment_id,
        run_name=run_name,
        env_manager=env_manager,
        backend=backend,
        backend_config=load_backend_config(backend_config),
        sweeps=list(sweeps),
        parallel=parallel,
        build_env_only=build_env_only,
        dry_run=dry_run,
        storage_dir=storage_dir,
        tracking_uri=tracking_uri,
        strict_python=strict_python,
    )
    if every or on_new_data or once or skip_existing or max_runs:
        run_triggered(
            request,
            every,
            on_new_data,
            poll_interval,
            data_param,
            skip_existing,
            once,
            max_runs,
            progress=RichBuildProgress(),
        )
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        # a local store is served to the run's processes, so the official mlflow client there logs to it too
        result = run_project(request, progress=RichBuildProgress(), bridge=serve_local_store)
    except KeyboardInterrupt:
        output.error(
            "Interrupted: the run in progress (if any) was marked KILLED and its processes were stopped"
        )
        sys.exit(EXIT_KILLED)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if dry_run or build_env_only:
        for line in result.plan:
            click.echo(line)
        if build_env_only and result.environment is not None:
            state = "reused from the cache" if result.environment.cached else "built"
            output.info(f"Environment {state}.")
        return
    if result.children:
        output.print_table(
            ("Run ID", "Status", "Params"),
            ((c.run_id or "", c.status or "", output.format_pairs(c.params)) for c in result.children),
            title=f"Sweep {result.run_id} ({len(result.children)} runs)",
        )
    output.info(f"Run {result.run_id} {result.status} (experiment {result.experiment_id})")
    if result.status == "KILLED":
        sys.exit(EXIT_KILLED)
    if not result.succeeded:
        sys.exit(EXIT_FAILED)
