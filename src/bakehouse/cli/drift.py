"""``bakehouse models drift MODEL_URI``: compare what a model is served with what it was trained on.

Added to the ``models`` group by :func:`add_drift_command` (``cli/main.py``'s GROUP_EXTENSIONS). The
statistics and their thresholds are in :mod:`bakehouse.models.drift`; the data sources and the recorded run
in :mod:`bakehouse.models.drift_data`. With ``--retrain PROJECT``, a drift found starts that project's entry
point (as ``bakehouse run`` would), tagged with the drift run.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from bakehouse.cli import output
from bakehouse.cli.options import json_option, make_client, tracking_uri_option

EXIT_DRIFT = 2


@click.command("drift")
@click.argument("model_uri")
@click.option(
    "--against",
    "reference",
    default=None,
    metavar="DATASET",
    help="Training data: a CSV/Parquet/JSON-lines path, s3:// URI or runs:/<run>/<path> (default: the files "
    "the model's training run recorded as training inputs).",
)
@click.option(
    "--served",
    default=None,
    metavar="DATASET",
    help="Served inputs, instead of what `models serve --sample-inputs` recorded for this model.",
)
@click.option(
    "--max-rows",
    default=100_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Most sampled rows compared (the newest), when the served inputs come from the samples.",
)
@click.option("--feature", "features", multiple=True, help="Only these columns (repeatable).")
@click.option(
    "--psi-threshold",
    default=0.2,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="A feature with a PSI at or above this has drifted.",
)
@click.option(
    "--ks-threshold",
    default=0.1,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True),
    help="A numeric feature with a KS statistic D at or above this (and p below --ks-alpha) has drifted.",
)
@click.option(
    "--ks-alpha",
    default=0.05,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True),
    help="The KS p-value below which a large D counts (not sampling noise).",
)
@click.option(
    "--experiment-name", default="bakehouse-drift", show_default=True, help="Where the check is recorded."
)
@click.option("--retrain", default=None, metavar="PROJECT", help="Run this MLproject when drift is found.")
@click.option(
    "--retrain-entry-point", default="main", show_default=True, help="The entry point --retrain runs."
)
@click.option(
    "--retrain-param",
    "-P",
    "retrain_params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A parameter of the retraining entry point (repeatable).",
)
@click.option(
    "--retrain-env-manager",
    default=None,
    type=click.Choice(["local", "virtualenv", "uv", "conda"]),
    help="How the retraining run gets its environment (default: as `bakehouse run` decides).",
)
@click.option("--exit-code", is_flag=True, help=f"Exit with {EXIT_DRIFT} when drift is found (for CI).")
@tracking_uri_option
@json_option
def drift_command(
    model_uri: str,
    reference: str | None,
    served: str | None,
    max_rows: int,
    features: tuple[str, ...],
    psi_threshold: float,
    ks_threshold: float,
    ks_alpha: float,
    experiment_name: str,
    retrain: str | None,
    retrain_entry_point: str,
    retrain_params: tuple[str, ...],
    retrain_env_manager: str | None,
    exit_code: bool,
    tracking_uri: str | None,
    as_json: bool,
) -> None:
    """Compare MODEL_URI's served inputs with its training data, per feature (PSI and KS), as a run."""
    from bakehouse.models import drift_data
    from bakehouse.models.drift import Thresholds, compare

    client = make_client(tracking_uri)
    if served:
        current, served_source = drift_data.read_table(served, client), served
    else:
        current, locations = drift_data.served_inputs(client, model_uri, max_rows)
        served_source = locations[0]  # the newest batch; the report lists the rows' total
    if reference:
        training, reference_source = drift_data.read_table(reference, client), reference
    else:
        training, files = drift_data.training_data_of(client, model_uri)
        reference_source = files[0]
    thresholds = Thresholds(psi=psi_threshold, ks_statistic=ks_threshold, ks_alpha=ks_alpha)
    report = compare(training, current, list(features) or None, thresholds)
    run_id = drift_data.log_drift_run(
        client, report, model_uri, training, reference_source, current, served_source, experiment_name
    )
    retrained = _retrain(
        report.drifted,
        retrain,
        retrain_entry_point,
        retrain_params,
        retrain_env_manager,
        run_id,
        tracking_uri,
    )
    if as_json:
        output.print_json({**report.to_dict(), "run_id": run_id, "retrain_run_id": retrained})
    else:
        _print(report, run_id, len(training), len(current))
        if retrained:
            output.info(f"Retraining run {retrained} started from {retrain}")
    if exit_code and report.drifted:
        sys.exit(EXIT_DRIFT)


def _print(report: Any, run_id: str, reference_rows: int, served_rows: int) -> None:
    t = report.thresholds
    output.print_table(
        ("Feature", "PSI", "KS D", "KS p-value", "Drifted"),
        (
            (
                f.feature,
                f"{f.psi:.3f}",
                "" if f.ks_statistic is None else f"{f.ks_statistic:.3f}",
                "" if f.ks_pvalue is None else f"{f.ks_pvalue:.2g}",
                "yes" if f.drifted else "",
            )
            for f in report.features
        ),
        title=f"Drift: {served_rows} served rows vs {reference_rows} training rows "
        f"(drift = PSI >= {t.psi:g}, or KS D >= {t.ks_statistic:g} with p < {t.ks_alpha:g})",
    )
    verdict = f"Drift in {', '.join(report.drifted_features)}" if report.drifted else "No drift"
    output.info(f"{verdict}; recorded as run {run_id}")


def _retrain(
    drifted: bool,
    project: str | None,
    entry_point: str,
    params: tuple[str, ...],
    env_manager: str | None,
    drift_run_id: str,
    tracking_uri: str | None,
) -> str | None:
    if not drifted or not project:
        return None
    from bakehouse.cli.run import RichBuildProgress
    from bakehouse.projects.parameters import parse_param_pairs
    from bakehouse.projects.runner import ProjectRunRequest, run_project

    request = ProjectRunRequest(
        uri=project,
        entry_point=entry_point,
        parameters=parse_param_pairs(list(params)),
        env_manager=env_manager,
        tracking_uri=tracking_uri,
        run_tags={"bakehouse.trigger": "drift", "bakehouse.trigger.drift_run": drift_run_id},
    )
    result = run_project(request, progress=RichBuildProgress())
    if not result.succeeded:
        raise click.ClickException(f"The retraining run {result.run_id} {result.status}")
    return result.run_id


def add_drift_command(group: click.Group) -> None:
    """Attach ``drift`` to ``bakehouse models`` (called once by cli/main.py)."""
    if "drift" not in group.commands:
        group.add_command(drift_command)
