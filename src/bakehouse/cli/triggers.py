"""``bakehouse run ... --every / --on-new-data``: the trigger loop (or a Kubernetes CronJob) around a project.

The loop itself is :class:`bakehouse.projects.triggers.Trigger`; this module checks the options, prints one
line per triggered run, and stops on Ctrl-C/SIGTERM (the run in progress is marked KILLED).
"""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import Any

import click

from bakehouse.cli import output

EXIT_FAILED = 1
EXIT_KILLED = 130


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _data_param(request: Any, requested: str | None) -> str | None:
    """The entry-point parameter that gets the newest file: the one named, else ``data`` if declared."""
    from bakehouse.projects.fetch import fetch_project
    from bakehouse.projects.spec import load_project

    fetched = fetch_project(request.uri, request.version)
    try:
        declared = load_project(fetched.directory).get_entry_point(request.entry_point).parameters
    finally:
        fetched.cleanup()
    if requested is not None and requested not in declared:
        raise click.BadParameter(
            f"entry point {request.entry_point!r} has no parameter {requested!r} (it has: "
            f"{', '.join(declared) or 'none'})",
            param_hint="--data-param",
        )
    if requested is not None:
        return requested
    return "data" if "data" in declared else None


def _history_experiments(request: Any, client: Any) -> list[str]:
    """Where earlier triggered runs are: the requested experiment (if it exists yet)."""
    from bakehouse import settings

    if request.experiment_id:
        return [str(request.experiment_id)]
    name = request.experiment_name or settings.experiment_name_from_env()
    if name:
        experiment = client.get_experiment_by_name(name)
        return [str(experiment.experiment_id)] if experiment is not None else []
    return [settings.experiment_id_from_env() or "0"]


def _schedule_on_kubernetes(
    request: Any, every: float | None, on_new_data: str | None, poll: float, data_param: str | None
) -> None:
    from bakehouse.projects.runner import schedule_on_kubernetes
    from bakehouse.projects.triggers import cron_schedule

    args: list[str] = []
    filled: dict[str, str] = {}
    if on_new_data:
        args = ["--on-new-data", on_new_data, "--once"]
        if data_param:
            args += ["--data-param", data_param]
            filled[data_param] = on_new_data
    schedule = cron_schedule(every if every is not None else poll)
    result = schedule_on_kubernetes(request, schedule, args, filled_by_trigger=filled)
    for line in result.plan:
        click.echo(line)


def run_triggered(
    request: Any,
    every: str | None,
    on_new_data: str | None,
    poll_interval: str,
    data_param: str | None,
    skip_existing: bool,
    once: bool,
    max_runs: int | None,
    progress: Any = None,
) -> None:
    from bakehouse.client.client import Client
    from bakehouse.projects.runner import run_project
    from bakehouse.projects.triggers import Trigger, TriggeredRun, data_location, parse_interval

    if not every and not on_new_data:
        raise click.UsageError("--once, --skip-existing and --max-runs go with --every or --on-new-data")
    if once and not on_new_data:
        raise click.UsageError("--once needs --on-new-data (it checks for new data once)")
    if request.sweeps:
        raise click.UsageError("Sweeps cannot be triggered; run the sweep from the triggered entry point")
    seconds = parse_interval(every) if every else None
    poll = parse_interval(poll_interval)
    param = _data_param(request, data_param) if on_new_data else None
    if request.backend == "kubernetes":
        _schedule_on_kubernetes(request, seconds, on_new_data, poll, param)
        return
    if request.dry_run:
        raise click.UsageError("--dry-run shows one run: use it without --every/--on-new-data")

    client = Client(tracking_uri=request.tracking_uri)
    failures = 0

    def report(triggered: TriggeredRun) -> None:
        nonlocal failures
        result = triggered.result
        what = ", ".join(v.name for v in triggered.new_versions) or "schedule"
        if not result.succeeded:
            failures += 1
        output.info(f"Run {result.run_id} {result.status} ({triggered.reason}: {what})")

    trigger = Trigger(
        request=request,
        launch=lambda req: run_project(req, progress=progress, client=client),
        every=seconds,
        location=data_location(on_new_data) if on_new_data else None,
        poll_interval=poll,
        data_param=param,
        skip_existing=skip_existing,
        max_runs=max_runs,
        once=once,
        on_run=report,
    )
    trigger.remember_trained(client, _history_experiments(request, client))
    watching = [f"every {every}"] if every else []
    if on_new_data:
        watching.append(f"new data in {on_new_data} (checked every {poll_interval})")
    output.info(f"Triggering {request.uri} -e {request.entry_point}: {' and '.join(watching)}")
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        done = trigger.run()
    except KeyboardInterrupt:
        output.error("Interrupted: the run in progress (if any) was marked KILLED; the trigger stopped")
        sys.exit(EXIT_KILLED)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if once and not done:
        output.info("No new data.")
    if failures:
        sys.exit(EXIT_FAILED)
