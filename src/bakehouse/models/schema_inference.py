"""Signature inference from example data: ``infer_schema``, ``infer_param_schema``, ``infer_signature``.

Follows ``mlflow.types.utils._infer_schema`` and ``mlflow.models.infer_signature`` rule for rule (MLflow 3.17),
including where they refuse: the same example gives the same signature text in both tools. numpy and pandas
are imported only when a value is inspected.
"""

from __future__ import annotations

import copy
import datetime as _dt
import functools
import json
import logging
import math
import sys
from collections.abc import Callable, Iterable
from typing import Any

from bakehouse.errors import BakehouseError, InvalidParameterError
from bakehouse.models.signature import (
    SCALAR_TYPES,
    ColSpec,
    ColType,
    ModelSignature,
    ParamSchema,
    ParamSpec,
    Schema,
    Spec,
    TensorSpec,
)

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------ the type algebra
# Types are the JSON forms MLflow writes: a scalar is its name ("long", "any"); an array, object or map is
# its dict, whose children are JSON dicts ({"type": "long"}) and whose object properties are sorted by name.

_MULTIPLE_TYPES = (
    "Expected all values in the list to be of the same type. To specify a model signature with a list "
    "containing elements of multiple types, define the signature manually using the Array(AnyType()) type "
    "from mlflow.models.schema."
)


class UnsupportedExampleError(InvalidParameterError):
    """An example MLflow refuses outright (pydantic objects) instead of falling back to ``any``."""


def _json_type(t: ColType) -> dict[str, Any]:
    return {"type": t} if isinstance(t, str) else t


def _plain_type(d: dict[str, Any]) -> ColType:
    """A nested JSON type (possibly with ``required``) back to a ColType."""
    if d.get("type") in SCALAR_TYPES:
        return str(d["type"])
    return {k: v for k, v in d.items() if k != "required"}


def _array(items: ColType) -> dict[str, Any]:
    return {"type": "array", "items": _json_type(items)}


def _object(properties: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"type": "object", "properties": {k: properties[k] for k in sorted(properties)}}


def _property(t: ColType, required: bool) -> dict[str, Any]:
    return {**_json_type(t), "required": required}


def _merge_child(a: ColType, b: ColType) -> ColType:
    """Merge two element/property types: a concrete scalar only absorbs ``any``."""
    if isinstance(a, str) and a != "any":
        if a == b or b == "any":
            return a
        raise InvalidParameterError(f"Types are incompatible: {a} and {b}")
    return _merge(a, b)


def _merge(a: ColType, b: ColType) -> ColType:
    """MLflow's ``_merge`` of an ``any``, array, object or map type with another type."""
    if a == "any":
        if isinstance(b, str):
            return b
        return _merge(b, "any")
    if not isinstance(a, dict):
        raise InvalidParameterError(f"Cannot merge {a} with {b}")
    kind = a["type"]
    if kind == "object":
        props_a: dict[str, dict[str, Any]] = a["properties"]
        if b == "any":  # merging with an undetermined value makes every property optional
            return _object({k: {**p, "required": False} for k, p in props_a.items()})
        if not isinstance(b, dict) or b["type"] != "object":
            raise InvalidParameterError(f"Can't merge object with {b}")
        if a == b:
            return a
        props_b: dict[str, dict[str, Any]] = b["properties"]
        merged = {k: {**props_a[k], "required": False} for k in props_a.keys() - props_b.keys()}
        for k in props_a.keys() & props_b.keys():
            child = _merge_child(_plain_type(props_a[k]), _plain_type(props_b[k]))
            required = props_a[k].get("required", True) and props_b[k].get("required", True)
            merged[k] = _property(child, bool(required))
        merged.update({k: {**props_b[k], "required": False} for k in props_b.keys() - props_a.keys()})
        return _object(merged)
    if kind in ("array", "map"):
        key = "items" if kind == "array" else "values"
        if b == "any" or a == b:
            return a
        if not isinstance(b, dict) or b["type"] != kind:
            raise InvalidParameterError(f"Can't merge {kind} with {b}")
        return {"type": kind, key: _json_type(_merge_child(_plain_type(a[key]), _plain_type(b[key])))}
    raise InvalidParameterError(f"Can't merge {kind} with {b}")


# --------------------------------------------------------------------------------- values to types


