"""The one-row hot path for text classifiers: a list of texts scored without building DataFrames.

For a model whose signature takes one ``string`` column and no params, and whose flavor can classify a
list of texts into uniform records (``classify_texts``: a transformers text-classification pipeline), an
``inputs``/``instances`` list of strings, a ``dataframe_split`` of that one column or ``dataframe_records``
naming it is already what schema enforcement would produce. The general path would wrap the texts in a
DataFrame, enforce its one column, unwrap it, wrap the pipeline's records in another DataFrame and turn that
back into records: about 40% of a one-text request. Anything else (non-strings, params, other shapes,
records with differing keys) returns None and goes down the general path, which reports errors as before.
"""

from __future__ import annotations

from typing import Any

from bakehouse.models.signature import ColSpec

_ROW_KEYS = ("inputs", "instances")


class TextFastPath:
    def __init__(self, classify: Any, column: str | None) -> None:
        self._classify = classify
        self.column = column

    @classmethod
    def for_model(cls, model: Any) -> TextFastPath | None:
        impl = getattr(model, "_model_impl", None)
        classify = getattr(impl, "classify_texts", None)
        signature = getattr(getattr(model, "metadata", None), "signature", None)
        if classify is None or signature is None or signature.inputs is None or signature.params is not None:
            return None
        specs = signature.inputs.inputs
        if len(specs) != 1 or not isinstance(specs[0], ColSpec) or specs[0].type != "string":
            return None
        return cls(classify, specs[0].name)

    def try_predict(self, payload: Any, body: bytes | None = None) -> Any | None:
        """Records for the texts, or None when this payload needs the general path."""
        texts = self._texts(payload)
        if texts is None:
            return None
        return self._classify(texts)

    def _texts(self, payload: Any) -> list[str] | None:
        if not isinstance(payload, dict) or len(payload) != 1:
            return None
        key, value = next(iter(payload.items()))
        if key in _ROW_KEYS:
            texts = value
        elif key == "dataframe_split":
            if not isinstance(value, dict) or set(value) != {"columns", "data"}:
                return None
            if (
                self.column is None
                or value["columns"] != [self.column]
                or not isinstance(value["data"], list)
            ):
                return None
            rows = value["data"]
            if not all(isinstance(row, list) and len(row) == 1 for row in rows):
                return None
            texts = [row[0] for row in rows]
        elif key == "dataframe_records":
            if self.column is None or not isinstance(value, list):
                return None
            if not all(isinstance(row, dict) and list(row) == [self.column] for row in value):
                return None
            texts = [row[self.column] for row in value]
        else:
            return None
        if not isinstance(texts, list) or not texts or not all(type(t) is str for t in texts):
            return None
        return texts
