"""The contract every migration source implements: read everything, change nothing."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from bakehouse.entities.transfer import Catalog, MetricPoint, MetricSummary
from bakehouse.store.artifacts import ArtifactRepository


class Source(Protocol):
    #: what the user named, for messages (passwords hidden)
    description: str
    #: "mlflow" or "bakehouse": whose data this is (the report says so; sync only reads Bakehouse stores)
    flavor: str

    def catalog(self) -> Catalog:
        """Every object except metric points and artifact bytes."""
        ...

    def metric_summaries(self, run_ids: Sequence[str]) -> dict[str, dict[str, MetricSummary]]:
        """run id -> key -> what the source knows cheaply about that history."""
        ...

    def metric_points(self, run_ids: Sequence[str]) -> Iterator[tuple[str, list[MetricPoint]]]:
        """(run id, every point of that run), run after run; points sorted by (key, timestamp, step)."""
        ...

    def artifact_repository(self, artifact_uri: str) -> ArtifactRepository:
        """A repository to read the artifacts at ``artifact_uri`` (a run's or a logged model's)."""
        ...

    def close(self) -> None: ...
