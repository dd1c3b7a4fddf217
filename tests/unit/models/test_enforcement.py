from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from bakehouse.models.enforcement import SchemaEnforcementError, enforce_params, enforce_schema
from bakehouse.models.signature import ColSpec, ParamSchema, ParamSpec, Schema, TensorSpec

SCHEMA = Schema([ColSpec("double", "a"), ColSpec("long", "b"), ColSpec("string", "c", required=False)])


def test_missing_required_column_is_named() -> None:
    with pytest.raises(SchemaEnforcementError) as err:
        enforce_schema(pd.DataFrame({"a": [1.0], "z": [1]}), SCHEMA)
    assert err.value.message == "Model is missing inputs ['b']. Note that there were extra inputs: ['z']."


def test_safe_conversions_are_applied_and_columns_reordered(caplog: pytest.LogCaptureFixture) -> None:
    frame = pd.DataFrame({"extra": [0], "b": np.array([1, 2], dtype=np.int32)[:1], "a": [3]})
    with caplog.at_level(logging.WARNING):
        out = enforce_schema(frame, SCHEMA)
    assert list(out.columns) == ["a", "b"]
    assert out["a"].dtype == np.float64 and out["a"].tolist() == [3.0]
    assert out["b"].dtype == np.int64
    assert "extra" in caplog.text


def test_lossy_conversions_name_column_and_types() -> None:
    with pytest.raises(SchemaEnforcementError, match=r"column b\. Can not safely convert float64 to long"):
        enforce_schema(pd.DataFrame({"a": [1.0], "b": [1.5]}), SCHEMA)
    with pytest.raises(SchemaEnforcementError, match=r"column a\. Can not safely convert .* to double"):
        enforce_schema(pd.DataFrame({"a": ["x"], "b": [1]}), SCHEMA)
    with pytest.raises(SchemaEnforcementError, match="Hint: integer columns cannot hold missing values"):
        enforce_schema(pd.DataFrame({"a": [1.0, 2.0], "b": [1.0, None]}), SCHEMA)


def test_dict_list_and_ndarray_inputs_become_frames() -> None:
    out = enforce_schema({"a": 1.0, "b": 2}, SCHEMA)
    assert out.to_dict(orient="records") == [{"a": 1.0, "b": 2}]
    out = enforce_schema([{"a": 1.0, "b": 2, "c": "x"}], SCHEMA)
    assert out["c"].tolist() == ["x"]
    unnamed = Schema([ColSpec("double"), ColSpec("double")])
    out = enforce_schema(np.array([[1.0, 2.0]]), unnamed)
    assert out.shape == (1, 2)


def test_tensor_shape_and_dtype() -> None:
    schema = Schema([TensorSpec("float32", (-1, 2))])
    assert enforce_schema(np.zeros((3, 2), dtype=np.float16), schema).dtype == np.float32
    with pytest.raises(
        SchemaEnforcementError, match=r"Shape of input \(3, 3\) does not match expected shape \(-1, 2\)"
    ):
        enforce_schema(np.zeros((3, 3), dtype=np.float32), schema)
    with pytest.raises(
        SchemaEnforcementError, match="dtype of input float64 does not match expected dtype float32"
    ):
        enforce_schema(np.zeros((3, 2), dtype=np.float64), schema)


def test_params_defaults_types_and_unknown() -> None:
    schema = ParamSchema(
        [ParamSpec("temperature", "double", 0.5), ParamSpec("stops", "string", ["x"], (-1,))]
    )
    assert enforce_params(None, schema) == {"temperature": 0.5, "stops": ["x"]}
    assert enforce_params({"temperature": 1, "stops": ["a"]}, schema) == {"temperature": 1.0, "stops": ["a"]}
    with pytest.raises(SchemaEnforcementError, match="Param 'temperature' must be of type double"):
        enforce_params({"temperature": "hot"}, schema)
    with pytest.raises(SchemaEnforcementError, match="Param 'stops' must be a list of string"):
        enforce_params({"stops": "a"}, schema)
    assert enforce_params({"x": 1}, None) is None
