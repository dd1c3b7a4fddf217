"""``bakehouse experiments``: create, search, rename, delete and restore experiments."""

from __future__ import annotations

import click

from bakehouse.cli import output
from bakehouse.cli.options import FullHelpGroup, json_option, make_client, tracking_uri_option, view_option


@click.group("experiments", cls=FullHelpGroup)
def experiments_group() -> None:
    """Manage experiments."""


@experiments_group.command("create")
@click.option("--experiment-name", "-n", required=True, help="Name of the new experiment (unique).")
@click.option(
    "--artifact-location",
    "-l",
    default=None,
    help="Where its runs store artifacts (default: the store's root).",
)
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Experiment tag; repeatable.")
@tracking_uri_option
@json_option
def create(
    experiment_name: str,
    artifact_location: str | None,
    tags: tuple[str, ...],
    tracking_uri: str | None,
    as_json: bool,
) -> None:
    """Create an experiment and print its id."""
    client = make_client(tracking_uri)
    experiment_id = client.create_experiment(
        experiment_name, artifact_location=artifact_location, tags=parse_pairs(tags, "--tag") or None
    )
    if as_json:
        output.print_json({"experiment_id": experiment_id, "name": experiment_name})
    else:
        output.success(f"Created experiment {experiment_name!r} with id {experiment_id}")


@experiments_group.command("search")
@view_option
@click.option("--filter", "filter_string", default=None, help="Filter, e.g. \"name LIKE 'iris%'\".")
@click.option("--order-by", multiple=True, help="e.g. 'name ASC'; repeatable.")
@click.option(
    "--max-results",
    type=click.IntRange(1, 50000),
    default=1000,
    show_default=True,
    help="At most this many experiments.",
)
@tracking_uri_option
@json_option
def search(
    view: str,
    filter_string: str | None,
    order_by: tuple[str, ...],
    max_results: int,
    tracking_uri: str | None,
    as_json: bool,
) -> None:
    """List experiments."""
    from bakehouse.entities import ViewType

    client = make_client(tracking_uri)
    experiments = client.search_experiments(
        view_type=ViewType.parse(view),
        max_results=max_results,
        filter_string=filter_string,
        order_by=list(order_by) or None,
    )
    if as_json:
        output.print_json(list(experiments))
        return
    output.print_table(
        ("ID", "Name", "Stage", "Artifact location", "Created", "Tags"),
        (
            (
                e.experiment_id,
                e.name,
                e.lifecycle_stage,
                e.artifact_location,
                output.format_time(e.creation_time),
                output.format_pairs({k: v for k, v in (e.tags or {}).items() if not k.startswith("mlflow.")}),
            )
            for e in experiments
        ),
        empty="No experiments found.",
    )


@experiments_group.command("rename")
@click.option("--experiment-id", "-x", required=True, help="The experiment's id.")
@click.option("--new-name", required=True, help="The experiment's new name.")
@tracking_uri_option
def rename(experiment_id: str, new_name: str, tracking_uri: str | None) -> None:
    """Rename an experiment."""
    make_client(tracking_uri).rename_experiment(experiment_id, new_name)
    output.success(f"Experiment {experiment_id} renamed to {new_name!r}")


@experiments_group.command("delete")
@click.option("--experiment-id", "-x", required=True, help="The experiment's id.")
@tracking_uri_option
def delete(experiment_id: str, tracking_uri: str | None) -> None:
    """Mark an experiment (and its runs) deleted; `bakehouse gc` removes it for good."""
    make_client(tracking_uri).delete_experiment(experiment_id)
    output.success(f"Experiment {experiment_id} deleted (restore it with `bakehouse experiments restore`)")


@experiments_group.command("restore")
@click.option("--experiment-id", "-x", required=True, help="The experiment's id.")
@tracking_uri_option
def restore(experiment_id: str, tracking_uri: str | None) -> None:
    """Restore a deleted experiment."""
    make_client(tracking_uri).restore_experiment(experiment_id)
    output.success(f"Experiment {experiment_id} restored")


def parse_pairs(pairs: tuple[str, ...], option: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint=option)
        result[key] = value
    return result
