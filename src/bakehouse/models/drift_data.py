"""Where drift checks get their two sides, and where they record the result.

- **Served inputs**: what a scoring server sampled (``bakehouse models serve --sample-inputs``): runs of
  the ``bakehouse-serving-samples`` experiment tagged with the model, each holding
  ``samples/requests.parquet`` and recording it as a dataset input with context ``serving``.
- **Training data**: a table given as ``--against`` (a local path, an ``s3://`` URI or
  ``runs:/<run_id>/<path>``; CSV, Parquet or JSON lines), or, without one, the files the model's training
  run recorded as dataset inputs with context ``training`` (what ``bakehouse run --on-new-data`` records).
- **The result**: a run with one metric per feature and statistic, the report as ``drift_report.json``,
  both sides as dataset inputs, and the tag ``bakehouse.drift.detected``.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pandas as pd

from bakehouse.entities import Metric, Param
from bakehouse.errors import BakehouseError, InvalidParameterError, NotFoundError
from bakehouse.models.drift import DriftReport

logger = logging.getLogger(__name__)

SAMPLES_EXPERIMENT = "bakehouse-serving-samples"
SAMPLES_ARTIFACT = "samples/requests.parquet"
TAG_MODEL_NAME = "bakehouse.serving.model_name"
TAG_MODEL_URI = "bakehouse.serving.model_uri"
TAG_MODEL_VERSION = "bakehouse.serving.model_version"
TAG_DETECTED = "bakehouse.drift.detected"
TAG_DRIFT_MODEL = "bakehouse.drift.model_uri"
CONTEXT_TAG = "mlflow.data.context"
DEFAULT_MAX_ROWS = 100_000


def model_name(model_uri: str) -> str | None:
    """``models:/iris@champion`` -> ``iris``; None for URIs that name no registered model."""
    if not model_uri.startswith("models:/"):
        return None
    from bakehouse.store.registry.uri import parse_models_uri

    parsed = parse_models_uri(model_uri)
    return None if parsed.model_id is not None else parsed.name


def read_table(location: str, client: Any) -> pd.DataFrame:
    """A CSV, Parquet or JSON-lines file from a path, a ``runs:/`` URI or any artifact store URI."""
    parsed = urlparse(location)
    with tempfile.TemporaryDirectory(prefix="bakehouse-drift-") as tmp:
        if parsed.scheme == "runs":
            run_id, _, path = location[len("runs:/") :].partition("/")
            local = Path(client.download_artifacts(run_id, path, tmp))
        elif parsed.scheme in ("", "file"):
            local = Path(location.removeprefix("file://")).expanduser()
        else:
            parent, _, name = location.rstrip("/").rpartition("/")
            local = Path(client.artifact_repository(parent).download_artifacts(name, tmp))
        if not local.exists():
            raise NotFoundError(f"No data at {location}")
        return _read(local)


def _read(path: Path) -> pd.DataFrame:
    if path.is_dir():
        parts = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        if not parts:
            raise InvalidParameterError(f"{path} holds no files")
        return pd.concat([_read(p) for p in parts], ignore_index=True)
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if suffix in (".json", ".jsonl"):
        return pd.read_json(path, lines=True)
    if suffix in (".csv", ".txt", ""):
        return pd.read_csv(path)
    raise InvalidParameterError(f"Cannot read {path.name}: use CSV, Parquet or JSON lines")


def served_inputs(
    client: Any, model_uri: str, max_rows: int = DEFAULT_MAX_ROWS, experiment: str = SAMPLES_EXPERIMENT
) -> tuple[pd.DataFrame, list[str]]:
    """The newest sampled requests of this model (up to ``max_rows``), and where they are stored (one
    artifact URI per sampling run, newest first)."""
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise NotFoundError(
            f"No sampled requests: experiment {experiment!r} does not exist. Serve the model with "
            "--sample-inputs, or pass the served data with --served."
        )
    name = model_name(model_uri)
    key, value = (TAG_MODEL_NAME, name) if name else (TAG_MODEL_URI, model_uri)
    escaped = value.replace("'", "\\'")
    runs = client.search_runs(
        [found.experiment_id], f"tags.`{key}` = '{escaped}'", order_by=["attributes.start_time DESC"]
    )
    frames: list[pd.DataFrame] = []
    used: list[str] = []
    rows = 0
    for run in runs:
        if rows >= max_rows:
            break
        try:
            frame = read_table(f"runs:/{run.info.run_id}/{SAMPLES_ARTIFACT}", client)
        except BakehouseError as exc:
            logger.warning("Skipping samples of run %s: %s", run.info.run_id, exc.message)
            continue
        frames.append(frame)
        used.append(f"{run.info.artifact_uri.rstrip('/')}/{SAMPLES_ARTIFACT}")
        rows += len(frame)
    if not frames:
        raise NotFoundError(f"No sampled requests of {value!r} in experiment {experiment!r}")
    return pd.concat(frames, ignore_index=True).head(max_rows), used


def training_data_of(client: Any, model_uri: str) -> tuple[pd.DataFrame, list[str]]:
    """The files the model's training run recorded as ``training`` dataset inputs, read and joined."""
    run_id = _source_run(client, model_uri)
    run = client.get_run(run_id)
    locations = []
    for dataset in run.inputs.dataset_inputs if run.inputs else []:
        if dataset.tags.get(CONTEXT_TAG) != "training":
            continue
        uri = json.loads(dataset.source or "{}").get("uri")
        if uri:
            locations.append(uri)
    if not locations:
        raise InvalidParameterError(
            f"The training run {run_id} of {model_uri} recorded no training data file; pass it with --against"
        )
    return pd.concat([read_table(u, client) for u in locations], ignore_index=True), locations


