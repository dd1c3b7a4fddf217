"""What a migration moves between stores, as plain records (``bakehouse migrate``, ``bakehouse sync``).

Sources (an MLflow database, an ``./mlruns`` tree, a server) produce these; destinations (Bakehouse's
database, a Bakehouse server, an MLflow server) consume them, and a Bakehouse server receives them over
its import endpoints. They carry every stored field, including the
ones MLflow's entities hide (deleted times, the next version number of a registered model), so nothing is
lost on the way. Metric points travel separately, as tuples, because a store may hold millions of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: One metric point: (key, value, timestamp, step). ``value`` may be NaN or ±inf.
MetricPoint = tuple[str, float, int, int]

#: A logged model's metric point: (key, value, timestamp, step, run_id, dataset_name, dataset_digest).
ModelMetricPoint = tuple[str, float, int, int, str, "str | None", "str | None"]


@dataclass(slots=True)
class ExperimentRecord:
    experiment_id: str
    name: str
    artifact_location: str | None
    lifecycle_stage: str = "active"
    creation_time: int | None = None
    last_update_time: int | None = None
    deleted_time: int | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class RunRecord:
    run_id: str
    experiment_id: str
    name: str | None
    user_id: str | None
    status: str
    start_time: int | None
    end_time: int | None
    lifecycle_stage: str = "active"
    artifact_uri: str | None = None
    deleted_time: int | None = None
    source_type: str | None = None
    source_name: str | None = None
    entry_point_name: str | None = None
    source_version: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class MetricSummary:
    """What a store knows cheaply about one run's metric key, to tell whether a copy is complete.

    ``count`` (and the bounds) are None when the store cannot count without reading every point (a server):
    then the latest point alone decides."""

    count: int | None
    min_timestamp: int | None = None
    max_timestamp: int | None = None
    min_step: int | None = None
    max_step: int | None = None
    #: (step, timestamp, value) of the point MLflow shows as the metric's value
    latest: tuple[int, int, float] | None = None


@dataclass(slots=True)
class DatasetRecord:
    dataset_id: str
    experiment_id: str
    name: str
    digest: str
    source_type: str
    source: str
    schema: str | None = None
    profile: str | None = None


@dataclass(slots=True)
class InputRecord:
    """A link: a dataset or model into a run (``DATASET``/``MODEL`` → ``RUN``), or a run's output model
    (``RUN_OUTPUT`` → ``MODEL_OUTPUT``)."""

    input_id: str
    source_type: str
    source_id: str
    destination_type: str
    destination_id: str
    step: int = 0
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def link(self) -> tuple[str, str, str, str]:
        return (self.source_type, self.source_id, self.destination_type, self.destination_id)


@dataclass(slots=True)
class LoggedModelRecord:
    model_id: str
    experiment_id: str
    name: str
    artifact_location: str
    creation_timestamp: int
    last_updated_timestamp: int
    status: str  # LOGGED_MODEL_PENDING | LOGGED_MODEL_READY | LOGGED_MODEL_UPLOAD_FAILED
    lifecycle_stage: str = "active"
    model_type: str | None = None
    source_run_id: str | None = None
    status_message: str | None = None
    creator_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[ModelMetricPoint] = field(default_factory=list)


@dataclass(slots=True)
class RegisteredModelRecord:
    name: str
    creation_time: int
    last_updated_time: int
    description: str | None = None
    user_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    #: alias -> version number
    aliases: dict[str, int] = field(default_factory=dict)
    #: the number the next registration gets; deleted versions' numbers are never handed out again
    next_version: int = 1


@dataclass(slots=True)
class ModelVersionRecord:
    name: str
    version: int
    creation_time: int
    last_updated_time: int
    current_stage: str = "None"
    description: str | None = None
    user_id: str | None = None
    source: str | None = None
    storage_location: str | None = None
    run_id: str | None = None
    run_link: str | None = None
    model_id: str | None = None
    status: str = "READY"
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Catalog:
    """Everything a source holds except metric points and artifact bytes, which are streamed."""

    experiments: list[ExperimentRecord] = field(default_factory=list)
    runs: list[RunRecord] = field(default_factory=list)
    datasets: list[DatasetRecord] = field(default_factory=list)
    inputs: list[InputRecord] = field(default_factory=list)
    logged_models: list[LoggedModelRecord] = field(default_factory=list)
    registered_models: list[RegisteredModelRecord] = field(default_factory=list)
    model_versions: list[ModelVersionRecord] = field(default_factory=list)


@dataclass(slots=True)
class TransferBatch:
    """One write of an import, applied in this order (what a later kind refers to is written first)."""

    experiments: list[ExperimentRecord] = field(default_factory=list)
    #: experiments created under an id the destination chooses (sync); their new ids are returned in order
    new_experiments: list[ExperimentRecord] = field(default_factory=list)
    runs: list[RunRecord] = field(default_factory=list)
    #: run id -> points of that run to add (existing points are skipped)
    metrics: dict[str, list[MetricPoint]] = field(default_factory=dict)
    datasets: list[DatasetRecord] = field(default_factory=list)
    inputs: list[InputRecord] = field(default_factory=list)
    logged_models: list[LoggedModelRecord] = field(default_factory=list)
    registered_models: list[RegisteredModelRecord] = field(default_factory=list)
    model_versions: list[ModelVersionRecord] = field(default_factory=list)
