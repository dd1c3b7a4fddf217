"""The plots scikit-learn autologging draws for a classifier, as MLflow draws them.

Every classifier gets ``training_confusion_matrix.png`` (normalized over the true labels); a binary one also
gets ``training_roc_curve.png`` and ``training_precision_recall_curve.png``. Drawn with matplotlib's
non-interactive backend, so a notebook's figures or a headless machine are not disturbed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # matplotlib loads only when a plot is drawn
    from matplotlib.typing import RcKeyType

logger = logging.getLogger(__name__)

#: MLflow's figure settings for these plots
_RC: dict[RcKeyType, Any] = {"savefig.dpi": 175, "figure.autolayout": True, "font.size": 8}


def _labels(estimator: Any, y: Any) -> list[Any]:
    classes = getattr(estimator, "classes_", None)
    return list(classes) if classes is not None else sorted(set(y))


def classifier_plots(
    estimator: Any, X: Any, y: Any, sample_weight: Any, prefix: str, directory: Path
) -> list[Path]:
    """Write the plots into ``directory``; returns the files written. A plot that fails is skipped with a
    log line (autologging never fails a fit)."""
    import matplotlib
    from matplotlib.figure import Figure
    from sklearn import metrics

    def confusion_matrix(ax: Any) -> Any:
        labels = _labels(estimator, y)
        with matplotlib.rc_context(
            {"font.size": min(8.0, 50.0 / max(len(labels), 1)), "axes.labelsize": 8.0}
        ):
            return metrics.ConfusionMatrixDisplay.from_estimator(
                estimator, X, y, sample_weight=sample_weight, normalize="true", cmap="Blues", ax=ax
            )

    plots: list[tuple[str, str, Callable[[Any], Any]]] = [
        ("confusion_matrix", "Normalized confusion matrix", confusion_matrix),
    ]
    if len(set(y)) == 2:
        plots += [
            (
                "roc_curve",
                "ROC curve",
                lambda ax: metrics.RocCurveDisplay.from_estimator(
                    estimator, X, y, sample_weight=sample_weight, ax=ax
                ),
            ),
            (
                "precision_recall_curve",
                "Precision recall curve",
                lambda ax: metrics.PrecisionRecallDisplay.from_estimator(
                    estimator, X, y, sample_weight=sample_weight, ax=ax
                ),
            ),
        ]
    written = []
    for name, title, draw in plots:
        try:
            with matplotlib.rc_context(_RC):
                figure = Figure(figsize=(6.0, 4.0))  # not pyplot: no global figure state, no GUI backend
                display = draw(figure.add_subplot(1, 1, 1))
                display.ax_.set_title(title)
                path = directory / f"{prefix}{name}.png"
                figure.savefig(path, format="png")
            written.append(path)
        except Exception as exc:  # noqa: BLE001 - one plot is not worth a failed fit
            logger.warning("Failed to draw %s%s for %s: %s", prefix, name, type(estimator).__name__, exc)
    return written
