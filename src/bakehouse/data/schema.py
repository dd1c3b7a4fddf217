"""Dataset schemas: ``infer_schema`` of ``bakehouse.models.signature``, stored as MLflow stores a dataset's.

A dataset's schema column holds MLflow's JSON: ``{"mlflow_colspec": [...]}`` for a DataFrame and
``{"mlflow_tensorspec": {"features": "<json>", "targets": "<json>"}}`` for arrays. Inference is MLflow's
already (types, labels, key order); the one dataset rule is that where inference raises, the dataset simply
has no schema. The JSON text matters because the schema is stored and compared as a string.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from bakehouse.models.schema_inference import infer_schema
from bakehouse.models.signature import Schema

_logger = logging.getLogger(__name__)


def pandas_schema(df: Any) -> Schema | None:
    """The column schema MLflow's ``PandasDataset.schema`` gives ``df``; None where its inference fails."""
    try:
        return infer_schema(df)
    except Exception as exc:  # noqa: BLE001 - MLflow gives up on any failure, and so does the dataset
        _logger.debug("Failed to infer schema for Pandas dataset: %s", exc)
        return None


def pandas_schema_json(schema: Schema) -> str:
    """``{"mlflow_colspec": [...]}``; a label JSON cannot hold (a Timestamp) is written as its string, where
    MLflow's own ``to_dict`` would raise."""
    return json.dumps({"mlflow_colspec": schema.to_dict()}, default=str)


@dataclass(slots=True)
class TensorDatasetSchema:
    """Features and optional targets of an array dataset (MLflow's ``TensorDatasetSchema``)."""

    features: Schema
    targets: Schema | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "mlflow_tensorspec": {
                "features": self.features.to_json(),
                "targets": self.targets.to_json() if self.targets is not None else None,
            }
        }
