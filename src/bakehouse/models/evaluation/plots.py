"""The evaluation plots, drawn with matplotlib's object API (no pyplot: no global figure, no GUI backend).

Names and looks follow MLflow's default evaluator: ``confusion_matrix`` (normalized over true labels),
``roc_curve_plot`` and ``precision_recall_curve_plot`` (one curve per class against the rest for more than
two classes); regressors get ``residuals_plot``, which MLflow does not draw.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bakehouse.errors import InvalidParameterError

#: MLflow's figure settings for evaluation plots
RC: dict[str, Any] = {
    "figure.dpi": 175,
    "figure.figsize": [6.0, 4.0],
    "figure.autolayout": True,
    "font.size": 8,
}

Draw = Callable[[Any], None]


def require_matplotlib() -> None:
    if importlib.util.find_spec("matplotlib") is None:
        raise InvalidParameterError(
            "Evaluation plots need matplotlib: pip install 'bakehouse[evaluate]' "
            "(or pass evaluator_config={'log_plots': False})"
        )


def save(draw: Draw, path: Path) -> Path:
    import matplotlib  # optional dependency (extra "evaluate"); checked by require_matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(RC):  # type: ignore[arg-type]  # keys are typed as literals
        figure = Figure()
        draw(figure)
        figure.savefig(path, format="png", bbox_inches="tight")
    return path


def confusion_matrix(y_true: Any, y_pred: Any, labels: np.ndarray, weights: Any = None) -> Draw:
    from sklearn import metrics as sk

    matrix = sk.confusion_matrix(y_true, y_pred, labels=labels, normalize="true", sample_weight=weights)

    def draw(figure: Any) -> None:
        import matplotlib

        with matplotlib.rc_context({"font.size": min(8, math.ceil(50.0 / len(labels))), "axes.labelsize": 8}):
            ax = figure.add_subplot(1, 1, 1)
            sk.ConfusionMatrixDisplay(confusion_matrix=matrix, display_labels=labels).plot(
                cmap="Blues", ax=ax
            )
            ax.set_title("Normalized confusion matrix")

    return draw


def _one_vs_rest(y_true: Any, y_proba: Any, labels: np.ndarray) -> list[tuple[Any, np.ndarray, np.ndarray]]:
    sorted_classes = np.sort(labels)
    y = np.asarray(y_true)
    proba = np.asarray(y_proba)
    return [
        (label, (y == label).astype(int), proba[:, int(np.where(sorted_classes == label)[0][0])])
        for label in labels
    ]


def _curves(
    kind: str, series: list[tuple[str, np.ndarray, np.ndarray]], binary: bool, pos_label: Any
) -> Draw:
    titles = {"roc": "ROC curve", "pr": "Precision recall curve"}
    axes = {"roc": ("False Positive Rate", "True Positive Rate"), "pr": ("Recall", "Precision")}
    xlabel, ylabel = axes[kind]
    if pos_label is not None and binary:
        xlabel, ylabel = f"{xlabel} (Positive label: {pos_label})", f"{ylabel} (Positive label: {pos_label})"

    def draw(figure: Any) -> None:
        ax = figure.add_subplot(1, 1, 1)
        for label, x, y in series:
            ax.plot(x, y, label=label, drawstyle="steps-post", linewidth=1)
        diagonal = ([0, 1], [0, 1]) if kind == "roc" else ([0, 1], [1, 0])
        ax.plot(*diagonal, color="gray", alpha=0.3, linestyle="dashed")
        ax.set(xlabel=xlabel, ylabel=ylabel, title=titles[kind])
        if binary:
            ax.legend(loc="best")
        else:
            ax.legend(loc="center left", bbox_to_anchor=(1, 0.5))

    return draw


def _pairs(
    y_true: Any, y_proba: Any, labels: np.ndarray, pos_label: Any, binary: bool
) -> list[tuple[Any, np.ndarray, np.ndarray]]:
    """(class or None, 0/1 truth, probability) per curve: the positive class alone for two classes."""
    if binary:
        column = int(np.where(np.sort(labels) == pos_label)[0][0])
        return [(None, (np.asarray(y_true) == pos_label).astype(int), np.asarray(y_proba)[:, column])]
    return _one_vs_rest(y_true, y_proba, labels)


def _roc(truth: np.ndarray, proba: np.ndarray, weights: Any) -> tuple[Any, Any, str]:
    from sklearn import metrics as sk

    fpr, tpr, _ = sk.roc_curve(truth, proba, sample_weight=weights)
    return fpr, tpr, f"AUC={sk.roc_auc_score(truth, proba, sample_weight=weights):.3f}"


def _precision_recall(truth: np.ndarray, proba: np.ndarray, weights: Any) -> tuple[Any, Any, str]:
    from sklearn import metrics as sk

    precision, recall, _ = sk.precision_recall_curve(truth, proba, sample_weight=weights)
    return recall, precision, f"AP={sk.average_precision_score(truth, proba, sample_weight=weights):.3f}"


def curve(
    kind: str,
    y_true: Any,
    y_proba: Any,
    labels: np.ndarray,
    pos_label: Any,
    binary: bool,
    weights: Any = None,
) -> Draw:
    """``roc`` (AUC in the legend) or ``pr`` (average precision, as MLflow labels it)."""
    measure = _roc if kind == "roc" else _precision_recall
    series = []
    for label, truth, proba in _pairs(y_true, y_proba, labels, pos_label, binary):
        x, y, score = measure(truth, proba, weights)
        series.append((score if label is None else f"label={label},{score}", x, y))
    return _curves(kind, series, binary, pos_label)


def residuals(y_true: Any, y_pred: Any) -> Draw:
    """Residuals against predictions, and their histogram: bias and heteroscedasticity at a glance."""
    predicted = np.asarray(y_pred, dtype=float).ravel()
    errors = np.asarray(y_true, dtype=float).ravel() - predicted

    def draw(figure: Any) -> None:
        left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1]}, sharey=True)
        left.scatter(predicted, errors, s=6, alpha=0.6)
        left.axhline(0.0, color="gray", alpha=0.5, linestyle="dashed")
        left.set(xlabel="Predicted value", ylabel="Residual (true - predicted)", title="Residuals")
        right.hist(errors, bins=30, orientation="horizontal", alpha=0.7)
        right.set(xlabel="Count")

    return draw
