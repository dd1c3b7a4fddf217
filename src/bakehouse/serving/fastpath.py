"""The one-row hot path: all-double signatures scored straight from a numpy matrix, without pandas.

For a scikit-learn model whose signature is N named ``double`` columns, a ``dataframe_split`` body whose
columns are exactly those N names (or ``instances``/``inputs`` rows of width N) is already what schema
enforcement would produce: we build the float64 matrix directly and call the estimator. Only numbers
qualify (strings, booleans, nulls or anything else fall back to the full path, which reports errors with
column names), so the result is the same as the general path, minus ~90% of the per-request work.
Text classifiers have their own such path (``serving.text_fastpath``); ``fast_path_for`` picks the one that
applies.
"""

from __future__ import annotations

from typing import Any, Protocol

from bakehouse.models.signature import ColSpec
from bakehouse.serving.text_fastpath import TextFastPath

_ROW_KEYS = ("instances", "inputs")


class FastPath(Protocol):
    def try_predict(self, payload: Any, body: bytes | None = None) -> Any | None:
        """Predictions for a payload that needs no schema enforcement, or None for the general path."""


def fast_path_for(model: Any) -> FastPath | None:
    """The model's pandas-free path for the common request shapes, if its flavor and signature allow one."""
    return MatrixFastPath.for_model(model) or TextFastPath.for_model(model)


class MatrixFastPath:
    def __init__(self, predict: Any, columns: list[str]) -> None:
        self._predict = predict
        self.columns = columns
        self.width = len(columns)

    @classmethod
    def for_model(cls, model: Any) -> MatrixFastPath | None:
        impl = getattr(model, "_model_impl", None)
        signature = getattr(getattr(model, "metadata", None), "signature", None)
        if impl is None or signature is None or signature.inputs is None or signature.params is not None:
            return None
        if not getattr(impl, "numpy_fast_path", False) or not getattr(impl, "_plain", False):
            return None
        specs = signature.inputs.inputs
        if not specs or not all(
            isinstance(s, ColSpec) and s.type == "double" and s.name is not None for s in specs
        ):
            return None
        columns = [str(s.name) for s in specs]
        fitted = getattr(impl, "_feature_names", None)
        if fitted is not None and fitted != columns:
            return None
        return cls(impl._predict, columns)

    def try_predict(self, payload: Any, body: bytes | None = None) -> Any | None:
        """Predictions, or None when this payload needs the general path.

        ``body`` is the raw JSON: numpy would read ``true``/``false`` as 1/0, which schema enforcement
        refuses for double columns, so any boolean literal sends the request down the general path.
        """
        if body is not None and (b"true" in body or b"false" in body):
            return None
        if not isinstance(payload, dict) or len(payload) != 1:
            return None
        key, value = next(iter(payload.items()))
        if key == "dataframe_split":
            if (
                not isinstance(value, dict)
                or value.get("columns") != self.columns
                or set(value) - {"columns", "data"}
            ):
                return None
            rows = value.get("data")
        elif key in _ROW_KEYS:
            rows = value
        else:
            return None
        if not isinstance(rows, list) or not rows:
            return None
        if body is None and any(type(v) is bool for row in rows if isinstance(row, list) for v in row):
            return None
        import numpy as np  # loaded with the model already

        try:
            matrix = np.asarray(rows)
        except ValueError:
            return None
        if matrix.ndim != 2 or matrix.shape[1] != self.width or matrix.dtype.kind not in "if":
            return None
        return self._predict(matrix.astype(np.float64, copy=False))
