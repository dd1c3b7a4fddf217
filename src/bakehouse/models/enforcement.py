"""Schema enforcement at predict time, with MLflow's conversion rules.

Allowed conversions (MLflow's list): object -> string, int -> long (upcast), float -> double (upcast),
int -> double, datetime64[any] -> datetime, object -> datetime. Anything that would change values (float ->
int, double -> float) is refused with an error naming the column and both types. One deliberate leniency:
MLflow refuses int64 -> double unless every value is 0 or 1; we accept it whenever every value is exactly
representable (|x| <= 2**53), which is the same safety guarantee without the surprise.
"""

from __future__ import annotations

import logging
from typing import Any

from bakehouse.errors import InvalidParameterError
from bakehouse.models.signature import NUMPY_DTYPE, ColSpec, ParamSchema, Schema, TensorSpec

logger = logging.getLogger(__name__)

_EXACT_FLOAT_LIMIT = 2**53


class SchemaEnforcementError(InvalidParameterError):
    """Input data does not match the model signature."""


def enforce_schema(data: Any, schema: Schema) -> Any:
    """Return ``data`` converted to what the signature declares (a DataFrame for columns, arrays for tensors)."""
    if schema.is_tensor_spec():
        return _enforce_tensors(data, schema)
    return _enforce_columns(data, schema)


# ------------------------------------------------------------------------------------------ columns


def to_dataframe(data: Any, schema: Schema | None = None) -> Any:
    """Turn the accepted input shapes into a DataFrame (columns named from the schema when unnamed)."""
    import numpy as np  # heavy: only when predicting
    import pandas as pd  # heavy: only when predicting

    if isinstance(data, pd.DataFrame):
        return data
    names = schema.input_names() if schema is not None and schema.has_input_names() else None
    if isinstance(data, pd.Series):
        return data.to_frame()
    if isinstance(data, dict):
        if all(np.isscalar(v) or v is None for v in data.values()):
            return pd.DataFrame({k: [v] for k, v in data.items()})
        return pd.DataFrame(data)
    if isinstance(data, np.ndarray):
        if (
            data.ndim == 0
        ):  # one scalar (`{"inputs": "some text"}`): one row of one column, as MLflow reads it
            data = data.reshape(1, 1)
        elif data.ndim == 1:
            data = data.reshape(-1, 1) if names is None or len(names) == 1 else data.reshape(1, -1)
        return pd.DataFrame(data, columns=names if names and len(names) == data.shape[1] else None)
    if isinstance(data, list):
        if data and all(isinstance(r, dict) for r in data):
            return pd.DataFrame(data)
        if data and all(isinstance(r, (list, tuple)) for r in data):
            width = len(data[0])
            return pd.DataFrame(data, columns=names if names and len(names) == width else None)
        frame = pd.DataFrame({names[0] if names and len(names) == 1 else 0: data})
        return frame
    if isinstance(data, (str, bytes, int, float, bool)):
        return pd.DataFrame({names[0] if names else 0: [data]})
    raise SchemaEnforcementError(
        f"Expected input to be a DataFrame, dict, list or numpy array, got {type(data).__name__}"
    )


def _enforce_columns(data: Any, schema: Schema) -> Any:
    frame = to_dataframe(data, schema)
    if schema.has_input_names() and _already_conforms(frame, schema):
        return frame
    if schema.has_input_names():
        present = {str(c): c for c in frame.columns}
        missing = [
            s.name for s in schema.inputs if isinstance(s, ColSpec) and s.required and s.name not in present
        ]
        extra = [c for c in present if c not in set(schema.input_names())]
        if missing:
            message = f"Model is missing inputs {missing}."
            if extra:
                message += f" Note that there were extra inputs: {extra}."
            raise SchemaEnforcementError(message)
        if extra:
            logger.warning("Ignoring inputs not in the model signature: %s", extra)
        columns = {}
        for spec in schema.inputs:
            assert isinstance(spec, ColSpec)
            if spec.name not in present:
                continue
            columns[spec.name] = _enforce_column(spec.name, frame[present[spec.name]], spec)
        import pandas as pd  # heavy: only when predicting

        return pd.DataFrame(columns, index=frame.index, copy=False)
    if len(frame.columns) < len(schema.inputs):
        raise SchemaEnforcementError(
            f"Model inference is missing inputs: the signature declares {len(schema.inputs)} unnamed inputs "
            f"but the input has {len(frame.columns)} columns."
        )
    for position, spec in enumerate(schema.inputs):
        assert isinstance(spec, ColSpec)
        column = frame.columns[position]
        frame[column] = _enforce_column(str(column), frame[column], spec)
    return frame


