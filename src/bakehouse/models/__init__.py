"""The MLmodel format: model metadata, signatures, environments, URIs and the flavor allowlist.

Imports here stay light (no pandas/numpy/sklearn) so ``import bakehouse.models`` is cheap; ``evaluate``,
``MetricThreshold`` and ``validate_evaluation_results`` load :mod:`bakehouse.models.evaluation` on first use.
"""

from typing import Any

from bakehouse.models.code_model import set_model
from bakehouse.models.mlmodel import Model, ModelInfo
from bakehouse.models.schema_inference import infer_signature
from bakehouse.models.signature import (
    ColSpec,
    ModelSignature,
    ParamSchema,
    ParamSpec,
    Schema,
    TensorSpec,
)

_EVALUATION = (
    "EvaluationResult",
    "MetricThreshold",
    "ModelValidationFailedError",
    "ModelValidationFailedException",
    "evaluate",
    "validate_evaluation_results",
)


def __getattr__(name: str) -> Any:
    if name in _EVALUATION:
        from bakehouse.models import evaluation

        return getattr(evaluation, name)
    raise AttributeError(f"module 'bakehouse.models' has no attribute {name!r}")


__all__ = [
    "ColSpec",
    "EvaluationResult",
    "MetricThreshold",
    "Model",
    "ModelInfo",
    "ModelSignature",
    "ParamSchema",
    "ParamSpec",
    "Schema",
    "TensorSpec",
    "evaluate",
    "infer_signature",
    "set_model",
    "validate_evaluation_results",
]
