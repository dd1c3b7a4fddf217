"""Parse ``/invocations`` bodies into model input, and encode predictions — MLflow's scoring protocol.

It lives in ``models`` because both the scoring server (``serving``) and batch scoring (``models.batch``)
speak it, and ``models`` never imports ``serving``.

JSON bodies hold exactly one of ``dataframe_split``, ``dataframe_records``, ``instances``, ``inputs`` (plus
optional ``params``); CSV and parquet bodies are tables. Values are parsed with the signature's dtypes (so
``[[5, 3, 1, 0]]`` feeds a double-typed model, as in MLflow), and nothing in a request is ever unpickled:
only orjson, pandas' CSV reader and pyarrow's parquet reader touch the bytes.
"""

from __future__ import annotations

import io
import json
import logging
import sys
from dataclasses import dataclass
from typing import Any

import orjson

from bakehouse.errors import BadRequestError
from bakehouse.models.request_dtypes import apply_declared_dtypes, named_columns
from bakehouse.models.signature import Schema, TensorSpec

logger = logging.getLogger(__name__)

JSON_TYPES = frozenset({"application/json"})
CSV_TYPES = frozenset({"text/csv"})
PARQUET_TYPES = frozenset({"application/vnd.apache.parquet", "application/x-parquet", "application/parquet"})
INPUT_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
UNWRAPPED_KEYS = ("messages", "prompt", "input")

_FORMAT_HELP = (
    "The input must be a JSON dictionary with exactly one of the input fields "
    "{'dataframe_split', 'dataframe_records', 'instances', 'inputs'}, optionally with 'params'. "
    'For example: {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}. '
    "IMPORTANT: the MLflow Model scoring protocol changed in MLflow 2.0: bodies such as "
    '{"columns": [...], "data": [...]} are no longer accepted; wrap them in \'dataframe_split\'.'
)


class UnsupportedMediaType(BadRequestError):
    """The request's content type is not one we parse (the scoring server answers 415)."""


@dataclass(slots=True)
class ParsedRequest:
    data: Any
    params: dict[str, Any] | None = None
    unwrapped: bool = False


def media_type(content_type: str | None) -> str:
    """The media type, refusing any parameter other than ``charset=utf-8`` (as MLflow does)."""
    if not content_type:
        raise UnsupportedMediaType(
            "Missing Content-Type; use application/json, text/csv or application/vnd.apache.parquet"
        )
    kind, *parameters = [p.strip() for p in content_type.split(";")]
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        if key.strip().lower() != "charset" or value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise UnsupportedMediaType(
                f"Unsupported content type parameter {parameter!r}; only charset=utf-8"
            )
    kind = kind.lower()
    if kind not in JSON_TYPES and kind not in CSV_TYPES and kind not in PARQUET_TYPES:
        raise UnsupportedMediaType(
            f"Unsupported content type {kind!r}; use application/json, text/csv or application/vnd.apache.parquet"
        )
    return kind


def parse_request(body: bytes, content_type: str | None, schema: Schema | None) -> ParsedRequest:
    kind = media_type(content_type)
    if kind in CSV_TYPES:
        return ParsedRequest(_parse_csv(body, schema))
    if kind in PARQUET_TYPES:
        return ParsedRequest(_parse_parquet(body))
    return parse_json_payload(decode_json(body), schema)