def _already_conforms(frame: Any, schema: Schema) -> bool:
    """The hot path of a scoring server: exactly the declared columns, already of the declared numeric dtypes."""
    specs = schema.inputs
    if len(frame.columns) != len(specs):
        return False
    for column, spec, dtype in zip(frame.columns, specs, frame.dtypes):
        if column != spec.name or not isinstance(spec, ColSpec) or isinstance(spec.type, dict):
            return False
        target = _NUMERIC_DTYPES.get(spec.type)
        if target is None or dtype != target:
            return False
    return True


_NUMERIC_DTYPES = {
    "double": "float64",
    "float": "float32",
    "long": "int64",
    "integer": "int32",
    "boolean": "bool",
}


def _enforce_column(name: str | None, values: Any, spec: ColSpec) -> Any:
    """Convert one column to the declared type, or raise naming the column and both types."""
    import numpy as np  # heavy: only when predicting
    import pandas as pd  # heavy: only when predicting

    kind = spec.type_name
    if kind == "any" or isinstance(spec.type, dict):
        return values
    if spec.required and kind == "boolean" and values.isna().any():
        # MLflow would read a missing boolean as False; text, bytes and datetimes keep their None/NaT (as there)
        raise SchemaEnforcementError(f"Column '{name}' is required ({kind}) but has missing values")
    dtype = values.dtype
    if kind == "string":
        if dtype == object or isinstance(dtype, pd.StringDtype):
            return values
        raise SchemaEnforcementError(_incompatible(name, dtype, kind))
    if kind == "binary":
        if dtype == object or isinstance(dtype, pd.StringDtype) or dtype.kind == "S":
            return values
        raise SchemaEnforcementError(_incompatible(name, dtype, kind))
    if kind == "boolean" and dtype == object:
        return values
    if dtype == object:
        values = values.infer_objects()
        dtype = values.dtype
    target = np.dtype(NUMPY_DTYPE[kind])
    if dtype == target:
        return values
    if kind == "datetime":
        if dtype.kind == "M" or dtype == object or isinstance(dtype, pd.StringDtype):
            try:
                return values.astype(target)
            except (TypeError, ValueError) as e:
                raise SchemaEnforcementError(
                    f"Failed to convert column {name} from type {dtype} to datetime: {e}"
                )
        raise SchemaEnforcementError(_incompatible(name, dtype, kind))
    source_kind = getattr(dtype, "kind", "O")
    if source_kind == target.kind:
        upcast = dtype.itemsize <= target.itemsize
    elif source_kind == "u" and target.kind == "i":
        upcast = dtype.itemsize < target.itemsize
    elif source_kind in "iu" and target.kind == "f":
        upcast = dtype.itemsize <= 2 or (
            target.itemsize == 8 and (dtype.itemsize <= 4 or _exact_in_double(values))
        )
    elif source_kind == "b" and target.kind == "b":
        upcast = True
    else:
        upcast = False
    if upcast:
        return values.astype(target)
    hint = ""
    if source_kind == "f" and target.kind in "iu" and values.hasnans:
        hint = (
            " Hint: integer columns cannot hold missing values, so they arrive as floats; declare the column "
            "as double in the signature or infer it from data that has missing values."
        )
    raise SchemaEnforcementError(_incompatible(name, dtype, kind) + hint)


def _exact_in_double(values: Any) -> bool:
    if len(values) == 0:
        return True
    return bool(values.abs().max() <= _EXACT_FLOAT_LIMIT)


def _incompatible(name: str | None, dtype: Any, kind: str) -> str:
    return (
        f"Incompatible input types for column {name}. Can not safely convert {dtype} to {kind} "
        f"({NUMPY_DTYPE[kind]})."
    )


# ------------------------------------------------------------------------------------------ tensors


def _enforce_tensors(data: Any, schema: Schema) -> Any:
    import numpy as np  # heavy: only when predicting
    import pandas as pd  # heavy: only when predicting

    specs = [s for s in schema.inputs if isinstance(s, TensorSpec)]
    if schema.has_input_names() and len(specs) > 1:
        if not isinstance(data, dict):
            raise SchemaEnforcementError(
                f"This model expects named tensors {[s.name for s in specs]}; send a dict of arrays"
            )
        missing = [s.name for s in specs if s.name not in data]
        if missing:
            raise SchemaEnforcementError(f"Model is missing inputs {missing}.")
        return {s.name: _enforce_tensor(np.asarray(data[s.name]), s) for s in specs}
    spec = specs[0]
    if isinstance(data, dict) and spec.name is not None and spec.name in data:
        return {spec.name: _enforce_tensor(np.asarray(data[spec.name]), spec)}
    if isinstance(data, pd.DataFrame):
        # one column for a 1-d tensor: its values (MLflow reads a one-column table that way too)
        data = data.iloc[:, 0].to_numpy() if len(spec.shape) == 1 and data.shape[1] == 1 else data.to_numpy()
    return _enforce_tensor(np.asarray(data), spec)


