"""The contract of a destination that keeps ids: a Bakehouse database, or a Bakehouse server."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from bakehouse.entities.transfer import (
    DatasetRecord,
    ExperimentRecord,
    InputRecord,
    LoggedModelRecord,
    MetricPoint,
    ModelVersionRecord,
    RegisteredModelRecord,
    RunRecord,
)
from bakehouse.store.artifacts import ArtifactRepository
from bakehouse.store.transfer.state import DestinationState, StateQuery


class Destination(Protocol):
    description: str

    def state(self, query: StateQuery) -> DestinationState:
        """What already exists of the objects named in ``query``."""
        ...

    def experiment_location(self, experiment_id: str | None) -> str:
        """Where a new experiment's artifacts go when they are copied (its id may be chosen on creation)."""
        ...

    def create_experiment(self, record: ExperimentRecord) -> str:
        """Create an experiment under a new id chosen here (sync, whose ids are the destination's)."""
        ...

    def write_experiments(self, records: Sequence[ExperimentRecord]) -> None: ...

    def write_runs(self, records: Sequence[RunRecord], points: Mapping[str, Sequence[MetricPoint]]) -> None:
        """Runs (created or updated) and their metric points, together (one transaction where possible)."""
        ...

    def write_links(self, datasets: Sequence[DatasetRecord], inputs: Sequence[InputRecord]) -> None: ...

    def write_logged_models(self, records: Sequence[LoggedModelRecord]) -> None: ...

    def write_registry(
        self, models: Sequence[RegisteredModelRecord], versions: Sequence[ModelVersionRecord]
    ) -> None:
        """Registered models, then their versions, then aliases (which name versions)."""
        ...

    def metric_points(self, run_ids: Sequence[str]) -> dict[str, list[MetricPoint]]:
        """Every point of these runs (verification)."""
        ...

    def artifact_repository(self, artifact_uri: str) -> ArtifactRepository: ...

    def close(self) -> None: ...
