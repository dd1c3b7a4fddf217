"""Datasets from numpy arrays (``from_numpy``), recorded as MLflow's ``NumpyDataset`` records them."""

from __future__ import annotations

import json
import logging
from functools import cached_property
from typing import TYPE_CHECKING, Any

from bakehouse.data.dataset import Dataset
from bakehouse.data.digest import compute_numpy_digest
from bakehouse.data.schema import TensorDatasetSchema
from bakehouse.data.sources import DatasetSource, code_source, resolve_source
from bakehouse.errors import BakehouseError, InvalidParameterError
from bakehouse.models.schema_inference import infer_schema

if TYPE_CHECKING:
    import numpy as np

    Arrays = np.ndarray | dict[str, np.ndarray]

_logger = logging.getLogger(__name__)


def _check_arrays(value: Any, what: str) -> None:
    import numpy as np  # only when a dataset is built

    ok = isinstance(value, np.ndarray) or (
        isinstance(value, dict) and all(isinstance(v, np.ndarray) for v in value.values())
    )
    if not ok:
        raise InvalidParameterError(
            f"from_numpy expects {what} as a numpy array or a dict of numpy arrays,"
            f" got {type(value).__name__}"
        )


def _attribute(data: Arrays, attr: str) -> Any:
    if isinstance(data, dict):
        return {key: getattr(array, attr) for key, array in data.items()}
    return getattr(data, attr)


class NumpyDataset(Dataset):
    """Features (an array, or a dict of named arrays) and optional targets of the same kind."""

    def __init__(
        self,
        features: Arrays,
        source: DatasetSource,
        targets: Arrays | None = None,
        name: str | None = None,
        digest: str | None = None,
    ) -> None:
        _check_arrays(features, "features")
        if targets is not None:
            _check_arrays(targets, "targets")
        self._features = features
        self._targets = targets
        super().__init__(source, name, digest)

    def _compute_digest(self) -> str:
        return compute_numpy_digest(self._features, self._targets)

    @property
    def features(self) -> Arrays:
        return self._features

    @property
    def targets(self) -> Arrays | None:
        return self._targets

    @property
    def profile(self) -> dict[str, Any]:
        """Shape, size and bytes of features (and targets); per key for dicts of arrays."""
        profile = {f"features_{a}": _attribute(self._features, a) for a in ("shape", "size", "nbytes")}
        if self._targets is not None:
            profile.update(
                {f"targets_{a}": _attribute(self._targets, a) for a in ("shape", "size", "nbytes")}
            )
        return profile

    @cached_property
    def schema(self) -> TensorDatasetSchema | None:
        """Tensor specs of features and targets, or None where MLflow's inference fails (0-d arrays)."""
        try:
            features = infer_schema(self._features)
            targets = infer_schema(self._targets) if self._targets is not None else None
        except BakehouseError as exc:
            _logger.warning("Failed to infer schema for NumPy dataset: %s", exc)
            return None
        return TensorDatasetSchema(features, targets)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        schema = self.schema
        out["schema"] = json.dumps(schema.to_dict()) if schema else None
        out["profile"] = json.dumps(self.profile)
        return out


def from_numpy(
    features: Arrays,
    source: str | DatasetSource | Any = None,
    targets: Arrays | None = None,
    name: str | None = None,
    digest: str | None = None,
) -> NumpyDataset:
    """A dataset for ``log_input`` from arrays. ``source`` is a path, a URI or a DatasetSource; without one
    the source is the running code (MLflow's ``code`` source). Name and digest default as in MLflow."""
    resolved = code_source() if source is None else resolve_source(source)
    return NumpyDataset(features, resolved, targets=targets, name=name, digest=digest)