def _enforce_tensor(values: Any, spec: TensorSpec) -> Any:
    import numpy as np  # heavy: only when predicting

    expected = spec.shape
    if len(expected) == 1 and expected[0] == -1 and spec.dtype == "object":
        return values
    if len(expected) != values.ndim or any(e not in (-1, a) for e, a in zip(expected, values.shape)):
        raise SchemaEnforcementError(
            f"Shape of input {tuple(values.shape)} does not match expected shape {tuple(expected)}"
            + (f" for tensor '{spec.name}'" if spec.name else "")
        )
    target = np.dtype(spec.dtype)
    if values.dtype == target:
        return values
    source = values.dtype
    safe = np.can_cast(source, target, casting="safe") or (
        source.kind in "iu"
        and target.kind == "f"
        and (values.size == 0 or np.abs(values).max() <= _EXACT_FLOAT_LIMIT)
    )
    if safe:
        return values.astype(target)
    raise SchemaEnforcementError(
        f"dtype of input {source} does not match expected dtype {spec.dtype}"
        + (f" for tensor '{spec.name}'" if spec.name else "")
    )


# ------------------------------------------------------------------------------------------- params

_PARAM_PY_TYPES: dict[str, tuple[type, ...]] = {
    "boolean": (bool,),
    "integer": (int,),
    "long": (int,),
    "float": (float, int),
    "double": (float, int),
    "string": (str,),
    "binary": (bytes,),
    "datetime": (str,),
    "object": (dict,),
}


def enforce_params(params: dict[str, Any] | None, schema: ParamSchema | None) -> dict[str, Any] | None:
    """Fill defaults and check the types of inference params; unknown params are ignored with a warning."""
    if schema is None:
        if params:
            logger.warning("The model has no params schema; ignoring params %s", sorted(params))
        return None
    params = dict(params or {})
    result: dict[str, Any] = {}
    for spec in schema.params:
        if spec.name not in params:
            default = spec.default
            if spec.dtype == "datetime" and default is not None and spec.shape is None:
                default = _datetime_param(spec.name, default)
            result[spec.name] = default
            continue
        value = params.pop(spec.name)
        if value is None:  # MLflow passes an explicit null on as None
            result[spec.name] = None
            continue
        if spec.dtype == "datetime":
            result[spec.name] = (
                [_datetime_param(spec.name, v) for v in value]
                if spec.shape is not None and isinstance(value, list)
                else _datetime_param(spec.name, value)
            )
            continue
        allowed = _PARAM_PY_TYPES.get(spec.dtype, (object,))
        values = value if spec.shape is not None else [value]
        if spec.shape is not None and not isinstance(value, list):
            raise SchemaEnforcementError(f"Param '{spec.name}' must be a list of {spec.dtype}, got {value!r}")
        for item in values:
            if isinstance(item, bool) and bool not in allowed:
                raise SchemaEnforcementError(
                    f"Param '{spec.name}' must be of type {spec.dtype}, got {item!r}"
                )
            if not isinstance(item, allowed):
                raise SchemaEnforcementError(
                    f"Param '{spec.name}' must be of type {spec.dtype}, got {item!r}"
                )
        if spec.dtype in ("float", "double"):
            value = [float(v) for v in value] if spec.shape is not None else float(value)
        result[spec.name] = value
    if params:
        logger.warning("Ignoring params not in the model signature: %s", sorted(params))
    return result


def _datetime_param(name: str, value: Any) -> Any:
    """An ISO 8601 text as ``datetime.date``/``datetime.datetime`` (what MLflow hands the model)."""
    import numpy as np  # heavy: only when predicting

    try:
        converted = np.datetime64(value).item()
    except (TypeError, ValueError):
        converted = None
    if converted is None or isinstance(converted, int):  # no date, or finer than microseconds
        raise SchemaEnforcementError(f"Param '{name}' must be a datetime (ISO 8601), got {value!r}")
    return converted
