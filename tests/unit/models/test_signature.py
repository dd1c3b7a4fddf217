from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bakehouse.errors import InvalidParameterError
from bakehouse.models.signature import (
    ColSpec,
    ModelSignature,
    ParamSchema,
    ParamSpec,
    Schema,
    TensorSpec,
    infer_signature,
)


def test_infer_from_dataframe_maps_dtypes_and_optional_columns() -> None:
    frame = pd.DataFrame(
        {
            "d": [1.5, 2.5],
            "f": np.array([1, 2], dtype=np.float32),
            "l": [1, 2],
            "i": np.array([1, 2], dtype=np.int32),
            "b": [True, False],
            "s": ["a", None],
            "t": pd.to_datetime(["2024-01-01", "2024-01-02"]),
        }
    )
    schema = infer_signature(frame).inputs
    assert schema is not None
    assert [(c.name, c.type, c.required) for c in schema.inputs] == [  # type: ignore[union-attr]
        ("d", "double", True),
        ("f", "float", True),
        ("l", "long", True),
        ("i", "integer", True),
        ("b", "boolean", True),
        ("s", "string", False),
        ("t", "datetime", True),
    ]


def test_infer_from_numpy_gives_tensor_spec_with_variable_first_dim() -> None:
    sig = infer_signature(np.zeros((5, 10), dtype=np.float32), np.zeros(5, dtype=np.int64))
    assert sig.inputs is not None and sig.outputs is not None
    assert sig.inputs.inputs == [TensorSpec("float32", (-1, 10))]
    assert sig.outputs.to_dict() == [{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]


def test_infer_from_dict_of_arrays_list_of_dicts_and_strings() -> None:
    named = infer_signature({"a": np.zeros((2, 3)), "b": np.ones(2, dtype=np.int32)}).inputs
    assert named is not None
    assert named.inputs == [TensorSpec("float64", (-1, 3), "a"), TensorSpec("int32", (-1,), "b")]
    records = infer_signature([{"x": 1, "y": "a"}, {"x": 2}]).inputs
    assert records is not None
    assert [c.to_dict() for c in records.inputs] == [
        {"type": "long", "name": "x", "required": True},
        {"type": "string", "name": "y", "required": False},
    ]
    strings = infer_signature(["hello", "world"]).inputs
    assert strings is not None and strings.to_dict() == [{"type": "string", "required": True}]


def test_nested_types_are_inferred_and_round_trip() -> None:
    schema = infer_signature({"tags": ["a", "b"], "meta": {"k": "v"}}).inputs
    assert schema is not None
    as_dicts = schema.to_dict()
    assert as_dicts[0] == {"type": "array", "items": {"type": "string"}, "name": "tags", "required": True}
    assert as_dicts[1] == {
        "type": "object",
        "properties": {"k": {"type": "string", "required": True}},
        "name": "meta",
        "required": True,
    }
    assert Schema.from_json(schema.to_json()).to_dict() == as_dicts


def test_params_schema_inferred_with_defaults_and_list_shape() -> None:
    sig = infer_signature(pd.DataFrame({"x": [1.0]}), params={"temperature": 0.5, "stops": ["a", "b"], "n": 3})
    assert sig.params is not None
    assert sig.params.to_dict() == [
        {"name": "temperature", "type": "double", "default": 0.5, "shape": None},
        {"name": "stops", "type": "string", "default": ["a", "b"], "shape": [-1]},
        {"name": "n", "type": "long", "default": 3, "shape": None},
    ]


def test_signature_dict_uses_mlflow_json_string_form_and_round_trips() -> None:
    sig = ModelSignature(
        Schema([ColSpec("double", "a"), ColSpec("string", "b", required=False)]),
        Schema([TensorSpec("int64", (-1,))]),
        ParamSchema([ParamSpec("k", "long", 1)]),
    )
    data = sig.to_dict()
    assert isinstance(data["inputs"], str) and isinstance(data["params"], str)
    assert json.loads(data["inputs"]) == [
        {"type": "double", "name": "a", "required": True},
        {"type": "string", "name": "b", "required": False},
    ]
    assert ModelSignature.from_dict(data) == sig


def test_mixed_schemas_are_refused() -> None:
    with pytest.raises(InvalidParameterError, match="all column specs or all tensor specs"):
        Schema([ColSpec("double", "a"), TensorSpec("float32", (-1,), "b")])
    with pytest.raises(InvalidParameterError, match="Unsupported column type"):
        Schema.from_json('[{"type": "complex128", "name": "z"}]')
    with pytest.raises(InvalidParameterError, match="Cannot infer a schema"):
        infer_signature(object())
