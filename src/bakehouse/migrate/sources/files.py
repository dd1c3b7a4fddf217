"""An MLflow file store (``./mlruns``, MLflow 2.x and 3.x layouts) as a migration source; only ever read.

Layout (what MLflow's FileStore writes)::

    <root>/<experiment id>/meta.yaml, tags/<key>
    <root>/<experiment id>/<run id>/meta.yaml, params/<key>, tags/<key>, metrics/<key>, artifacts/,
                                    inputs/<input id>/meta.yaml, outputs/<model id>/meta.yaml   (3.x)
    <root>/<experiment id>/datasets/<dataset id>/meta.yaml
    <root>/<experiment id>/models/<model id>/meta.yaml, params/, tags/, metrics/, artifacts/  (3.x)
    <root>/.trash/<experiment id>/...    deleted experiments
    <root>/models/<name>/meta.yaml, tags/, aliases/, version-<n>/meta.yaml, version-<n>/tags/   (registry)

Keys containing ``/`` are nested files. A metric file holds one point per line:
``timestamp value [step [dataset_name dataset_digest]]``; a logged model's adds the run id after the step.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from bakehouse.entities.transfer import (
    Catalog,
    DatasetRecord,
    ExperimentRecord,
    InputRecord,
    LoggedModelRecord,
    MetricPoint,
    MetricSummary,
    ModelMetricPoint,
    ModelVersionRecord,
    RegisteredModelRecord,
    RunRecord,
)
from bakehouse.errors import NotFoundError
from bakehouse.migrate.errors import MigrationError
from bakehouse.migrate.sources.proxied import open_artifacts
from bakehouse.migrate.sources.sql import DELETED_VERSION_STAGE, LOGGED_MODEL_STATUSES, SOURCE_TYPES
from bakehouse.store.artifacts import ArtifactRepository

logger = logging.getLogger(__name__)

_RUN_STATUSES = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
_NOT_EXPERIMENTS = {".trash", "models", "traces"}
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
#: ids for links the file store keeps without one (a run's outputs): stable, so a re-run finds them
_LINK_NAMESPACE = uuid.UUID("5f2b4a8e-2c1d-4a57-9a0e-6c1b8f0d3e21")


def _load_yaml(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=_Loader)
    return data if isinstance(data, dict) else {}


def _read_key_files(directory: Path) -> dict[str, str]:
    """``key -> file content`` for every file below ``directory`` (a key with ``/`` is a nested file)."""
    out: dict[str, str] = {}
    if not directory.is_dir():
        return out
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            out[path.relative_to(directory).as_posix()] = path.read_text(encoding="utf-8")
    return out


def _metric_files(directory: Path) -> list[tuple[str, Path]]:
    if not directory.is_dir():
        return []
    return [(p.relative_to(directory).as_posix(), p) for p in sorted(directory.rglob("*")) if p.is_file()]


def _float(text: str) -> float:
    value = float(text)
    return math.nan if math.isnan(value) else value


def _parse_points(key: str, path: Path) -> list[MetricPoint]:
    points: list[MetricPoint] = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if not parts:
                continue
            if len(parts) not in (2, 3, 5):
                raise MigrationError(f"Malformed metric line in {path}: {line.strip()!r}")
            step = int(parts[2]) if len(parts) >= 3 else 0
            points.append((key, _float(parts[1]), int(parts[0]), step))
    return points


def _summary(points: Sequence[MetricPoint]) -> MetricSummary:
    """Summary over the distinct points (a file may repeat a point; a database keeps it once)."""
    distinct = {("nan" if math.isnan(v) else v, t, s) for _, v, t, s in points}
    timestamps = [t for _, t, _ in distinct]
    steps = [s for _, _, s in distinct]
    latest = max(points, key=lambda p: (p[3], p[2], 0.0 if math.isnan(p[1]) else p[1]))
    return MetricSummary(
        len(distinct),
        min(timestamps),
        max(timestamps),
        min(steps),
        max(steps),
        (latest[3], latest[2], latest[1]),
    )


class FileStoreSource:
    """Reads an ``mlruns`` directory written by MLflow's FileStore."""

    flavor = "mlflow"

    def __init__(self, root: str | Path, description: str, artifacts_destination: str | None = None) -> None:
        self.root = Path(root).expanduser().resolve()
        self.description = description
        self.artifacts_destination = artifacts_destination
        if not self.root.is_dir():
            raise NotFoundError(f"No MLflow file store at {self.root}")
        self._run_dirs: dict[str, Path] = {}

    def close(self) -> None:
        return None

    # -------------------------------------------------------------------------------------- catalog
    def _experiment_dirs(self) -> list[Path]:
        dirs = []
        for parent in (self.root, self.root / ".trash"):
            if not parent.is_dir():
                continue
            for child in sorted(parent.iterdir()):
                if child.name in _NOT_EXPERIMENTS or not (child / "meta.yaml").is_file():
                    continue
                dirs.append(child)
        return dirs

    def catalog(self) -> Catalog:
        catalog = Catalog()
        for exp_dir in self._experiment_dirs():
            meta = _load_yaml(exp_dir / "meta.yaml")
            experiment_id = str(meta.get("experiment_id", exp_dir.name))
            stage = meta.get("lifecycle_stage") or (
                "deleted" if exp_dir.parent.name == ".trash" else "active"
            )
            catalog.experiments.append(
                ExperimentRecord(
                    experiment_id=experiment_id,
                    name=meta.get("name") or experiment_id,
                    artifact_location=meta.get("artifact_location"),
                    lifecycle_stage=stage,
                    creation_time=meta.get("creation_time"),
                    last_update_time=meta.get("last_update_time"),
                    deleted_time=meta.get("last_update_time") if stage == "deleted" else None,
                    tags=_read_key_files(exp_dir / "tags"),
                )
            )
            for dataset_dir in sorted((exp_dir / "datasets").glob("*/meta.yaml")):
                d = _load_yaml(dataset_dir)
                catalog.datasets.append(
                    DatasetRecord(
                        dataset_id=dataset_dir.parent.name,
                        experiment_id=experiment_id,
                        name=d.get("name", ""),
                        digest=d.get("digest", ""),
                        source_type=d.get("source_type", ""),
                        source=d.get("source", ""),
                        schema=d.get("schema"),
                        profile=d.get("profile"),
                    )
                )
            for run_dir in sorted(exp_dir.iterdir()):
                if (
                    run_dir.name in ("tags", "datasets", "models", "traces")
                    or not (run_dir / "meta.yaml").is_file()
                ):
                    continue
                self._read_run(run_dir, experiment_id, catalog)
            for model_meta in sorted((exp_dir / "models").glob("*/meta.yaml")):
                catalog.logged_models.append(self._read_logged_model(model_meta.parent, experiment_id))
        registry = self.root / "models"
        if registry.is_dir():
            self._read_registry(registry, catalog)
        return catalog

    def _read_run(self, run_dir: Path, experiment_id: str, catalog: Catalog) -> None:
        meta = _load_yaml(run_dir / "meta.yaml")
        run_id = str(meta.get("run_id") or meta.get("run_uuid") or run_dir.name)
        self._run_dirs[run_id] = run_dir
        status = meta.get("status")
        if isinstance(status, int):
            status = _RUN_STATUSES.get(status, "RUNNING")
        source_type = meta.get("source_type")
        if isinstance(source_type, int):
            source_type = SOURCE_TYPES.get(source_type, str(source_type))
        tags = _read_key_files(run_dir / "tags")
        catalog.runs.append(
            RunRecord(
                run_id=run_id,
                experiment_id=experiment_id,
                name=meta.get("run_name") or tags.get("mlflow.runName"),
                user_id=meta.get("user_id"),
                status=status or "RUNNING",
                start_time=meta.get("start_time"),
                end_time=meta.get("end_time"),
                lifecycle_stage=meta.get("lifecycle_stage") or "active",
                artifact_uri=meta.get("artifact_uri"),
                deleted_time=meta.get("deleted_time"),
                source_type=source_type,
                source_name=meta.get("source_name"),
                entry_point_name=meta.get("entry_point_name"),
                source_version=meta.get("source_version"),
                params=_read_key_files(run_dir / "params"),
                tags=tags,
            )
        )
        for input_meta in sorted((run_dir / "inputs").glob("*/meta.yaml")):
            i = _load_yaml(input_meta)
            source_type = i.get("source_type", "DATASET")
            catalog.inputs.append(
                InputRecord(
                    input_id=input_meta.parent.name,
                    source_type=source_type,
                    source_id=str(i.get("source_id")),
                    destination_type="RUN",
                    destination_id=run_id,  # the directory owns the link (the file's own field is unreliable)
                    step=int(i.get("step") or 0),
                    tags={str(k): str(v) for k, v in (i.get("tags") or {}).items()},
                )
            )
        for output_meta in sorted((run_dir / "outputs").glob("*/meta.yaml")):
            o = _load_yaml(output_meta)
            model_id = str(o.get("destination_id") or output_meta.parent.name)
            catalog.inputs.append(
                InputRecord(
                    input_id=uuid.uuid5(_LINK_NAMESPACE, f"{run_id}/{model_id}").hex,
                    source_type="RUN_OUTPUT",
                    source_id=run_id,
                    destination_type="MODEL_OUTPUT",
                    destination_id=model_id,
                    step=int(o.get("step") or 0),
                )
            )

    def _read_logged_model(self, model_dir: Path, experiment_id: str) -> LoggedModelRecord:
        meta = _load_yaml(model_dir / "meta.yaml")
        status = meta.get("status")
        if isinstance(status, int):
            status = LOGGED_MODEL_STATUSES.get(status, str(status))
        metrics: list[ModelMetricPoint] = []
        for key, path in _metric_files(model_dir / "metrics"):
            for line in path.read_text(encoding="utf-8").splitlines():
                parts = line.split()
                if len(parts) < 4:
                    continue
                dataset = (parts[4], parts[5]) if len(parts) >= 6 else (None, None)
                metrics.append((key, _float(parts[1]), int(parts[0]), int(parts[2]), parts[3], *dataset))
        return LoggedModelRecord(
            model_id=str(meta.get("model_id") or model_dir.name),
            experiment_id=str(meta.get("experiment_id") or experiment_id),
            name=meta.get("name") or "model",
            artifact_location=meta.get("artifact_location") or str(model_dir / "artifacts"),
            creation_timestamp=int(meta.get("creation_timestamp") or 0),
            last_updated_timestamp=int(
                meta.get("last_updated_timestamp") or meta.get("creation_timestamp") or 0
            ),
            status=status or "LOGGED_MODEL_PENDING",
            lifecycle_stage=meta.get("lifecycle_stage") or "active",
            model_type=meta.get("model_type"),
            source_run_id=meta.get("source_run_id"),
            status_message=meta.get("status_message"),
            tags=_read_key_files(model_dir / "tags"),
            params=_read_key_files(model_dir / "params"),
            metrics=metrics,
        )

    def _read_registry(self, registry: Path, catalog: Catalog) -> None:
        for model_meta in sorted(registry.glob("*/meta.yaml")):
            model_dir = model_meta.parent
            meta = _load_yaml(model_meta)
            record = RegisteredModelRecord(
                name=meta.get("name") or model_dir.name,
                creation_time=int(meta.get("creation_timestamp") or 0),
                last_updated_time=int(
                    meta.get("last_updated_timestamp") or meta.get("creation_timestamp") or 0
                ),
                description=meta.get("description"),
                tags=_read_key_files(model_dir / "tags"),
            )
            live: set[int] = set()
            for version_meta in sorted(model_dir.glob("version-*/meta.yaml")):
                v = _load_yaml(version_meta)
                number = int(v.get("version") or version_meta.parent.name.split("-", 1)[1])
                record.next_version = max(record.next_version, number + 1)
                if v.get("current_stage") == DELETED_VERSION_STAGE:
                    continue
                live.add(number)
                catalog.model_versions.append(
                    ModelVersionRecord(
                        name=record.name,
                        version=number,
                        creation_time=int(v.get("creation_timestamp") or 0),
                        last_updated_time=int(
                            v.get("last_updated_timestamp") or v.get("creation_timestamp") or 0
                        ),
                        current_stage=v.get("current_stage") or "None",
                        description=v.get("description"),
                        user_id=v.get("user_id"),
                        source=v.get("source"),
                        storage_location=v.get("storage_location"),
                        run_id=v.get("run_id") or None,
                        run_link=v.get("run_link"),
                        model_id=v.get("model_id"),
                        status=v.get("status") or "READY",
                        status_message=v.get("status_message"),
                        tags=_read_key_files(version_meta.parent / "tags"),
                    )
                )
            for alias, version in _read_key_files(model_dir / "aliases").items():
                if version.strip().isdigit() and int(version.strip()) in live:
                    record.aliases[alias] = int(version.strip())
            catalog.registered_models.append(record)

    # -------------------------------------------------------------------------------------- metrics
    def _run_dir(self, run_id: str) -> Path:
        if not self._run_dirs:
            self.catalog()
        path = self._run_dirs.get(run_id)
        if path is None:
            raise NotFoundError(f"Run {run_id} is not in {self.description}")
        return path

    def _run_points(self, run_id: str) -> dict[str, list[MetricPoint]]:
        return {
            key: _parse_points(key, path) for key, path in _metric_files(self._run_dir(run_id) / "metrics")
        }

    def metric_summaries(self, run_ids: Sequence[str]) -> dict[str, dict[str, MetricSummary]]:
        out: dict[str, dict[str, MetricSummary]] = {}
        for run_id in run_ids:
            for key, points in self._run_points(run_id).items():
                if points:
                    out.setdefault(run_id, {})[key] = _summary(points)
        return out

    def metric_points(self, run_ids: Sequence[str]) -> Iterator[tuple[str, list[MetricPoint]]]:
        for run_id in run_ids:
            points = [p for series in self._run_points(run_id).values() for p in series]
            points.sort(key=lambda p: (p[0], p[2], p[3]))
            yield run_id, points

    def artifact_repository(self, artifact_uri: str) -> ArtifactRepository:
        return open_artifacts(artifact_uri, self.artifacts_destination)
