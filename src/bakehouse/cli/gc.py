"""``bakehouse gc``: permanently delete runs and experiments in the ``deleted`` lifecycle stage.

Deleting is two-step, as in MLflow: ``runs delete`` only marks a run; ``gc`` removes its rows and artifacts
for good. Artifacts go first, so an interrupted gc never leaves artifacts without a run to find them by.

``bakehouse gc --traces --older-than 30d`` is trace retention instead: traces that started longer ago
than that (in every experiment, or in ``--experiment-ids``) are deleted with their spans, tags,
metadata, assessments and run links.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bakehouse.cli import output

if TYPE_CHECKING:
    from bakehouse.store.tracking.base import GarbageCollectingStore, TrackingStore

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([dhms])", re.IGNORECASE)
_UNIT_MS = {"d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1000}


def parse_duration(text: str) -> int:
    """``"30d"``, ``"1d2h30m"``, ``"45s"`` -> milliseconds."""
    compact = text.replace(" ", "")
    matches = list(_DURATION.finditer(compact))
    if not matches or "".join(m.group(0) for m in matches) != compact:
        raise click.BadParameter(
            f"{text!r}: use a duration like 30d, 12h, 1d2h30m or 90s", param_hint="--older-than"
        )
    return int(sum(float(m.group(1)) * _UNIT_MS[m.group(2).lower()] for m in matches))


def _split_ids(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


@click.command("gc")
@click.option(
    "--older-than",
    default=None,
    metavar="DURATION",
    help="Only what was deleted longer ago than this (e.g. 30d, 12h, 1d2h30m).",
)
@click.option("--run-ids", default=None, help="Comma-separated run ids (default: every deleted run).")
@click.option(
    "--experiment-ids",
    default=None,
    help="Comma-separated experiment ids (default: every deleted experiment).",
)
@click.option(
    "--backend-store-uri",
    "--tracking-uri",
    "backend_store_uri",
    default=None,
    metavar="URI",
    help="The tracking database (default: BAKEHOUSE_TRACKING_URI, else ./bakehouse.db).",
)
@click.option(
    "--artifacts-destination",
    default=None,
    metavar="URI",
    help="Root behind mlflow-artifacts:/ URIs (the server's --artifacts-destination).",
)
@click.option("--dry-run", is_flag=True, help="Only print what would be deleted.")
@click.option(
    "--traces",
    is_flag=True,
    help="Trace retention: delete traces that started longer ago than --older-than (runs are left alone).",
)
def gc_command(
    older_than: str | None,
    run_ids: str | None,
    experiment_ids: str | None,
    backend_store_uri: str | None,
    artifacts_destination: str | None,
    dry_run: bool,
    traces: bool,
) -> None:
    """Permanently remove deleted runs, their artifacts, and deleted experiments (or old traces)."""
    from bakehouse.entities import LifecycleStage
    from bakehouse.errors import InvalidParameterError

    older_than_ms = parse_duration(older_than) if older_than else None
    store = _open_store(backend_store_uri)
    if traces:
        if older_than_ms is None:
            raise click.BadParameter("--traces needs --older-than (e.g. 30d)", param_hint="--older-than")
        if run_ids:
            raise click.BadParameter("--traces does not take --run-ids", param_hint="--run-ids")
        _gc_traces(store, older_than_ms, _split_ids(experiment_ids) or None, dry_run)
        return

    chosen_experiments = _split_ids(experiment_ids)
    chosen_runs = _split_ids(run_ids)
    if not chosen_runs and not chosen_experiments:
        chosen_runs = list(store.get_deleted_runs(older_than_ms))
        chosen_experiments = list(store.get_deleted_experiments(older_than_ms))
    else:
        old_enough_runs = set(store.get_deleted_runs(older_than_ms))
        old_enough_experiments = set(store.get_deleted_experiments(older_than_ms))
        for run_id in chosen_runs:
            run = store.get_run(run_id)
            if run.info.lifecycle_stage != LifecycleStage.DELETED.value:
                raise InvalidParameterError(
                    f"Run {run_id} is not in the deleted lifecycle stage; only deleted runs can be garbage-collected "
                    "(delete it first with `bakehouse runs delete`)."
                )
            if run_id not in old_enough_runs:
                raise InvalidParameterError(f"Run {run_id} was deleted less than {older_than} ago.")
        for experiment_id in chosen_experiments:
            experiment = store.get_experiment(experiment_id)
            if experiment.lifecycle_stage != LifecycleStage.DELETED.value:
                raise InvalidParameterError(
                    f"Experiment {experiment_id} is not in the deleted lifecycle stage; delete it first with "
                    "`bakehouse experiments delete`."
                )
            if experiment_id not in old_enough_experiments:
                raise InvalidParameterError(
                    f"Experiment {experiment_id} was deleted less than {older_than} ago."
                )

    # A deleted experiment's runs go with it, whatever their own stage.
    run_ids_to_delete = list(
        dict.fromkeys(chosen_runs + [r for e in chosen_experiments for r in _runs_of(store, e)])
    )
    prefix = "Would delete" if dry_run else "Deleted"
    for run_id in run_ids_to_delete:
        run = store.get_run(run_id)
        if not dry_run:
            _delete_artifacts(run.info.artifact_uri, artifacts_destination)
            store.hard_delete_run(run_id)
        output.info(f"{prefix} run {run_id}")
    for experiment_id in chosen_experiments:
        if not dry_run:
            location = store.get_experiment(experiment_id).artifact_location
            store.hard_delete_experiment(experiment_id)
            if location:
                _remove_empty_local_dirs(location, levels=1)
        output.info(f"{prefix} experiment {experiment_id}")
    verb = "Would permanently delete" if dry_run else "Permanently deleted"
    output.success(f"{verb} {len(run_ids_to_delete)} run(s) and {len(chosen_experiments)} experiment(s)")


#: Traces deleted per transaction: bounded so a large backlog neither holds a long lock nor a huge statement.
TRACE_GC_BATCH = 1000


def _gc_traces(
    store: GarbageCollectingStore, older_than_ms: int, experiment_ids: list[str] | None, dry_run: bool
) -> None:
    import time

    from rich.progress import Progress

    cutoff = int(time.time() * 1000) - older_than_ms
    trace_ids = list(store.get_traces_older_than(cutoff, experiment_ids))
    if dry_run:
        output.success(
            f"Would permanently delete {len(trace_ids)} trace(s) that started before {output.format_time(cutoff)}"
        )
        return
    with Progress(console=output.console(stderr=True), transient=True) as progress:
        task = progress.add_task("Deleting traces", total=len(trace_ids))
        for start in range(0, len(trace_ids), TRACE_GC_BATCH):
            batch = trace_ids[start : start + TRACE_GC_BATCH]
            store.hard_delete_traces(batch)
            progress.advance(task, len(batch))
    output.success(
        f"Permanently deleted {len(trace_ids)} trace(s) that started before {output.format_time(cutoff)}"
    )


def _open_store(uri: str | None) -> GarbageCollectingStore:
    """The tracking database itself; a tracking server is refused, as its REST API deletes nothing for good."""
    from bakehouse.client.client import Client
    from bakehouse.errors import InvalidParameterError
    from bakehouse.store.tracking.base import GarbageCollectingStore

    client = Client(tracking_uri=uri)
    store = client.tracking_store
    if not isinstance(store, GarbageCollectingStore):
        raise InvalidParameterError(
            f"bakehouse gc works on the tracking database itself, and {client.tracking_uri} is not one "
            "(a tracking server's REST API has no permanent deletion): pass the server's database, e.g. "
            "--backend-store-uri sqlite:///bakehouse.db or postgresql+psycopg://..."
        )
    return store


def _runs_of(store: TrackingStore, experiment_id: str) -> list[str]:
    from bakehouse.entities import ViewType

    ids: list[str] = []
    token = None
    while True:
        page = store.search_runs(
            [experiment_id], run_view_type=ViewType.ALL, max_results=50000, page_token=token
        )
        ids.extend(run.info.run_id for run in page)
        token = page.token
        if not token:
            return ids


def _delete_artifacts(artifact_uri: str, artifacts_destination: str | None) -> None:
    """Remove a run's artifacts; a missing directory is fine (nothing was logged)."""
    if not artifact_uri:
        return
    if artifact_uri.startswith("mlflow-artifacts:"):
        if not artifacts_destination:
            from bakehouse.errors import InvalidParameterError

            raise InvalidParameterError(
                f"The run's artifacts are at {artifact_uri}, served by a tracking server: pass "
                "--artifacts-destination (the server's artifact root) to delete them."
            )
        from urllib.parse import urlparse

        path = urlparse(artifact_uri).path.lstrip("/")  # mlflow-artifacts://host:port/<path> or :/<path>
        artifact_uri = artifacts_destination.rstrip("/") + "/" + path
    from bakehouse.store.artifacts import get_artifact_repository

    repo: Any = get_artifact_repository(artifact_uri)
    repo.delete_artifacts()
    _remove_empty_local_dirs(artifact_uri, levels=2)  # <experiment>/<run_id>/artifacts -> drop <run_id>/


def _remove_empty_local_dirs(uri: str, levels: int) -> None:
    """Remove up to ``levels`` now-empty directories of a local artifact location (never non-empty ones)."""
    from urllib.parse import unquote, urlparse

    parsed = urlparse(uri)
    if parsed.scheme not in ("", "file"):
        return
    path = Path(unquote(parsed.path) if parsed.scheme == "file" else uri)
    for directory in [path, *path.parents][:levels]:
        try:
            directory.rmdir()
        except OSError:  # not empty, missing or not ours: stop there
            if directory.exists():
                return
