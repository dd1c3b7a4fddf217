"""Model evaluation and validation with MLflow 3.17's API: ``evaluate``, ``MetricThreshold``,
``validate_evaluation_results``. Loaded on first use (pandas, scikit-learn, matplotlib are heavy)."""

from bakehouse.models.evaluation.evaluate import EvaluationArtifact, EvaluationResult, evaluate
from bakehouse.models.evaluation.validation import (
    MetricThreshold,
    ModelValidationFailedError,
    ModelValidationFailedException,
    validate_evaluation_results,
)

__all__ = [
    "EvaluationArtifact",
    "EvaluationResult",
    "MetricThreshold",
    "ModelValidationFailedError",
    "ModelValidationFailedException",
    "evaluate",
    "validate_evaluation_results",
]
