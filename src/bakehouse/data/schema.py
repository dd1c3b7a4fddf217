"""Dataset schemas: the signature inference of ``bakehouse.models.signature``, held to MLflow's dataset rules.

A dataset's schema column stores MLflow's JSON: ``{"mlflow_colspec": [...]}`` for a DataFrame and
``{"mlflow_tensorspec": {"features": "<json>", "targets": "<json>"}}`` for arrays. Types come from
``infer_schema``; this module only adds what MLflow does differently when it builds a *dataset* schema: it
gives up (schema ``None``) where its inference raises, keeps column labels as they are (``0``, not ``"0"``),
calls an all-missing object column ``any``, names string tensors ``str``/``bytes`` and writes a tensor's name
first. Keeping the same JSON text matters because the schema is stored and compared as a string.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from bakehouse.errors import BakehouseError, InvalidParameterError
from bakehouse.models.signature import ColSpec, Schema, Spec, TensorSpec, infer_schema

_logger = logging.getLogger(__name__)


def _has_any(col_type: str | dict[str, Any]) -> bool:
    """Whether ``any`` appears in a (nested) column type: Bakehouse's merge of values MLflow won't mix."""
    if isinstance(col_type, str):
        return col_type == "any"
    if col_type.get("type") == "any":
        return True
    children = [col_type[k] for k in ("items", "values") if isinstance(col_type.get(k), dict | str)]
    children += list((col_type.get("properties") or {}).values())
    return any(_has_any(child) for child in children)


def _pandas_column_spec(series: Any) -> ColSpec | None:
    """One column as MLflow's ``_infer_pandas_column`` sees it, or None where MLflow fails."""
    if series.dtype.kind == "O":
        # MLflow first lets pandas narrow object columns ([1, None] becomes double)
        series = series.infer_objects()
    dtype = series.dtype
    if dtype.kind in "mcV" or (dtype.kind == "u" and dtype.itemsize >= 8):
        return None  # timedelta, complex, void and uint64 have no MLflow column type
    spec = infer_schema(series).inputs[0]
    if not isinstance(spec, ColSpec):
        return None
    if dtype.kind == "u" and dtype.itemsize < 4:
        return ColSpec("integer", spec.name, spec.required)  # MLflow: uint8/uint16 fit an int32
    if dtype.kind == "O":
        missing = series.isna()
        if len(series) and bool(missing.all()):
            return ColSpec("any", spec.name, False)  # MLflow: a list of only None/NaN is AnyType
        if _has_any(spec.type):
            return None  # values of several types: MLflow raises, the dataset gets no schema
    return spec


def pandas_schema(df: Any) -> Schema | None:
    """The column schema MLflow's ``PandasDataset.schema`` gives ``df``; None where its inference fails."""
    if len(df.columns) == 0 or df.columns.has_duplicates:
        # MLflow: an empty schema is not allowed; a duplicated label selects a frame, not a column
        return None
    specs: list[Spec] = []
    for label in df.columns:
        try:
            spec = _pandas_column_spec(df[label])
        except (BakehouseError, TypeError, ValueError) as exc:
            _logger.debug("No schema for column %r: %s", label, exc)
            return None
        if spec is None:
            return None
        specs.append(spec)
    return Schema(specs)


def pandas_schema_json(schema: Schema, columns: Any) -> str:
    """``{"mlflow_colspec": [...]}`` with each column's own label (MLflow writes ``0``, not ``"0"``)."""
    items = []
    for spec, label in zip(schema.inputs, columns):
        item = spec.to_dict()
        try:
            json.dumps(label)
            item["name"] = label
        except (TypeError, ValueError):
            pass  # MLflow could not serialize such a label at all; the string form is the useful one
        items.append(item)
    return json.dumps({"mlflow_colspec": items})


def _tensor_dtype(array: Any, spec: TensorSpec) -> str:
    """MLflow's ``clean_tensor_type``: fixed-width strings and bytes lose their width."""
    kind = array.dtype.kind
    return "str" if kind == "U" else "bytes" if kind == "S" else spec.dtype


def tensor_schema(data: Any) -> Schema | None:
    """The tensor schema of an array or a dict of arrays, as MLflow infers it; None for 0-d arrays."""
    arrays = list(data.values()) if isinstance(data, dict) else [data]
    if any(a.ndim == 0 for a in arrays):
        return None  # MLflow: no first dimension to make variable
    schema = infer_schema(data)
    specs: list[Spec] = []
    for array, spec in zip(arrays, schema.inputs):
        if not isinstance(spec, TensorSpec):
            return None
        specs.append(TensorSpec(_tensor_dtype(array, spec), spec.shape, spec.name))
    return Schema(specs)


def tensor_schema_json(schema: Schema) -> str:
    """A tensor schema's JSON list in MLflow's key order (``name`` first when the tensor has one)."""
    items = []
    for spec in schema.inputs:
        if not isinstance(spec, TensorSpec):
            raise InvalidParameterError("A tensor dataset schema holds tensor specs only")
        item: dict[str, Any] = {} if spec.name is None else {"name": spec.name}
        item["type"] = "tensor"
        item["tensor-spec"] = {"dtype": spec.dtype, "shape": list(spec.shape)}
        items.append(item)
    return json.dumps(items)


@dataclass(slots=True)
class TensorDatasetSchema:
    """Features and optional targets of an array dataset (MLflow's ``TensorDatasetSchema``)."""

    features: Schema
    targets: Schema | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "mlflow_tensorspec": {
                "features": tensor_schema_json(self.features),
                "targets": tensor_schema_json(self.targets) if self.targets is not None else None,
            }
        }
