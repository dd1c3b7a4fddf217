"""Runs: info (identity and status), data (params, metrics, tags), inputs and outputs."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from bakehouse.entities.lifecycle import LifecycleStage
from bakehouse.entities.metric import Metric
from bakehouse.errors import InvalidParameterError


class RunStatus(str, Enum):
    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @classmethod
    def parse(cls, value: RunStatus | str | int) -> RunStatus:
        """Accept the enum, its name or MLflow's proto number (1..5)."""
        if isinstance(value, RunStatus):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            numbers = {1: cls.RUNNING, 2: cls.SCHEDULED, 3: cls.FINISHED, 4: cls.FAILED, 5: cls.KILLED}
            if value in numbers:
                return numbers[value]
        if isinstance(value, str):
            if value.upper() in cls.__members__:
                return cls[value.upper()]
            if value.isdigit():
                return cls.parse(int(value))
        raise InvalidParameterError(
            f"Invalid run status {value!r}: expected one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED"
        )

    @property
    def is_terminated(self) -> bool:
        return self in (RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED)


@dataclass(slots=True)
class Param:
    key: str
    value: str


@dataclass(slots=True)
class RunTag:
    key: str
    value: str


@dataclass(slots=True)
class RunInfo:
    run_id: str
    experiment_id: str
    run_name: str
    user_id: str
    status: str
    start_time: int | None
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str = LifecycleStage.ACTIVE.value

    @property
    def run_uuid(self) -> str:
        return self.run_id


@dataclass(slots=True)
class RunData:
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    #: the latest point per key, with step and timestamp (what the REST API sends)
    metric_points: list[Metric] = field(default_factory=list)


@dataclass(slots=True)
class DatasetInput:
    name: str
    digest: str
    source_type: str = ""
    source: str = ""
    schema: str | None = None
    profile: str | None = None
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class RunInputs:
    dataset_inputs: list[DatasetInput] = field(default_factory=list)
    model_inputs: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ModelOutput:
    model_id: str
    step: int = 0


@dataclass(slots=True)
class RunOutputs:
    model_outputs: list[ModelOutput] = field(default_factory=list)


@dataclass(slots=True)
class Run:
    info: RunInfo
    data: RunData = field(default_factory=RunData)
    inputs: RunInputs = field(default_factory=RunInputs)
    outputs: RunOutputs = field(default_factory=RunOutputs)


@dataclass(slots=True)
class FileInfo:
    path: str
    is_dir: bool
    file_size: int | None = None