@functools.cache
def _exact_scalar_types() -> dict[type, str]:
    """MLflow matches a value's exact type: ``np.int16(1)`` or a ``pd.Timestamp`` has no column type."""
    import numpy as np  # only when inferring from data

    return {
        bool: "boolean",
        np.bool_: "boolean",
        int: "long",
        np.int64: "long",
        np.int32: "integer",
        float: "double",
        np.float64: "double",
        np.float32: "float",
        str: "string",
        np.str_: "string",
        object: "string",
        bytes: "binary",
        np.bytes_: "binary",
        bytearray: "binary",
        _dt.date: "datetime",
        _dt.datetime: "datetime",
        np.datetime64: "datetime",
    }


@functools.cache
def _missing_sentinels() -> tuple[Any, ...]:
    try:
        import pandas as pd  # only when inferring from data
    except ImportError:  # pragma: no cover - pandas is a dependency
        return ()
    return (pd.NA, pd.NaT)


def _is_missing(value: Any) -> bool:
    """None, NaN, pd.NA or NaT (MLflow's ``_is_none_or_nan``: a float32 NaN is a value)."""
    if isinstance(value, float):
        return math.isnan(value)
    return value is None or any(value is s for s in _missing_sentinels())


def _is_ndarray(value: Any) -> bool:
    np = sys.modules.get("numpy")
    return np is not None and isinstance(value, np.ndarray)


def _check_not_pydantic(value: Any) -> None:
    pydantic = sys.modules.get("pydantic")
    if pydantic is not None and isinstance(value, pydantic.BaseModel):
        raise UnsupportedExampleError(
            "Cannot infer a signature from pydantic objects: declare the model's predict input with a "
            "pydantic type hint instead."
        )


def _scalar_type(value: Any) -> str:
    kind = _exact_scalar_types().get(type(value))
    if kind is None:
        raise InvalidParameterError(f"Data {value} is not one of the supported DataType")
    return kind


def _value_type(value: Any) -> ColType | None:
    """The type of one value (MLflow's ``_infer_datatype``); None for an empty numpy array."""
    _check_not_pydantic(value)
    if _is_missing(value) or (isinstance(value, (list, dict)) and not value):
        return "any"
    if isinstance(value, dict):
        properties = {}
        for key, item in value.items():
            item_type = _value_type(item)
            if item_type is None:
                raise InvalidParameterError("Dictionary value must not be an empty numpy array.")
            if not isinstance(key, str):
                raise InvalidParameterError(f"Expected name to be a string, got type {type(key).__name__}")
            properties[key] = _property(item_type, item_type != "any")
        return _object(properties)
    if isinstance(value, list) or _is_ndarray(value):
        items = _items_type(value)
        return None if items is None else _array(items)
    return _scalar_type(value)


def _items_type(values: Iterable[Any]) -> ColType | None:
    """The one type of a list's items (MLflow's ``_infer_array_datatype``): ``None``/NaN items and empty
    lists fit anything, objects merge (keys seen only sometimes become optional), scalars must agree."""
    result: ColType | None = None
    for item in values:
        item_type = _value_type(item)
        if item_type is None:
            continue
        if result is None:
            result = item_type
        elif isinstance(result, dict) or result == "any":
            try:
                result = _merge(result, item_type)
            except InvalidParameterError:
                raise InvalidParameterError(_MULTIPLE_TYPES) from None
        elif item_type != "any" and item_type != result:
            raise InvalidParameterError(_MULTIPLE_TYPES)
    return result


def _defined(t: ColType | None, data: Any) -> ColType:
    if t is None:
        raise InvalidParameterError(f"Numpy array must include at least one non-empty item, got `{data}`.")
    return t


def _numpy_type(dtype: Any) -> str:
    """A numpy or pandas extension dtype's column type (MLflow's ``_infer_numpy_dtype``): no uint64, no
    float128, no timedelta or complex."""
    kind, size = getattr(dtype, "kind", None), getattr(dtype, "itemsize", None)
    if kind is None or size is None:  # e.g. pandas' SparseDtype
        raise InvalidParameterError(f"Unsupported data type '{dtype}'")
    if kind == "b":
        return "boolean"
    if kind in ("i", "u"):
        if size < 4 or (kind == "i" and size == 4):
            return "integer"
        if size < 8 or (kind == "i" and size == 8):
            return "long"
    elif kind == "f":
        if size <= 4:
            return "float"
        if size <= 8:
            return "double"
    elif kind == "U":
        return "string"
    elif kind == "S":
        return "binary"
    elif kind == "M":
        return "datetime"
    raise InvalidParameterError(f"Unsupported numpy data type '{dtype}', kind '{kind}'")


