"""MLflow's default evaluation metrics, computed the way ``mlflow.models.evaluate`` computes them.

Names and formulas follow ``mlflow/models/evaluation/evaluators/{classifier,regressor}.py`` of MLflow 3.17:
the label list is the sorted union of true and predicted labels; a binary problem's positive label is the
last one (or ``pos_label``); precision/recall/F1 are ``binary`` for two labels and ``weighted`` (or the
configured ``average``) otherwise; ``log_loss``, ``roc_auc`` and ``precision_recall_auc`` need class
probabilities. A parity test runs both on the same model and data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as sk


@dataclass(frozen=True)
class Labels:
    """The classes in MLflow's order, and for two classes which one is positive (and its probability column)."""

    values: np.ndarray
    pos_label: Any = None
    pos_index: int = 1

    @property
    def binary(self) -> bool:
        return len(self.values) == 2


def label_list(y_true: Any, y_pred: Any, configured: list[Any] | None, pos_label: Any) -> Labels:
    if configured is None:
        values = np.unique(np.concatenate([np.asarray(y_true), np.asarray(y_pred)]))
    else:
        values = np.array(configured)
    if len(values) < 2:
        from bakehouse.errors import InvalidParameterError

        raise InvalidParameterError(
            "Evaluation dataset for classification must contain at least two unique labels, but only "
            f"{len(values)} unique labels were found. Pass evaluator_config={{'label_list': [...]}} with all "
            "possible classes."
        )
    values = np.sort(values)
    if len(values) != 2:
        return Labels(values)
    pos_index = (
        int(np.where(values == pos_label)[0][0]) if pos_label is not None and pos_label in values else 1
    )
    if pos_label is None:
        pos_label = values[-1]
    elif pos_label in values:
        values = np.append(np.delete(values, np.where(values == pos_label)), pos_label)
    return Labels(values, pos_label, pos_index)


def _common(
    y_true: Any, y_pred: Any, y_proba: Any, labels: np.ndarray, average: str, pos_label: Any, weights: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "example_count": len(y_true),
        "accuracy_score": sk.accuracy_score(y_true, y_pred, sample_weight=weights),
        "recall_score": sk.recall_score(
            y_true, y_pred, average=average, pos_label=pos_label, sample_weight=weights
        ),
        "precision_score": sk.precision_score(
            y_true, y_pred, average=average, pos_label=pos_label, sample_weight=weights
        ),
        "f1_score": sk.f1_score(y_true, y_pred, average=average, pos_label=pos_label, sample_weight=weights),
    }
    if y_proba is not None:
        out["log_loss"] = sk.log_loss(y_true, y_proba, labels=labels, sample_weight=weights)
    return out


def binary_metrics(
    y_true: Any, y_pred: Any, y_proba: Any, labels: np.ndarray, pos_label: Any, weights: Any = None
) -> dict[str, Any]:
    tn, fp, fn, tp = sk.confusion_matrix(y_true, y_pred, labels=labels).ravel()
    return {
        "true_negatives": int(tn),
        "false_positives": int(fp),
        "false_negatives": int(fn),
        "true_positives": int(tp),
        **_common(y_true, y_pred, y_proba, labels, "binary", pos_label, weights),
    }


def multiclass_metrics(
    y_true: Any, y_pred: Any, y_proba: Any, labels: np.ndarray, average: str = "weighted", weights: Any = None
) -> dict[str, Any]:
    out = _common(y_true, y_pred, y_proba, labels, average, None, weights)
    if average in ("macro", "weighted") and y_proba is not None:
        out["roc_auc"] = sk.roc_auc_score(
            y_true=y_true, y_score=y_proba, sample_weight=weights, average=average, multi_class="ovr"
        )
    return out


def binary_curve_aucs(
    y_true: Any, positive_proba: Any, pos_label: Any, weights: Any = None
) -> dict[str, float]:
    """``roc_auc`` and ``precision_recall_auc`` (average precision, as MLflow reports it) of a binary model."""
    return {
        "roc_auc": float(
            sk.roc_auc_score(
                y_true=np.asarray(y_true) == pos_label, y_score=positive_proba, sample_weight=weights
            )
        ),
        "precision_recall_auc": float(
            sk.average_precision_score(
                y_true=y_true, y_score=positive_proba, pos_label=pos_label, sample_weight=weights
            )
        ),
    }


def per_class_table(
    y_true: Any, y_pred: Any, y_proba: Any, labels: Labels, weights: Any = None
) -> pd.DataFrame:
    """One row per class, that class against the rest: MLflow's ``per_class_metrics`` columns."""
    rows = []
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    sorted_classes = np.sort(labels.values)  # probability columns follow the sorted classes
    for positive in labels.values:
        true_bin = np.where(y_true == positive, 1, 0)
        pred_bin = np.where(y_pred == positive, 1, 0)
        row: dict[str, Any] = {"positive_class": positive}
        row.update(binary_metrics(true_bin, pred_bin, None, np.array([0, 1]), 1, weights))
        if y_proba is not None:
            column = int(np.where(sorted_classes == positive)[0][0])
            proba = np.asarray(y_proba)[:, column]
            row["roc_auc"] = float(sk.roc_auc_score(true_bin, proba, sample_weight=weights))
            row["precision_recall_auc"] = float(
                sk.average_precision_score(true_bin, proba, pos_label=1, sample_weight=weights)
            )
        rows.append(row)
    return pd.DataFrame(rows)


def regressor_metrics(y_true: Any, y_pred: Any, weights: Any = None) -> dict[str, Any]:
    y = np.asarray(y_true)
    total = float((y * np.asarray(weights)).sum()) if weights is not None else float(np.sum(y))
    return {
        "example_count": len(y),
        "mean_absolute_error": sk.mean_absolute_error(y, y_pred, sample_weight=weights),
        "mean_squared_error": sk.mean_squared_error(y, y_pred, sample_weight=weights),
        "root_mean_squared_error": sk.root_mean_squared_error(y, y_pred, sample_weight=weights),
        "sum_on_target": total,
        "mean_on_target": total / len(y),
        "r2_score": sk.r2_score(y, y_pred, sample_weight=weights),
        "max_error": sk.max_error(y, y_pred),
        "mean_absolute_percentage_error": sk.mean_absolute_percentage_error(y, y_pred, sample_weight=weights),
    }
