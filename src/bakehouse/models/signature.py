"""Model signatures: column and tensor specs, params schemas, and ``infer_signature``.

The JSON shapes are MLflow's (``signature.inputs`` / ``outputs`` are JSON *strings* holding a list of specs,
``params`` a list), so an MLmodel written by either tool reads back the same in the other. Nested column
types (``array``, ``object``, ``map``) are kept as their JSON dicts: they round-trip exactly and are checked
loosely at predict time. numpy and pandas are imported only when a value is inspected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bakehouse.errors import InvalidParameterError

#: MLflow's scalar column types and the numpy dtype each maps to.
NUMPY_DTYPE: dict[str, str] = {
    "boolean": "bool",
    "integer": "int32",
    "long": "int64",
    "float": "float32",
    "double": "float64",
    "string": "object",
    "binary": "object",
    "datetime": "datetime64[ns]",
    "any": "object",
}
SCALAR_TYPES = frozenset(NUMPY_DTYPE)
COMPLEX_TYPES = frozenset({"array", "object", "map"})


@dataclass(slots=True)
class ColSpec:
    """One (possibly unnamed, possibly optional) column. ``type`` is a scalar name or a nested-type dict."""

    type: str | dict[str, Any]
    name: str | None = None
    required: bool = True

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.type) if isinstance(self.type, dict) else {"type": self.type}
        if self.name is not None:
            out["name"] = self.name
        out["required"] = self.required
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ColSpec":
        kind = data.get("type")
        if kind in SCALAR_TYPES:
            col_type: str | dict[str, Any] = kind
        elif kind in COMPLEX_TYPES:
            col_type = {k: v for k, v in data.items() if k not in ("name", "required")}
        else:
            raise InvalidParameterError(f"Unsupported column type {kind!r} in signature")
        return cls(col_type, data.get("name"), bool(data.get("required", True)))

    @property
    def type_name(self) -> str:
        return self.type["type"] if isinstance(self.type, dict) else self.type


@dataclass(slots=True)
class TensorSpec:
    """A tensor input or output: numpy dtype name and shape (``-1`` = any size)."""

    dtype: str
    shape: tuple[int, ...]
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "tensor", "tensor-spec": {"dtype": self.dtype, "shape": list(self.shape)}}
        if self.name is not None:
            out["name"] = self.name
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TensorSpec":
        spec = data.get("tensor-spec") or {}
        return cls(str(spec.get("dtype")), tuple(int(d) for d in spec.get("shape") or ()), data.get("name"))


Spec = ColSpec | TensorSpec


@dataclass(slots=True)
class Schema:
    """A list of specs: either all columns or all tensors (MLflow's rule)."""

    inputs: list[Spec]

    def __post_init__(self) -> None:
        kinds = {isinstance(s, TensorSpec) for s in self.inputs}
        if len(kinds) > 1:
            raise InvalidParameterError("A schema must be all column specs or all tensor specs, not both")
        names = [s.name for s in self.inputs]
        if any(n is None for n in names) and any(n is not None for n in names):
            raise InvalidParameterError("Either every input in a schema is named or none is")

    def is_tensor_spec(self) -> bool:
        return bool(self.inputs) and isinstance(self.inputs[0], TensorSpec)

    def has_input_names(self) -> bool:
        return bool(self.inputs) and self.inputs[0].name is not None

    def input_names(self) -> list[str]:
        return [s.name for s in self.inputs if s.name is not None]

    def required_input_names(self) -> list[str]:
        return [s.name for s in self.inputs if s.name is not None and getattr(s, "required", True)]

    def to_json(self) -> str:
        return json.dumps([s.to_dict() for s in self.inputs])

    def to_dict(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.inputs]

    @classmethod
    def from_json(cls, text: str | list[dict[str, Any]]) -> "Schema":
        items = json.loads(text) if isinstance(text, str) else text
        return cls([TensorSpec.from_dict(i) if i.get("type") == "tensor" else ColSpec.from_dict(i) for i in items])


@dataclass(slots=True)
class ParamSpec:
    """An inference parameter with a default; ``shape=(-1,)`` means a list of values."""

    name: str
    dtype: str
    default: Any
    shape: tuple[int, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.dtype,
            "default": self.default,
            "shape": list(self.shape) if self.shape is not None else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ParamSpec":
        shape = data.get("shape")
        return cls(data["name"], data["type"], data.get("default"), tuple(shape) if shape is not None else None)


@dataclass(slots=True)
class ParamSchema:
    params: list[ParamSpec] = field(default_factory=list)

    def to_dict(self) -> list[dict[str, Any]]:
        return [p.to_dict() for p in self.params]

    @classmethod
    def from_json(cls, text: str | list[dict[str, Any]]) -> "ParamSchema":
        items = json.loads(text) if isinstance(text, str) else text
        return cls([ParamSpec.from_dict(i) for i in items])


@dataclass(slots=True)
class ModelSignature:
    inputs: Schema | None = None
    outputs: Schema | None = None
    params: ParamSchema | None = None

    def to_dict(self) -> dict[str, Any]:
        """MLflow's MLmodel form: inputs/outputs as JSON strings, params as a JSON string or None."""
        return {
            "inputs": self.inputs.to_json() if self.inputs is not None else None,
            "outputs": self.outputs.to_json() if self.outputs is not None else None,
            "params": json.dumps(self.params.to_dict()) if self.params is not None else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelSignature":
        def _schema(value: Any) -> Schema | None:
            return Schema.from_json(value) if value else None

        params = data.get("params")
        return cls(_schema(data.get("inputs")), _schema(data.get("outputs")), ParamSchema.from_json(params) if params else None)


# ----------------------------------------------------------------------------------------- inference


def _scalar_type(value: Any) -> str | dict[str, Any]:
    """The column type of one Python value (used for lists, dicts and object columns)."""
    import datetime as _dt

    import numpy as np  # only when inferring from data

    if isinstance(value, (bool, np.bool_)):
        return "boolean"
    if isinstance(value, (int, np.integer)):
        return "long" if not isinstance(value, np.int32) else "integer"
    if isinstance(value, np.float32):
        return "float"
    if isinstance(value, (float, np.floating)):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (bytes, bytearray)):
        return "binary"
    if isinstance(value, (_dt.datetime, _dt.date, np.datetime64)):
        return "datetime"
    if isinstance(value, (list, tuple, np.ndarray)):
        items = [v for v in value if v is not None]
        inner = _merge_types([_scalar_type(v) for v in items]) if items else "string"
        return {"type": "array", "items": inner if isinstance(inner, dict) else {"type": inner}}
    if isinstance(value, dict):
        return {
            "type": "object",
            "properties": {
                str(k): _property(v) for k, v in value.items()
            },
        }
    raise InvalidParameterError(f"Cannot infer a column type from a value of type {type(value).__name__}")


def _property(value: Any) -> dict[str, Any]:
    t = _scalar_type(value) if value is not None else "string"
    out = dict(t) if isinstance(t, dict) else {"type": t}
    out["required"] = value is not None
    return out


def _merge_types(types: list[str | dict[str, Any]]) -> str | dict[str, Any]:
    unique = []
    for t in types:
        if t not in unique:
            unique.append(t)
    if len(unique) == 1:
        return unique[0]
    if set(map(str, unique)) <= {"long", "double", "integer", "float"}:
        return "double"
    return "any"


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN
    except (TypeError, ValueError):
        return False


def _pandas_column_type(series: Any) -> str | dict[str, Any]:
    import numpy as np  # only when inferring from data

    dtype = series.dtype
    kind = getattr(dtype, "kind", "O")
    if kind == "b":
        return "boolean"
    if kind in "iu":
        return "integer" if dtype.itemsize <= 4 and kind == "i" else "long"
    if kind == "f":
        return "float" if dtype.itemsize <= 4 else "double"
    if kind == "M":
        return "datetime"
    if kind in ("U", "S"):
        return "string" if kind == "U" else "binary"
    if str(dtype) in ("string", "str") or dtype.__class__.__name__ == "StringDtype":
        return "string"
    values = [v for v in series.tolist() if not _is_missing(v)]
    if not values:
        return "string"
    merged = _merge_types([_scalar_type(v) for v in values])
    if merged == "any" and all(isinstance(v, (str, np.str_)) for v in values):
        return "string"
    return merged


def _tensor_spec(array: Any, name: str | None = None) -> TensorSpec:
    dtype = array.dtype
    dtype_name = "object" if dtype.kind in ("O", "U", "S") else str(dtype)
    shape = (-1,) + tuple(int(d) for d in array.shape[1:])
    return TensorSpec(dtype_name, shape, name)


def infer_schema(data: Any) -> Schema:
    """Infer a Schema from a DataFrame, Series, ndarray, dict of ndarrays, dict, list, or a scalar."""
    import numpy as np  # only when inferring from data
    import pandas as pd  # only when inferring from data

    if isinstance(data, pd.DataFrame):
        return Schema(
            [
                ColSpec(_pandas_column_type(data[c]), str(c), not bool(data[c].isna().any()))
                for c in data.columns
            ]
        )
    if isinstance(data, pd.Series):
        name = None if data.name is None else str(data.name)
        return Schema([ColSpec(_pandas_column_type(data), name, not bool(data.isna().any()))])
    if isinstance(data, np.ndarray):
        return Schema([_tensor_spec(data)])
    if isinstance(data, dict):
        if data and all(isinstance(v, np.ndarray) for v in data.values()):
            return Schema([_tensor_spec(v, str(k)) for k, v in data.items()])
        return Schema(
            [
                ColSpec(_scalar_type(v) if not _is_missing(v) else "string", str(k), not _is_missing(v))
                for k, v in data.items()
            ]
        )
    if isinstance(data, list):
        if not data:
            return Schema([ColSpec("string")])
        if all(isinstance(v, dict) for v in data):
            columns: dict[str, list[Any]] = {}
            for row in data:
                for key, value in row.items():
                    columns.setdefault(str(key), []).append(value)
            specs = []
            for name, values in columns.items():
                present = [v for v in values if not _is_missing(v)]
                required = len(present) == len(data)
                specs.append(ColSpec(_merge_types([_scalar_type(v) for v in present]) if present else "string", name, required))
            return Schema(specs)
        return Schema([ColSpec(_merge_types([_scalar_type(v) for v in data if not _is_missing(v)] or ["string"]))])
    if isinstance(data, (str, bytes, bool, int, float)):
        return Schema([ColSpec(_scalar_type(data))])
    raise InvalidParameterError(
        "Cannot infer a schema from a value of type "
        f"{type(data).__name__}: expected a pandas DataFrame or Series, a numpy array, a dict, a list or a scalar"
    )


def _param_type(value: Any) -> tuple[str, tuple[int, ...] | None]:
    if isinstance(value, (list, tuple)):
        if not value:
            raise InvalidParameterError("Cannot infer the type of an empty list parameter")
        inner = _merge_types([_scalar_type(v) for v in value])
        if not isinstance(inner, str) or inner == "any":
            raise InvalidParameterError("List parameters must hold values of one scalar type")
        return inner, (-1,)
    kind = _scalar_type(value)
    if isinstance(kind, dict):
        if kind["type"] == "object":
            return "object", None
        raise InvalidParameterError(f"Unsupported parameter value {value!r}")
    return kind, None


def infer_param_schema(params: dict[str, Any]) -> ParamSchema:
    specs = []
    for name, value in params.items():
        dtype, shape = _param_type(value)
        specs.append(ParamSpec(name, dtype, list(value) if isinstance(value, tuple) else value, shape))
    return ParamSchema(specs)


def infer_signature(
    model_input: Any = None, model_output: Any = None, params: dict[str, Any] | None = None
) -> ModelSignature:
    """Infer a signature from example inputs, outputs and inference params (MLflow's rules)."""
    return ModelSignature(
        infer_schema(model_input) if model_input is not None else None,
        infer_schema(model_output) if model_output is not None else None,
        infer_param_schema(params) if params else None,
    )
