"""The MLmodel format: model metadata, signatures, environments, URIs and the flavor allowlist.

Imports here stay light (no pandas/numpy/sklearn) so ``import bakehouse.models`` is cheap.
"""

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

__all__ = [
    "ColSpec",
    "Model",
    "ModelInfo",
    "ModelSignature",
    "ParamSchema",
    "ParamSpec",
    "Schema",
    "TensorSpec",
    "infer_signature",
    "set_model",
]
