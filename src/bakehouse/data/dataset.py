"""The dataset base class: name, digest, source, schema and profile, and the run input they become."""

from __future__ import annotations

import json
from typing import Any

from bakehouse.data.sources import DatasetSource
from bakehouse.entities.run import DatasetInput

#: the input tag that says how a run used a dataset ("training", "evaluation", ...), as MLflow names it.
CONTEXT_TAG = "mlflow.data.context"


class Dataset:
    """A dataset as MLflow tracks it. Subclasses compute the digest, schema and profile from their data."""

    def __init__(self, source: DatasetSource, name: str | None = None, digest: str | None = None) -> None:
        # Subclasses set their data first: the digest is computed from it here.
        self._source = source
        self._name = name
        self._digest = digest or self._compute_digest()

    def _compute_digest(self) -> str:
        raise NotImplementedError

    @property
    def name(self) -> str:
        """The given name, or ``"dataset"`` (MLflow's default, which the UI shows)."""
        return self._name if self._name is not None else "dataset"

    @property
    def digest(self) -> str:
        return self._digest

    @property
    def source(self) -> DatasetSource:
        return self._source

    @property
    def schema(self) -> Any:
        """Subclasses: the inferred schema, or None where it cannot be inferred."""
        return None

    @property
    def profile(self) -> dict[str, Any] | None:
        """Subclasses: summary numbers (row counts, shapes), or None."""
        return None

    def to_dict(self) -> dict[str, Any]:
        """MLflow's ``Dataset.to_dict``: name, digest, source (a JSON string) and source_type; subclasses add
        ``schema`` and ``profile`` as JSON strings."""
        return {
            "name": self.name,
            "digest": self.digest,
            "source": self.source.to_json(),
            "source_type": self.source.source_type,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def to_dataset_input(
        self, context: str | None = None, tags: dict[str, str] | None = None
    ) -> DatasetInput:
        """The run input ``log_input`` records; a non-empty ``context`` becomes the ``mlflow.data.context``
        tag (after the given tags, so it wins over a tag of the same key, as in MLflow)."""
        input_tags = {str(k): str(v) for k, v in (tags or {}).items()}
        if context:
            input_tags[CONTEXT_TAG] = context
        d = self.to_dict()
        return DatasetInput(
            name=d["name"],
            digest=d["digest"],
            source_type=d["source_type"],
            source=d["source"],
            schema=d.get("schema"),
            profile=d.get("profile"),
            tags=input_tags,
        )

    def __repr__(self) -> str:
        kind = self.source.source_type
        return f"{type(self).__name__}(name={self.name!r}, digest={self.digest!r}, source_type={kind!r})"
