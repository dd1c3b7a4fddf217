"""Parse-time conversion of a request's columns to the types its model's signature declares.

JSON has one number type and no float32, int32 or "missing integer"; CSV has no types at all. MLflow's scoring
server therefore casts each column of a request to the signature's dtype while parsing it (before the
stricter schema enforcement a Python caller gets). We do the same for every conversion that keeps values:
JSON numbers into ``float``/``integer`` columns, ``null`` into numeric columns (NaN), whole numbers written
as ``1.0`` into integer columns, 0/1 into boolean columns, and numbers into string columns (as text, the
way MLflow reads them). Unlike MLflow we leave alone what a cast would silently change (``1.5`` into an
integer column, ``2**40`` into an int32 one, ``"true"``/``null`` into a boolean one, text into a number
column), so schema enforcement refuses it with a message naming the column.
"""

from __future__ import annotations

from typing import Any

from bakehouse.errors import BadRequestError
from bakehouse.models.signature import NUMPY_DTYPE, ColSpec, Schema

_FLOATS = frozenset({"double", "float"})
_INTEGERS = frozenset({"long", "integer"})


def named_columns(schema: Schema | None) -> dict[str, ColSpec]:
    """The signature's named column specs (empty for tensors, unnamed columns or no signature)."""
    if schema is None or schema.is_tensor_spec() or not schema.has_input_names():
        return {}
    return {s.name: s for s in schema.inputs if isinstance(s, ColSpec) and s.name is not None}


def apply_declared_dtypes(frame: Any, schema: Schema | None, *, base64_binary: bool = True) -> Any:
    """``frame`` with each column the signature names converted to its declared type where no value changes.
    ``binary`` columns of a JSON body hold base64 text (MLflow's encoding) and are decoded to bytes."""
    specs = named_columns(schema)
    if not specs:
        return frame
    for column in frame.columns:
        spec = specs.get(str(column))
        if spec is None or isinstance(spec.type, dict):
            continue
        if spec.type_name == "binary":
            if base64_binary:
                frame[column] = _decoded(str(column), frame[column])
            continue
        converted = _convert(frame[column], spec.type_name)
        if converted is not None:
            frame[column] = converted
    return frame


def _convert(values: Any, kind: str) -> Any | None:
    """The converted column, or None to leave it as it is (already right, or not convertible losslessly)."""
    import numpy as np  # the scoring server always has a model loaded, so these are warm

    dtype = values.dtype
    if kind in _FLOATS:
        target = np.dtype(NUMPY_DTYPE[kind])
        if dtype == target:
            return None
        if dtype.kind in "iubf" or (dtype == object and _numbers_or_nulls(values)):
            return values.astype(target)
        return None
    if kind in _INTEGERS:
        target = np.dtype(NUMPY_DTYPE[kind])
        if dtype == target:
            return None
        if dtype.kind == "f" and not values.hasnans and bool((values == values.round()).all()):
            return _integers_in_range(values, target)
        if dtype.kind in "iu":
            return _integers_in_range(values, target)
        return None
    if kind == "boolean":
        if dtype.kind in "iu" and bool(values.isin((0, 1)).all()):
            return values.astype(bool)
        return None
    numbers = kind == "string" and (
        dtype.kind in "iuf" or (dtype == object and any(_is_number(v) for v in values.tolist()))
    )
    return values.map(_number_text, na_action="ignore").astype(object) if numbers else None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numbers_or_nulls(values: Any) -> bool:
    return all(v is None or _is_number(v) for v in values.tolist())


def _integers_in_range(values: Any, target: Any) -> Any | None:
    import numpy as np

    if len(values) == 0:
        return values.astype(target)
    limits = np.iinfo(target)
    if values.min() < limits.min or values.max() > limits.max:
        return None
    return values.astype(target)


def _number_text(value: Any) -> Any:
    """A JSON/CSV number as the text the client wrote (``5``, not ``5.0``, for a whole number read as float);
    text is kept as it is."""
    if not _is_number(value):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _decoded(name: str, values: Any) -> Any:
    import base64
    import binascii

    def decode(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return base64.b64decode(value)
        except binascii.Error as e:
            raise BadRequestError(
                f"Column '{name}' is binary: send its values as base64 text ({e})"
            ) from None

    return values.map(decode, na_action="ignore").astype(object)
