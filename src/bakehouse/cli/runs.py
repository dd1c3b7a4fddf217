"""``bakehouse runs``: list, describe, delete and restore runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from bakehouse.cli import output
from bakehouse.cli.options import FullHelpGroup, json_option, make_client, tracking_uri_option, view_option

if TYPE_CHECKING:
    from bakehouse.client.client import Client
    from bakehouse.client.run_models import RunModel
    from bakehouse.entities import Run

#: Tags the client sets itself; hidden from the compact table (shown by `describe` and `--json`).
SYSTEM_TAG_PREFIX = "mlflow."


@click.group("runs", cls=FullHelpGroup)
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
@click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="Print only the run IDs, one per line, in the listed order (for scripts).",
)
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
    quiet: bool,
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
    if quiet:
        for run in runs:
            click.echo(run.info.run_id)
        return
    from bakehouse.client.run_models import models_of_runs

    models = models_of_runs(client, runs)
    if as_json:
        output.print_json([run_to_dict(r, models[r.info.run_id]) for r in runs])
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
                format_models(models[run.info.run_id]),
                output.format_pairs(tags),
            )
        )
    title = f"Runs in experiment{'s' if len(ids) > 1 else ''} {', '.join(ids)}"
    output.print_table(
        ("Run ID", "Name", "Status", "Started (UTC)", "Params", "Metrics", "Models", "Tags"),
        rows,
        title=title,
        empty=f"No runs in experiment(s) {', '.join(ids)}.",
    )


@runs_group.command("describe")
@click.option("--run-id", "-r", required=True, help="The run's id.")
@tracking_uri_option
@json_option
def describe(run_id: str, tracking_uri: str | None, as_json: bool) -> None:
    """Show everything about one run, its logged models included."""
    from bakehouse.client.run_models import models_of_runs

    client = make_client(tracking_uri)
    run = client.get_run(run_id)
    models = models_of_runs(client, [run])[run_id]
    if as_json:
        output.print_json(run_to_dict(run, models))
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
    print_models(models, run_id)


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


def run_to_dict(run: Run, models: Sequence[RunModel] = ()) -> dict[str, Any]:
    """MLflow's REST ``Run`` (info + data, as simple dicts for scripts), plus the run's logged models."""
    info = output.to_jsonable(run.info)
    return {
        "info": info,
        "data": {
            "params": dict(run.data.params),
            "metrics": dict(run.data.metrics),
            "tags": dict(run.data.tags),
        },
        "models": [model_to_dict(m) for m in models],
    }


def model_to_dict(model: RunModel) -> dict[str, Any]:
    return {
        "model_id": model.model_id,
        "name": model.name,
        "uri": model.uri,
        "status": model.status,
        "artifact_location": model.artifact_location,
        "registered_versions": [{"name": v.name, "version": v.version} for v in model.registered],
    }


def format_models(models: Sequence[RunModel], limit: int = 4) -> str:
    """``name -> registered versions`` per line, for a table cell."""
    lines = [m.name + (f" ({', '.join(map(str, m.registered))})" if m.registered else "") for m in models]
    if len(lines) > limit:
        lines = [*lines[:limit], f"… +{len(lines) - limit} more"]
    return "\n".join(lines)


def print_models(models: Sequence[RunModel], run_id: str) -> None:
    """The run's logged models: where they are and how to fetch them (they are not among its artifacts)."""
    output.print_table(
        ("Name", "Model ID", "URI", "Status", "Registered as"),
        (
            (
                m.name,
                m.model_id,
                m.uri,
                m.status.removeprefix("LOGGED_MODEL_"),
                ", ".join(map(str, m.registered)),
            )
            for m in models
        ),
        title=f"Models logged by run {run_id}",
        empty="No models logged by this run.",
    )
    if models:
        output.info(
            f"Download one with: bakehouse artifacts download -u {models[0].uri} -d DIR "
            f"(serve it with: bakehouse models serve -m {models[0].uri})"
        )