def _pandas_column_type(series: Any) -> ColType:
    """A Series' column type: typed columns by dtype; object columns after pandas' ``infer_objects`` (so
    ``[1, None]`` is double) by their values, falling back to ``string`` for string columns."""
    import pandas as pd  # only when inferring from data

    if series.dtype.kind == "O":
        series = series.infer_objects()
    if series.dtype.kind != "O":
        return _numpy_type(series.dtype)
    if isinstance(series.dtype, pd.StringDtype):
        # only str or missing values (pandas 3's default for text): what the value loop finds, without it
        return "any" if len(series) and bool(series.isna().all()) else "string"
    values = series.to_list()
    try:
        items = _items_type(values) if values else None
    except (BakehouseError, TypeError, ValueError):
        items = None  # mixed values: only a column pandas calls a string column still gets a type
    if items is not None:
        return items
    if pd.api.types.is_string_dtype(series):
        return "string"
    raise InvalidParameterError(f"Failed to infer schema for pandas.Series {series.name!r}: mixed types")


def _series_required(series: Any) -> bool:
    import numpy as np  # only when inferring from data
    import pandas as pd  # only when inferring from data

    dtype = series.dtype
    if (isinstance(dtype, np.dtype) and dtype.kind in "biufM") or isinstance(dtype, pd.StringDtype):
        return not bool(series.isna().any())  # the same answer as looking at each value, without the loop
    return not any(_is_missing(v) for v in series)


def _required(value: Any) -> bool:
    """MLflow's ``_infer_required``: a list or Series is required when none of its items is missing."""
    import pandas as pd  # only when inferring from data

    if isinstance(value, pd.Series):
        return _series_required(value)
    if isinstance(value, list):
        return not any(_is_missing(v) for v in value)
    return not _is_missing(value)


def _tensor_dtype(dtype: Any) -> str:
    """MLflow's ``clean_tensor_type``: fixed-width strings and bytes lose their width."""
    return "str" if dtype.char == "U" else "bytes" if dtype.char == "S" else str(dtype.name)


def _tensor_spec(array: Any, name: Any = None, dtype: Any = None) -> TensorSpec:
    if len(array.shape) == 0:
        raise InvalidParameterError(
            "The specified variable_dimension 0 is out of bounds with respect to the number of dimensions 0 "
            "in the input dataset"
        )
    shape = (-1,) + tuple(int(d) for d in array.shape[1:])
    return TensorSpec(_tensor_dtype(array.dtype if dtype is None else dtype), shape, name)


def _is_sparse_matrix(data: Any) -> bool:
    sparse = sys.modules.get("scipy.sparse")  # only if the caller already uses scipy
    return sparse is not None and isinstance(data, (sparse.csr_matrix, sparse.csc_matrix))


def _records_schema(rows: list[dict[Any, Any]]) -> list[Spec]:
    columns: dict[Any, list[Any]] = {}
    for row in rows:
        for key, value in row.items():
            columns.setdefault(key, []).append(value)
    return [
        # a key missing from a row, or None there, makes the column optional (a NaN does not)
        ColSpec(_defined(_items_type(values), values), key, all(row.get(key) is not None for row in rows))
        for key, values in columns.items()
    ]


def _specs(data: Any) -> list[Spec]:
    import numpy as np  # only when inferring from data
    import pandas as pd  # only when inferring from data

    if isinstance(data, list) and not data:
        return [ColSpec("string")]  # MLflow < 2.9 compatibility: an empty list is a string column
    if isinstance(data, list) and all(isinstance(v, dict) for v in data):
        return _records_schema(data)
    if isinstance(data, dict):
        if all(isinstance(v, np.ndarray) for v in data.values()):
            return [_tensor_spec(v, k) for k, v in data.items()]
        if any(not isinstance(k, str) for k in data):
            raise InvalidParameterError("The dictionary keys are not all strings.")
        return [ColSpec(_defined(_value_type(v), v), k, _required(v)) for k, v in data.items()]
    if isinstance(data, pd.Series):
        return [ColSpec(_pandas_column_type(data), data.name, _series_required(data))]
    if isinstance(data, pd.DataFrame):
        specs: list[Spec] = []
        for label in data.columns:
            column = data[label]
            if not isinstance(column, pd.Series):
                raise InvalidParameterError(f"Column label {label!r} is not unique")
            specs.append(ColSpec(_pandas_column_type(column), label, _series_required(column)))
        return specs
    if isinstance(data, np.ndarray):
        return [_tensor_spec(data)]
    if _is_sparse_matrix(data):
        return [_tensor_spec(data, dtype=data.data.dtype)]
    if isinstance(data, list):
        return [ColSpec(_defined(_items_type(data), data))]
    try:
        return [ColSpec(_defined(_value_type(data), data))]
    except UnsupportedExampleError:
        raise
    except InvalidParameterError as exc:
        raise InvalidParameterError(
            "Cannot infer a schema from a value of type "
            f"{type(data).__name__}: expected a pandas DataFrame or Series, a numpy array or scipy sparse "
            f"matrix, a dict of arrays, a scalar, a list of scalars, a dict or a list of dicts ({exc})"
        ) from None


