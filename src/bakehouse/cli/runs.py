"""``bakehouse runs``: list, describe, delete and restore runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from bakehouse.cli import output
from bakehouse.cli.options import json_option, make_client, tracking_uri_option, view_option

if TYPE_CHECKING:
    from bakehouse.client.client import Client
    from bakehouse.entities import Run

#: Tags the client sets itself; hidden from the compact table (shown by `describe` and `--json`).
SYSTEM_TAG_PREFIX = "mlflow."


@click.group("runs")
def runs_group() -> None:
    """Inspect and manage runs."""


@runs_group.command("list")
@click.option("--experiment-id", "-x", "experiment_ids", multiple=True, help="Experiment id; repeatable.")
@click.option(
    "--experiment-name", "-n", "experiment_names", multiple=True, help="Experiment name; repeatable."
)
@click.option(
    "--filter", "filter_string", default=None, help="e.g. \"metrics.acc > 0.9 and params.lr = '0.1'\"."
)
@click.option(
    "--order-by", multiple=True, help="e.g. 'metrics.acc DESC'; repeatable (default: newest first)."
)
@view_option
@click.option(
    "--max-results",
    type=click.IntRange(1, 50000),
    default=100,
    show_default=True,
    help="At most this many runs.",
)
@click.option("--all-tags", is_flag=True, help="Also show system tags (mlflow.*) in the table.")
@tracking_uri_option
@json_option
def list_runs(
    experiment_ids: tuple[str, ...],
    experiment_names: tuple[str, ...],
    filter_string: str | None,
    order_by: tuple[str, ...],
    view: str,
    max_results: int,
    all_tags: bool,
    tracking_uri: str | None,
    as_json: bool,
) -> None:
    """List runs with their params, metrics and tags (default: experiment 0, 'Default')."""
    from bakehouse.entities import ViewType

    client = make_client(tracking_uri)
    ids = resolve_experiment_ids(client, experiment_ids, experiment_names)
    runs = client.search_runs(
        ids,
        filter_string=filter_string or "",
        run_view_type=ViewType.parse(view),
        max_results=max_results,
        order_by=list(order_by) or None,
    )
    if as_json:
        output.print_json([run_to_dict(r) for r in runs])
        return
    show_stage = view.lower() != "active_only"
    rows = []
    for run in runs:
        tags = (
            run.data.tags
            if all_tags
            else {k: v for k, v in run.data.tags.items() if not k.startswith(SYSTEM_TAG_PREFIX)}
        )
        status = f"{run.info.status} ({run.info.lifecycle_stage})" if show_stage else run.info.status
        rows.append(
            (
                run.info.run_id,
                run.info.run_name,
                status,
                output.format_time(run.info.start_time),
                output.format_pairs(run.data.params),
                output.format_pairs(run.data.metrics),
                output.format_pairs(tags),
            )
        )
    title = f"Runs in experiment{'s' if len(ids) > 1 else ''} {', '.join(ids)}"
    output.print_table(
        ("Run ID", "Name", "Status", "Started (UTC)", "Params", "Metrics", "Tags"),
        rows,
        title=title,
        empty=f"No runs in experiment(s) {', '.join(ids)}.",
    )


@runs_group.command("describe")
@click.option("--run-id", "-r", required=True, help="The run's id.")
@tracking_uri_option
@json_option
def describe(run_id: str, tracking_uri: str | None, as_json: bool) -> None:
    """Show everything about one run."""
    run = make_client(tracking_uri).get_run(run_id)
    if as_json:
        output.print_json(run_to_dict(run))
        return
    info = run.info
    output.print_mapping(
        "Run",
        {
            "run_id": info.run_id,
            "run_name": info.run_name,
            "experiment_id": info.experiment_id,
            "status": info.status,
            "user_id": info.user_id,
            "lifecycle_stage": info.lifecycle_stage,
            "start_time": output.format_time(info.start_time),
            "end_time": output.format_time(info.end_time),
            "artifact_uri": info.artifact_uri,
        },
    )
    output.print_mapping("Params", dict(run.data.params))
    output.print_mapping("Metrics", dict(run.data.metrics))
    output.print_mapping("Tags", dict(run.data.tags))


@runs_group.command("delete")
@click.option("--run-id", "-r", required=True, help="The run's id.")
@tracking_uri_option
def delete(run_id: str, tracking_uri: str | None) -> None:
    """Mark a run deleted; `bakehouse gc` removes it and its artifacts for good."""
    make_client(tracking_uri).delete_run(run_id)
    output.success(f"Run {run_id} deleted (restore it with `bakehouse runs restore`)")


@runs_group.command("restore")
@click.option("--run-id", "-r", required=True, help="The run's id.")
@tracking_uri_option
def restore(run_id: str, tracking_uri: str | None) -> None:
    """Restore a deleted run."""
    make_client(tracking_uri).restore_run(run_id)
    output.success(f"Run {run_id} restored")


def resolve_experiment_ids(client: Client, ids: tuple[str, ...], names: tuple[str, ...]) -> list[str]:
    from bakehouse.errors import NotFoundError

    result = list(ids)
    for name in names:
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise NotFoundError(f"Experiment {name!r} does not exist")
        result.append(experiment.experiment_id)
    return result or ["0"]


def run_to_dict(run: Run) -> dict[str, Any]:
    """The same shape as MLflow's REST ``Run`` (info + data with lists), plus simple dicts for scripts."""
    info = output.to_jsonable(run.info)
    return {
        "info": info,
        "data": {
            "params": dict(run.data.params),
            "metrics": dict(run.data.metrics),
            "tags": dict(run.data.tags),
        },
    }
