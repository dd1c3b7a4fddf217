"""Model signatures: column and tensor specs and params schemas (inference is in ``schema_inference``).

The JSON shapes are MLflow's (``signature.inputs`` / ``outputs`` are JSON *strings* holding a list of specs,
``params`` a list), so an MLmodel written by either tool reads back the same in the other, down to key order.
Nested column types (``array``, ``object``, ``map``) are kept as their JSON dicts: they round-trip exactly and
are checked loosely at predict time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bakehouse.errors import InvalidParameterError

#: MLflow's scalar column types and the numpy dtype each maps to (``any`` = no check at all).
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
COMPLEX_TYPES = frozenset({"array", "object", "map", "sparkml_vector"})

ColType = str | dict[str, Any]


def _split_label(name: Any, label: Any) -> tuple[str | None, Any]:
    """A spec's name is the string Bakehouse matches columns on; a non-string label (``0``, ``1.5``) is kept
    separately because MLflow writes it as is."""
    if name is None or isinstance(name, str):
        return name, label
    return str(name), name


@dataclass(slots=True)
class ColSpec:
    """One (possibly unnamed, possibly optional) column. ``type`` is a scalar name or a nested-type dict."""

    type: ColType
    name: str | None = None
    required: bool = True
    #: the column's own label when it is not a string (written to JSON instead of ``name``)
    label: Any = None

    def __post_init__(self) -> None:
        self.name, self.label = _split_label(self.name, self.label)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.type) if isinstance(self.type, dict) else {"type": self.type}
        if self.name is not None:
            out["name"] = self.label if self.label is not None else self.name
        out["required"] = self.required
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColSpec:
        kind = data.get("type")
        if kind in SCALAR_TYPES:
            col_type: ColType = kind
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
    """A tensor input or output: numpy dtype name (``str``/``bytes`` for text), shape (``-1`` = any size)."""

    dtype: str
    shape: tuple[int, ...]
    name: str | None = None
    label: Any = None

    def __post_init__(self) -> None:
        self.name, self.label = _split_label(self.name, self.label)

    def to_dict(self) -> dict[str, Any]:
        body = {"type": "tensor", "tensor-spec": {"dtype": self.dtype, "shape": list(self.shape)}}
        if self.name is None:
            return body
        return {"name": self.label if self.label is not None else self.name, **body}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TensorSpec:
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
        # default=str: a label JSON cannot hold (a Timestamp) is written as its string form, not a crash
        return json.dumps(self.to_dict(), default=str)

    def to_dict(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.inputs]

    @classmethod
    def from_json(cls, text: str | list[dict[str, Any]]) -> Schema:
        items = json.loads(text) if isinstance(text, str) else text
        return cls(
            [TensorSpec.from_dict(i) if i.get("type") == "tensor" else ColSpec.from_dict(i) for i in items]
        )


@dataclass(slots=True)
class ParamSpec:
    """An inference parameter with a default; ``shape=(-1,)`` means a list of values. An ``object`` param
    carries its ``properties`` (MLflow's Object JSON)."""

    name: str
    dtype: str
    default: Any
    shape: tuple[int, ...] | None = None
    properties: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """MLflow's key order: name, default, shape, then the type (and an object's properties)."""
        default = self.default
        if self.dtype == "datetime":
            default = [_isoformat(v) for v in default] if self.shape is not None else _isoformat(default)
        out: dict[str, Any] = {
            "name": self.name,
            "default": default,
            "shape": list(self.shape) if self.shape is not None else None,
            "type": self.dtype,
        }
        if self.properties is not None:
            out["properties"] = self.properties
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ParamSpec:
        shape = data.get("shape")
        dtype = data.get("type") or data.get("dtype")  # MLflow still reads the old "dtype" key
        return cls(
            str(data["name"]),
            str(dtype),
            data.get("default"),
            tuple(shape) if shape is not None else None,
            data.get("properties") if dtype == "object" else None,
        )


def _isoformat(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


@dataclass(slots=True)
class ParamSchema:
    params: list[ParamSpec] = field(default_factory=list)

    def to_dict(self) -> list[dict[str, Any]]:
        return [p.to_dict() for p in self.params]

    @classmethod
    def from_json(cls, text: str | list[dict[str, Any]]) -> ParamSchema:
        items = json.loads(text) if isinstance(text, str) else text
        return cls([ParamSpec.from_dict(i) for i in items])


@dataclass(slots=True)
class ModelSignature:
    inputs: Schema | None = None
    outputs: Schema | None = None
    params: ParamSchema | None = None

    def to_dict(self) -> dict[str, Any]:
        """MLflow's MLmodel form: inputs/outputs/params as JSON strings, None when absent or empty."""
        params = self.params.params if self.params is not None else []
        return {
            "inputs": self.inputs.to_json() if self.inputs is not None and self.inputs.inputs else None,
            "outputs": self.outputs.to_json() if self.outputs is not None and self.outputs.inputs else None,
            "params": json.dumps([p.to_dict() for p in params]) if params else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSignature:
        def _schema(value: Any) -> Schema | None:
            return Schema.from_json(value) if value else None

        params = data.get("params")
        return cls(
            _schema(data.get("inputs")),
            _schema(data.get("outputs")),
            ParamSchema.from_json(params) if params else None,
        )