def infer_schema(data: Any) -> Schema:
    """The schema MLflow's ``_infer_schema`` gives ``data``; raises InvalidParameterError where it raises."""
    specs = _specs(data)
    if not specs:
        raise InvalidParameterError("Creating Schema with empty inputs is not allowed.")
    if all(s.name is None for s in specs) and not all(getattr(s, "required", True) for s in specs):
        raise InvalidParameterError(
            "Creating Schema with unnamed optional inputs is not supported. "
            "Please name all inputs or make all inputs required."
        )
    return Schema(specs)


# --------------------------------------------------------------------------------------------- params


@functools.cache
def _param_type_checks() -> dict[str, tuple[list[Any], Callable[..., Any]]]:
    """Per type: the value types MLflow's ``DataType.check_type`` accepts (numpy dtypes compare equal to
    their scalar types), and the Python type a default is converted to."""
    import numpy as np  # only when inferring from data

    def types(numpy: str, pandas: Any, python: type, *extra: Any) -> list[Any]:
        return [np.dtype(numpy), pandas if pandas is not None else np.dtype(numpy), python, *extra]

    return {
        "boolean": (types("bool", None, bool), bool),
        "integer": (types("int32", None, int), int),
        "long": (types("int64", None, int), int),
        "float": (types("float32", None, float), float),
        "double": (types("float64", None, float), float),
        "string": (types("str", object, str), str),
        "binary": (types("bytes", object, bytes, bytearray), bytes),
        "datetime": (types("datetime64[ns]", None, _dt.date, np.datetime64, _dt.datetime), _dt.date),
    }


_PARAM_CONVERSIONS = {
    "long": ("integer",),
    "float": ("integer", "long"),
    "double": ("integer", "long", "float"),
}


def _is_type(kind: str, value: Any) -> bool:
    return type(value) in _param_type_checks()[kind][0]


def _param_value(value: Any, kind: str) -> Any:
    """A default as MLflow stores it: a Python value of the param's type (``_enforce_param_datatype``)."""
    import numpy as np  # only when inferring from data

    if value is None:
        return None
    if kind == "datetime":
        try:
            converted = np.datetime64(value).item()
        except ValueError as exc:
            raise InvalidParameterError(f"Failed to convert value `{value}` to `datetime`") from exc
        if isinstance(converted, int):
            raise InvalidParameterError(f"Failed to convert value to `datetime`, got `{value}`")
        return converted
    scalar = bool(np.isscalar(value))  # (a plain bool: numpy's TypeGuard would narrow `value` to bytes too)
    if not scalar:
        raise InvalidParameterError(f"Value must be a scalar for type `{kind}`, got `{value}`")
    if _is_type(kind, value) or any(_is_type(t, value) for t in _PARAM_CONVERSIONS.get(kind, ())):
        return _param_type_checks()[kind][1](value)
    raise InvalidParameterError(f"Can not safely convert `{type(value)}` to `{kind}` for value `{value}`")


def _array_depth(value: Any) -> int:
    if _is_ndarray(value):
        return int(value.ndim)
    if isinstance(value, list):
        return max(_array_depth(v) for v in value) + 1 if value else 1
    return 0


