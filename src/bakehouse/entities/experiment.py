"""Experiments group runs."""

from __future__ import annotations

from dataclasses import dataclass, field

from bakehouse.entities.lifecycle import LifecycleStage


@dataclass(slots=True)
class ExperimentTag:
    key: str
    value: str


@dataclass(slots=True)
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str = LifecycleStage.ACTIVE.value
    creation_time: int | None = None
    last_update_time: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