def decode_json(body: bytes) -> Any:
    """The decoded body. orjson first (fast); a body it refuses is read again by the standard library, which
    also takes the ``NaN``/``Infinity`` literals that Python clients (``json.dumps``, MLflow's own) write."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        error = e
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise BadRequestError(f"Invalid JSON input: {error}") from None


def parse_json_payload(payload: Any, schema: Schema | None) -> ParsedRequest:
    """A decoded JSON body -> model input (see the module docstring for the accepted shapes)."""
    if not isinstance(payload, dict):
        raise BadRequestError(_FORMAT_HELP)
    keys = [k for k in INPUT_KEYS if k in payload]
    if not keys and any(k in payload for k in UNWRAPPED_KEYS):
        return ParsedRequest(payload, None, unwrapped=True)
    if len(keys) != 1:
        raise BadRequestError(_FORMAT_HELP + f" Got keys: {sorted(payload)}.")
    params = payload.get("params")
    if params is not None and not isinstance(params, dict):
        raise BadRequestError("'params' must be a JSON object")
    extra = set(payload) - {keys[0], "params"}
    if extra:  # MLflow ignores them too (clients add e.g. request ids)
        logger.warning("Ignoring request fields other than %r and 'params': %s", keys[0], sorted(extra))
    key = keys[0]
    value = payload[key]
    if value is None:
        raise BadRequestError(f"'{key}' is null; send the model's input in it")
    if key == "dataframe_split":
        data = _parse_split(value, schema)
    elif key == "dataframe_records":
        data = _parse_records(value, schema)
    else:
        data = _parse_tf_serving(value, schema, key)
    return ParsedRequest(data, params)


# ---------------------------------------------------------------------------------------- tables


def _parse_split(value: Any, schema: Schema | None) -> Any:
    import numpy as np  # the scoring server always has a model loaded, so these are warm
    import pandas as pd

    if not isinstance(value, dict) or "data" not in value:
        raise BadRequestError("'dataframe_split' must be an object with 'data' (and usually 'columns')")
    rows = value["data"]
    columns = value.get("columns")
    index = value.get("index")
    if not isinstance(rows, list):
        raise BadRequestError("'dataframe_split.data' must be a list of rows")
    specs = named_columns(schema)
    if (
        columns
        and specs
        and rows
        and all(specs.get(c) is not None and specs[c].type_name == "double" for c in columns)
    ):
        # fast path: an all-double table becomes one float64 block (no per-column work)
        try:
            array = np.asarray(rows, dtype=np.float64)
        except (TypeError, ValueError):
            array = None
        if array is not None and array.ndim == 2 and array.shape[1] == len(columns):
            return pd.DataFrame(array, columns=columns, index=index, copy=False)
    try:
        frame = pd.DataFrame(rows, columns=columns, index=index)
    except (TypeError, ValueError) as e:
        raise BadRequestError(f"Could not read 'dataframe_split' as a table: {e}") from None
    return apply_declared_dtypes(frame, schema)


def _parse_records(value: Any, schema: Schema | None) -> Any:
    import pandas as pd

    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise BadRequestError("'dataframe_records' must be a list of objects (one per row)")
    return apply_declared_dtypes(pd.DataFrame(value), schema)


def _parse_tf_serving(value: Any, schema: Schema | None, key: str) -> Any:
    import numpy as np
    import pandas as pd

    tensors = schema is not None and schema.is_tensor_spec()
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        if tensors and key == "instances":
            names = value[0].keys()
            return {n: _tensor([row[n] for row in value], schema, n) for n in names}
        if not tensors and (
            key == "instances" or named_columns(schema)
        ):  # rows as records, as MLflow reads them
            return apply_declared_dtypes(pd.DataFrame(value), schema)
    if isinstance(value, dict):
        if tensors:
            return {n: _tensor(v, schema, n) for n, v in value.items()}
        if all(not isinstance(v, list) for v in value.values()):
            value = {k: [v] for k, v in value.items()}
        try:
            return apply_declared_dtypes(pd.DataFrame(value), schema)
        except ValueError as e:
            raise BadRequestError(f"Could not read '{key}' as columns: {e}") from None
    if tensors:
        return _tensor(value, schema, None)
    names = list(named_columns(schema))
    if names and isinstance(value, list):
        if value and all(isinstance(r, list) for r in value) and all(len(r) == len(names) for r in value):
            return apply_declared_dtypes(pd.DataFrame(value, columns=names), schema)
        if len(names) == 1 and value and not any(isinstance(v, (list, dict)) for v in value):
            # one named column and a flat list: its values (so they get the column's type, like [[v], ...])
            return apply_declared_dtypes(pd.DataFrame({names[0]: value}), schema)
    try:
        return np.asarray(value)
    except ValueError as e:
        raise BadRequestError(f"Could not read '{key}' as an array: {e}") from None


def _tensor(value: Any, schema: Schema | None, name: str | None) -> Any:
    import numpy as np

    dtype = None
    if schema is not None:
        for spec in schema.inputs:
            if isinstance(spec, TensorSpec) and (name is None or spec.name == name or spec.name is None):
                dtype = spec.dtype
                break
    try:
        return np.asarray(value, dtype=dtype if dtype not in (None, "object") else None)
    except (TypeError, ValueError) as e:
        label = f" '{name}'" if name else ""
        raise BadRequestError(f"Could not read tensor{label} as {dtype}: {e}") from None


def _parse_csv(body: bytes, schema: Schema | None) -> Any:
    import pandas as pd

    # string columns are read as text ("007" stays "007"), as MLflow reads them with the signature's dtypes
    text = {name: str for name, spec in named_columns(schema).items() if spec.type_name == "string"}
    try:
        frame = pd.read_csv(io.BytesIO(body), dtype=text or None)
    except Exception as e:  # noqa: BLE001 - pandas raises many parser errors
        raise BadRequestError(f"Could not parse CSV input: {e}") from None
    return apply_declared_dtypes(frame, schema, base64_binary=False)


def _parse_parquet(body: bytes) -> Any:
    import pandas as pd

    try:
        return pd.read_parquet(io.BytesIO(body))
    except Exception as e:  # noqa: BLE001 - pyarrow raises many kinds
        raise BadRequestError(f"Could not parse parquet input: {e}") from None


# ---------------------------------------------------------------------------------------- output


def _default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "to_dict") and hasattr(value, "columns"):
        return value.to_dict(orient="records")
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, bytes):
        import base64

        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"Cannot serialize a prediction of type {type(value).__name__}")


_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def encode_predictions(predictions: Any, unwrapped: bool = False) -> bytes:
    """``{"predictions": ...}`` (DataFrames as records); unwrapped for LLM-style requests."""
    pandas = sys.modules.get("pandas")  # no pandas loaded: no pandas object to convert
    if pandas is not None and isinstance(predictions, pandas.Series):
        # as MLflow encodes one: a table of one column, as records ([{"0": 1.5}, ...] for an unnamed series)
        predictions = predictions.to_frame().to_dict(orient="records")
    elif hasattr(predictions, "columns") and hasattr(predictions, "to_dict"):
        predictions = predictions.to_dict(orient="records")
    elif hasattr(predictions, "to_numpy") and not hasattr(predictions, "columns"):
        predictions = predictions.to_numpy()
    payload = predictions if unwrapped else {"predictions": predictions}
    try:
        return orjson.dumps(payload, default=_default, option=_OPTIONS)
    except TypeError:
        # non-contiguous or object arrays: orjson's numpy path refuses them; go through lists
        import numpy as np

        if isinstance(predictions, np.ndarray):
            payload = predictions.tolist() if unwrapped else {"predictions": predictions.tolist()}
            return orjson.dumps(payload, default=_default, option=orjson.OPT_NON_STR_KEYS)
        raise