def _param_spec(name: str, value: Any) -> ParamSpec:
    """MLflow's ``_infer_type_and_shape`` plus the ParamSpec checks: 1-D lists and scalars by their numpy
    dtype, datetimes, and dicts as objects; binary is refused."""
    import numpy as np  # only when inferring from data

    if isinstance(value, list) or _is_ndarray(value):
        depth = _array_depth(value)
        if depth != 1:
            raise InvalidParameterError(f"Expected parameters to be 1D array or scalar, got {depth}D array")
        is_datetime = all(_is_type("datetime", v) for v in value)  # note: an empty list is a datetime list
        kind, shape = ("datetime" if is_datetime else _numpy_type(np.array(value).dtype)), (-1,)
    elif _is_type("datetime", value):
        kind, shape = "datetime", None
    elif np.isscalar(value):
        kind, shape = _numpy_type(np.array(value).dtype), None
    elif isinstance(value, dict):
        spec = infer_schema({"value": value}).inputs[0]
        if not (isinstance(spec, ColSpec) and isinstance(spec.type, dict) and spec.type["type"] == "object"):
            raise InvalidParameterError(f"'dtype' must be DataType or Object, got {spec}")
        try:  # MLflow keeps the default as given and then cannot write it: refuse it here instead
            json.dumps(value)
        except (TypeError, ValueError) as exc:
            raise InvalidParameterError(f"An object parameter's default must be plain JSON: {exc}") from None
        return ParamSpec(str(name), "object", copy.deepcopy(value), None, spec.type["properties"])
    else:
        kind_name = type(value).__name__
        raise InvalidParameterError(f"Expected parameters to be 1D array or scalar, got {kind_name}")
    if kind == "binary":
        raise InvalidParameterError(f"Binary type is not supported for parameters, ParamSpec '{name}'")
    default = [_param_value(v, kind) for v in value] if shape else _param_value(value, kind)
    return ParamSpec(str(name), kind, default, shape)


def infer_param_schema(params: dict[str, Any]) -> ParamSchema:
    """The params schema MLflow infers; every param that cannot be typed is named in one error."""
    if not isinstance(params, dict):
        raise InvalidParameterError(f"Expected parameters to be dict, got {type(params).__name__}")
    specs, invalid = [], []
    for name, value in params.items():
        try:
            specs.append(_param_spec(name, value))
        except (BakehouseError, TypeError, ValueError, OverflowError) as exc:
            invalid.append((name, value, str(exc)))
    if invalid:
        raise InvalidParameterError(f"Failed to infer schema for parameters: {invalid}")
    return ParamSchema(specs)


def infer_signature(
    model_input: Any = None, model_output: Any = None, params: dict[str, Any] | None = None
) -> ModelSignature:
    """Infer a signature from example inputs, outputs and inference params, as MLflow does: an input or
    output it cannot type becomes one ``any`` column (with a warning), params that cannot be typed raise."""
    schemas: list[Schema | None] = []
    for key, data in (("inputs", model_input), ("outputs", model_output)):
        if data is None:
            schemas.append(None)
            continue
        try:
            schemas.append(infer_schema(data))
        except UnsupportedExampleError:
            raise
        except Exception as exc:  # noqa: BLE001 - MLflow falls back on any failure, so do we
            logger.warning(
                "Failed to infer schema for %s (%s). Setting schema to `Schema([ColSpec(type=AnyType())])`.",
                key,
                exc,
            )
            schemas.append(Schema([ColSpec("any")]))
    param_schema = infer_param_schema(params) if params else None
    if schemas[0] is None and schemas[1] is None and param_schema is None:
        raise InvalidParameterError("At least one of inputs, outputs or params must be provided")
    return ModelSignature(schemas[0], schemas[1], param_schema)


def infer_signature_from_example(
    example: Any, predict: Callable[[Any], Any] | None = None, params: dict[str, Any] | None = None
) -> ModelSignature | None:
    """The signature MLflow's ``log_model`` writes for an input example, which is stricter than
    ``infer_signature``: an example whose inputs or params cannot be typed, or that ``predict`` fails on,
    gives no signature at all (with a warning); a 1-D array predicted from columns is one unnamed column.
    ``predict`` gets the example as is: a caller that enforces the input schema first does it there."""
    import numpy as np  # only when inferring from data
    import pandas as pd  # only when inferring from data

    try:
        inputs = infer_schema(example)
        param_schema = infer_param_schema(params) if params else None
        if predict is None:
            return ModelSignature(inputs, None, param_schema)
        prediction = predict(example)
    except Exception as exc:  # noqa: BLE001 - MLflow logs the model without a signature on any failure
        logger.warning("Failed to infer the model signature from the input example. Reason: %r", exc)
        return None
    if not inputs.is_tensor_spec() and isinstance(prediction, np.ndarray) and prediction.ndim == 1:
        prediction = pd.Series(prediction)
    try:
        outputs = infer_schema(prediction)
    except Exception as exc:  # noqa: BLE001 - an output MLflow cannot type is recorded as `any`
        logger.warning("Failed to infer the model output schema (%s); setting it to `any`.", exc)
        outputs = Schema([ColSpec("any")])
    return ModelSignature(inputs, outputs, param_schema)
