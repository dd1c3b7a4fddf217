"""The contract of a destination that keeps ids: a Bakehouse database, or a Bakehouse server."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bakehouse.entities.transfer import MetricPoint, TransferBatch
from bakehouse.store.artifacts import ArtifactRepository
from bakehouse.store.transfer.state import DestinationState, StateQuery


class Destination(Protocol):
    description: str
    #: points per write (a server's request size is bounded)
    max_batch_points: int

    def state(self, query: StateQuery) -> DestinationState:
        """What already exists of the objects named in ``query``."""
        ...

    def experiment_location(self, experiment_id: str) -> str:
        """Where the artifacts of a new experiment go when they are copied."""
        ...

    def write(self, batch: TransferBatch) -> list[str]:
        """Apply a batch with its ids (one transaction on a database); returns new experiments' ids."""
        ...

    def metric_points(self, run_ids: Sequence[str]) -> dict[str, list[MetricPoint]]:
        """Every point of these runs (verification)."""
        ...

    def artifact_repository(self, artifact_uri: str) -> ArtifactRepository: ...

    def close(self) -> None: ...