def _source_run(client: Any, model_uri: str) -> str:
    if model_uri.startswith("runs:/"):
        return model_uri[len("runs:/") :].split("/", 1)[0]
    if model_uri.startswith("models:/"):
        from bakehouse.store.registry.uri import parse_models_uri, resolve_model_version

        parsed = parse_models_uri(model_uri)
        if parsed.model_id is not None:
            run_id = client.get_logged_model(parsed.model_id).source_run_id
        else:
            run_id = resolve_model_version(client.registry_store, model_uri).run_id
        if run_id:
            return str(run_id)
    raise InvalidParameterError(
        f"Cannot tell which run trained {model_uri}; pass its training data with --against"
    )


def _dataset(frame: pd.DataFrame, name: str, source: str) -> Any:
    from bakehouse.data import FileSystemDatasetSource, from_pandas, resolve_source

    try:
        resolved = resolve_source(source)
    except InvalidParameterError:  # e.g. runs:/ URIs: recorded as what they are
        resolved = FileSystemDatasetSource(source, urlparse(source).scheme or "local")
    return from_pandas(frame, source=resolved, name=name)


def log_drift_run(
    client: Any,
    report: DriftReport,
    model_uri: str,
    reference: pd.DataFrame,
    reference_source: str,
    served: pd.DataFrame,
    served_source: str,
    experiment_name: str,
) -> str:
    """Record the check as a run; returns its id."""
    experiment = client.get_experiment_by_name(experiment_name)
    experiment_id = (
        experiment.experiment_id if experiment is not None else client.create_experiment(experiment_name)
    )
    name = model_name(model_uri) or "model"
    run = client.create_run(
        experiment_id,
        run_name=f"drift-{name}",
        tags={TAG_DETECTED: str(report.drifted).lower(), TAG_DRIFT_MODEL: model_uri},
    )
    run_id = run.info.run_id
    now = int(time.time() * 1000)
    try:
        thresholds = report.thresholds
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, now, 0) for k, v in report.metrics().items()],
            params=[
                Param("psi_threshold", str(thresholds.psi)),
                Param("ks_threshold", str(thresholds.ks_statistic)),
                Param("ks_alpha", str(thresholds.ks_alpha)),
                Param("model_uri", model_uri),
            ],
        )
        inputs = [
            _dataset(reference, "training-data", reference_source).to_dataset_input(context="training"),
            _dataset(served, "served-inputs", served_source).to_dataset_input(context="serving"),
        ]
        client.log_inputs(run_id, inputs)
        client.log_text(run_id, report.to_json(), "drift_report.json")
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")
    return str(run_id)
