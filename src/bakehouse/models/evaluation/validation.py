"""Is a candidate good enough? MLflow 3.17's ``MetricThreshold`` and ``validate_evaluation_results``.

Same fields and rules: ``threshold`` (absolute bar), ``min_absolute_change`` and ``min_relative_change``
(against the baseline; relative to the baseline's magnitude, falling back to "strictly better by 1e-10" when
the baseline is 0) and the required ``greater_is_better``. On failure :class:`ModelValidationFailedError`
(error code BAD_REQUEST, as MLflow's ``ModelValidationFailedException``) lists every failed metric, one line
each, in MLflow's wording; ``.failures`` holds them for programs.
"""

from __future__ import annotations

import logging
import operator
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bakehouse.errors import BadRequestError, InvalidParameterError

logger = logging.getLogger(__name__)


class MetricThresholdError(InvalidParameterError):
    def __init__(self, message: str) -> None:
        super().__init__("Could not instantiate MetricThreshold class: " + message)


@dataclass(frozen=True)
class MetricThreshold:
    threshold: float | None = None
    min_absolute_change: float | None = None
    min_relative_change: float | None = None
    greater_is_better: bool | None = None

    def __post_init__(self) -> None:
        if self.threshold is not None and type(self.threshold) not in (int, float):
            raise MetricThresholdError("`threshold` parameter must be a number.")
        if self.min_absolute_change is not None and (
            type(self.min_absolute_change) not in (int, float) or self.min_absolute_change <= 0
        ):
            raise MetricThresholdError("`min_absolute_change` parameter must be a positive number.")
        if self.min_relative_change is not None:
            if not isinstance(self.min_relative_change, float):
                raise MetricThresholdError("`min_relative_change` parameter must be a floating point number.")
            if not 0 <= self.min_relative_change <= 1:
                raise MetricThresholdError("`min_relative_change` parameter must be between 0 and 1.")
        if self.greater_is_better is None:
            raise MetricThresholdError("`greater_is_better` parameter must be defined.")
        if not isinstance(self.greater_is_better, bool):
            raise MetricThresholdError("`greater_is_better` parameter must be a boolean.")
        if self.threshold is None and self.min_absolute_change is None and self.min_relative_change is None:
            raise MetricThresholdError("no threshold was specified.")

    def __str__(self) -> str:
        parts = []
        if self.threshold is not None:
            parts.append(f"Threshold: {self.threshold}.")
        if self.min_absolute_change is not None:
            parts.append(f"Minimum Absolute Change: {self.min_absolute_change}.")
        if self.min_relative_change is not None:
            parts.append(f"Minimum Relative Change: {self.min_relative_change}.")
        parts.append("Greater value is better." if self.greater_is_better else "Lower value is better.")
        return " ".join(parts)


class ModelValidationFailedError(BadRequestError):
    """The candidate did not meet the thresholds; ``failures`` maps each failed metric to its message."""

    def __init__(self, message: str, failures: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.failures = dict(failures or {})


#: MLflow's class name, for code written against ``mlflow.models.evaluation.validation``
ModelValidationFailedException = ModelValidationFailedError


@dataclass
class _Check:
    name: str
    candidate: float | None
    threshold: MetricThreshold
    baseline: float | None = None
    missing_candidate: bool = False
    missing_baseline: bool = False
    threshold_failed: bool = False
    absolute_failed: bool = False
    relative_failed: bool = False

    def passed(self) -> bool:
        return not (
            self.missing_candidate
            or self.missing_baseline
            or self.threshold_failed
            or self.absolute_failed
            or self.relative_failed
        )

    def message(self) -> str:
        n, t = self.name, self.threshold
        if self.missing_candidate:
            return f"Metric validation failed: metric {n} was missing from the evaluation result of the candidate model."
        lines = []
        if self.threshold_failed:
            lines.append(
                f"Metric {n} value threshold check failed: candidate model {n} = {self.candidate}, "
                f"{n} threshold = {t.threshold}."
            )
        if self.missing_baseline:
            lines.append(
                f"Model comparison failed: metric {n} was missing from the evaluation result of the baseline model."
            )
        else:
            if self.absolute_failed:
                lines.append(
                    f"Metric {n} minimum absolute change check failed: candidate model {n} = {self.candidate}, "
                    f"baseline model {n} = {self.baseline}, {n} minimum absolute change threshold = "
                    f"{t.min_absolute_change}."
                )
            if self.relative_failed:
                lines.append(
                    f"Metric {n} minimum relative change check failed: candidate model {n} = {self.candidate}, "
                    f"baseline model {n} = {self.baseline}, {n} minimum relative change threshold = "
                    f"{t.min_relative_change}."
                )
        return " ".join(lines)


def _metrics_of(result: Any) -> Mapping[str, float]:
    if result is None:
        return {}
    metrics = getattr(result, "metrics", result)
    if not isinstance(metrics, Mapping):
        raise InvalidParameterError(
            "Evaluation results must be EvaluationResult objects or metric dictionaries."
        )
    return metrics


def _check(
    name: str, threshold: MetricThreshold, candidate: Mapping[str, float], baseline: Mapping[str, float]
) -> _Check:
    check = _Check(name, candidate.get(name), threshold, baseline.get(name))
    if name not in candidate:
        check.missing_candidate = True
        return check
    value = candidate[name]
    compare: Callable[[Any, Any], bool] = operator.ge if threshold.greater_is_better else operator.le
    shift: Callable[[Any, Any], Any] = operator.add if threshold.greater_is_better else operator.sub
    if threshold.threshold is not None:
        check.threshold_failed = not compare(value, threshold.threshold)
    if (threshold.min_relative_change or threshold.min_absolute_change) and name not in baseline:
        check.missing_baseline = True
        return check
    base = baseline.get(name)
    if threshold.min_absolute_change is not None and base is not None:
        check.absolute_failed = not compare(
            Decimal(value), Decimal(shift(base, threshold.min_absolute_change))
        )
    if threshold.min_relative_change is not None and base is not None:
        if base == 0:
            logger.warning(
                "Cannot perform relative model comparison for metric %s as baseline metric value is 0. Falling "
                "back to simple comparison: verifying that candidate metric value is better than the baseline.",
                name,
            )
            check.relative_failed = not compare(Decimal(value), Decimal(shift(base, 1e-10)))
            return check
        change = (value - base) / abs(base) if threshold.greater_is_better else (base - value) / abs(base)
        check.relative_failed = change < threshold.min_relative_change
    return check


def validate_evaluation_results(
    validation_thresholds: dict[str, MetricThreshold],
    candidate_result: Any,
    baseline_result: Any = None,
) -> None:
    """Raise :class:`ModelValidationFailedError` naming each metric of ``candidate_result`` that misses its
    threshold (or, with a ``baseline_result``, its required change); return None when all pass."""
    if not isinstance(validation_thresholds, dict) or not all(
        isinstance(k, str) and isinstance(v, MetricThreshold) for k, v in validation_thresholds.items()
    ):
        raise InvalidParameterError(
            "The validation thresholds argument must be a dictionary that maps strings to MetricThreshold objects."
        )
    candidate, baseline = _metrics_of(candidate_result), _metrics_of(baseline_result)
    checks = [
        _check(name, threshold, candidate, baseline) for name, threshold in validation_thresholds.items()
    ]
    failures = {c.name: c.message() for c in checks if not c.passed()}
    if failures:
        raise ModelValidationFailedError(os.linesep.join(failures.values()), failures)
    logger.info("Model validation passed!")
