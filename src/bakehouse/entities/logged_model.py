"""MLflow 3 logged models: a model's identity, independent of the run that produced it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from bakehouse.entities.lifecycle import LifecycleStage
from bakehouse.entities.metric import Metric


class LoggedModelStatus(str, Enum):
    PENDING = "LOGGED_MODEL_PENDING"
    READY = "LOGGED_MODEL_READY"
    UPLOAD_FAILED = "LOGGED_MODEL_UPLOAD_FAILED"


@dataclass(slots=True)
class LoggedModel:
    model_id: str
    experiment_id: str
    name: str
    artifact_location: str
    creation_timestamp: int
    last_updated_timestamp: int
    status: str = LoggedModelStatus.PENDING.value
    model_type: str | None = None
    source_run_id: str | None = None
    status_message: str | None = None
    lifecycle_stage: str = LifecycleStage.ACTIVE.value
    creator_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[Metric] = field(default_factory=list)
