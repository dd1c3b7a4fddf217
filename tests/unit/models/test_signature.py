from __future__ import annotations

import datetime as dt
import decimal
import functools
import json
import logging
import random
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bakehouse.errors import InvalidParameterError
from bakehouse.models.schema_inference import infer_schema, infer_signature, infer_signature_from_example
from bakehouse.models.signature import (
    ColSpec,
    ModelSignature,
    ParamSchema,
    ParamSpec,
    Schema,
    TensorSpec,
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
    assert [(c.name, c.type, c.required) for c in schema.inputs] == [
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
    sig = infer_signature(
        pd.DataFrame({"x": [1.0]}), params={"temperature": 0.5, "stops": ["a", "b"], "n": 3}
    )
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
        infer_schema((1, 2))


# ------------------------------------------------------------------------------- parity with MLflow 3.17
# Every example below goes through Bakehouse and ``mlflow.types.utils._infer_schema`` /
# ``mlflow.models.infer_signature``: the JSON text must be identical, and where MLflow refuses, so do we.

EXAMPLES: dict[str, Callable[[], Any]] = {
    # DataFrames: dtypes, labels, missing values, object columns
    "df_dtypes": lambda: pd.DataFrame(
        {
            "d": [1.5, 2.5],
            "f": np.array([1, 2], dtype=np.float32),
            "l": [1, 2],
            "i": np.array([1, 2], dtype=np.int32),
            "b": [True, False],
            "s": ["a", None],
            "t": pd.to_datetime(["2024-01-01", "2024-01-02"]),
        }
    ),
    "df_narrow_ints": lambda: pd.DataFrame(
        {
            "u8": np.array([1], dtype=np.uint8),
            "u16": np.array([1], dtype=np.uint16),
            "u32": np.array([1], dtype=np.uint32),
            "i8": np.array([1], dtype=np.int8),
            "i16": np.array([1], dtype=np.int16),
            "f16": np.array([1], dtype=np.float16),
        }
    ),
    "df_uint64": lambda: pd.DataFrame({"u": np.array([1], dtype=np.uint64)}),
    "df_float128": lambda: pd.DataFrame({"a": np.array([1], dtype=np.longdouble)}),
    "df_complex": lambda: pd.DataFrame({"a": np.array([1j])}),
    "df_timedelta": lambda: pd.DataFrame({"a": pd.to_timedelta([1], unit="s")}),
    "df_all_none": lambda: pd.DataFrame({"a": [None, None]}),
    "df_nan_and_none_object": lambda: pd.DataFrame({"a": pd.Series([np.nan, None], dtype=object)}),
    "df_int_and_none_object": lambda: pd.DataFrame({"a": pd.Series([1, None], dtype=object)}),
    "df_int_and_float_object": lambda: pd.DataFrame({"a": pd.Series([1, 2.5], dtype=object)}),
    "df_bool_and_none_object": lambda: pd.DataFrame({"a": pd.Series([True, None], dtype=object)}),
    "df_mixed_object": lambda: pd.DataFrame({"a": pd.Series([1, "x"], dtype=object)}),
    "df_mixed_after_10k_rows": lambda: pd.DataFrame({"o": ["a"] * 10_005 + [1]}),
    "df_float32_nan_in_strings": lambda: pd.DataFrame(
        {"a": pd.Series([np.float32("nan"), "x"], dtype=object)}
    ),
    "df_decimal": lambda: pd.DataFrame({"a": [decimal.Decimal("1.5")]}),
    "df_int_labels": lambda: pd.DataFrame([[1, 2.0]]),
    "df_float_and_tuple_labels": lambda: pd.DataFrame({1.5: [1], ("a", "b"): [2]}),
    "df_multiindex_columns": lambda: pd.DataFrame(
        [[1, 2.0]], columns=pd.MultiIndex.from_tuples([("a", "x"), ("a", "y")])
    ),
    "df_duplicate_labels": lambda: pd.DataFrame([[1, 2]], columns=["a", "a"]),
    "df_no_columns": lambda: pd.DataFrame(),
    "df_no_rows": lambda: pd.DataFrame({"a": pd.Series([], dtype=object), "b": pd.Series([], dtype=float)}),
    "df_no_rows_untyped": lambda: pd.DataFrame(columns=["a", "b"]),
    "df_extension_dtypes": lambda: pd.DataFrame(
        {
            "s": pd.Series(["x", None], dtype="string"),
            "n": pd.Series([1, None], dtype="Int64"),
            "b": pd.Series([True, None], dtype="boolean"),
            "f": pd.Series([1.0, None], dtype="Float32"),
        }
    ),
    "df_str_all_missing": lambda: pd.DataFrame({"a": pd.Series([None, None], dtype="str")}),
    "df_categoricals": lambda: pd.DataFrame({"s": pd.Categorical(["x", "y"]), "i": pd.Categorical([1, 2])}),
    "df_period_interval": lambda: pd.DataFrame(
        {"p": pd.period_range("2020", periods=2, freq="D"), "i": pd.interval_range(0, 2)}
    ),
    "df_sparse": lambda: pd.DataFrame({"a": pd.arrays.SparseArray([0.0, 1.0])}),
    "df_nested": lambda: pd.DataFrame({"a": [[1, 2], [3]], "b": [{"k": "v"}, {"k": "w", "z": 1}]}),
    "df_nested_with_none": lambda: pd.DataFrame({"a": [[1, None], None], "b": [{"x": 1}, None]}),
    "df_array_cells": lambda: pd.DataFrame({"a": [np.array([1.0]), np.array([2.0])]}),
    "df_bytes": lambda: pd.DataFrame({"a": [b"x", b"y"]}),
    "df_dates_object": lambda: pd.DataFrame({"a": [dt.date(2024, 1, 1)]}),
    "df_datetimes": lambda: pd.DataFrame(
        {
            "nat": pd.to_datetime(["2024-01-01", None]),
            "s": pd.Series(pd.to_datetime(["2020-01-01", "2020-01-02"])).astype("datetime64[s]"),
            "tz": pd.to_datetime(["2024-01-01", "2024-01-02"]).tz_localize("UTC"),
        }
    ),
    "df_float_nan": lambda: pd.DataFrame({"a": [1.0, np.nan], "b": np.array([1, np.nan], dtype=np.float32)}),
    # Series
    "series_named": lambda: pd.Series([1, 2], name="x"),
    "series_int8": lambda: pd.Series(np.array([1], dtype=np.int8), name="z"),
    "series_int_name": lambda: pd.Series(["a"], name=0),
    "series_unnamed": lambda: pd.Series(["a", "b"]),
    "series_unnamed_optional": lambda: pd.Series([1.0, np.nan]),
    # numpy and scipy
    "np_1d": lambda: np.array([1, 2, 3]),
    "np_2d_float32": lambda: np.zeros((5, 10), dtype=np.float32),
    "np_3d_uint8": lambda: np.zeros((2, 3, 4), dtype=np.uint8),
    "np_0d": lambda: np.array(1.0),
    "np_str": lambda: np.array(["a", "bc"]),
    "np_str_2d": lambda: np.array([["a", "bb"], ["c", "d"]]),
    "np_bytes": lambda: np.array([b"a"]),
    "np_object": lambda: np.array(["a", 1], dtype=object),
    "np_bool": lambda: np.array([True]),
    "np_datetime": lambda: np.array(["2024-01-01"], dtype="datetime64[D]"),
    "np_timedelta": lambda: np.array([1], dtype="timedelta64[s]"),
    "np_float16": lambda: np.zeros(2, dtype=np.float16),
    "np_complex64": lambda: np.zeros(2, dtype=np.complex64),
    "np_empty": lambda: np.array([]),
    "np_structured": lambda: np.zeros(2, dtype=[("a", "i4"), ("b", "f8")]),
    "scipy_csr": lambda: pytest.importorskip("scipy.sparse").csr_matrix(np.eye(3, dtype=np.float32)),
    "scipy_csc": lambda: pytest.importorskip("scipy.sparse").csc_matrix(np.eye(2)),
    # dicts
    "dict_of_arrays": lambda: {"a": np.zeros((2, 3)), "b": np.ones(2, dtype=np.int32)},
    "dict_of_text_arrays": lambda: {"a": np.array(["x"]), "b": np.array([b"y"])},
    "dict_of_arrays_int_key": lambda: {0: np.zeros(2)},
    "dict_with_0d_array": lambda: {"a": np.array(1)},
    "dict_empty": dict,
    "dict_scalars": lambda: {"a": 1, "b": "x", "c": None, "d": 2.5, "e": True, "f": b"z", "g": float("nan")},
    "dict_nested": lambda: {"tags": ["a", "b"], "meta": {"k": "v", "a": 1}},
    "dict_nested_none": lambda: {"a": {"x": None, "y": [None]}},
    "dict_list_with_none": lambda: {"a": [1, None]},
    "dict_empty_containers": lambda: {"a": [], "b": {}},
    "dict_int_key": lambda: {0: "x"},
    "dict_array_and_scalar": lambda: {"a": np.array([1, 2]), "b": "x"},
    "dict_mixed_list": lambda: {"a": [1, 2.5]},
    "dict_series_value": lambda: {"a": pd.Series([1])},
    "dict_tuple_value": lambda: {"a": (1, 2)},
    # lists of dicts (records)
    "records": lambda: [{"x": 1, "y": "a"}, {"x": 2}],
    "records_nan": lambda: [{"x": 1.0}, {"x": float("nan")}],
    "records_none_first": lambda: [{"x": None}, {"x": 1}],
    "records_all_none": lambda: [{"x": None}],
    "records_mixed": lambda: [{"x": 1}, {"x": "a"}],
    "records_int_and_float": lambda: [{"x": 1}, {"x": 2.5}],
    "records_nested_objects": lambda: [{"x": {"a": 1}}, {"x": {"b": "s"}}],
    "records_object_and_none": lambda: [{"x": {"a": 1}}, {"x": None}, {"x": {"a": None, "b": [1]}}],
    "records_conflicting_nested": lambda: [{"x": {"a": 1}}, {"x": {"a": "s"}}],
    "records_lists": lambda: [{"x": []}, {"x": [1]}, {"y": [[1]]}, {"y": [[None], []]}],
    "records_arrays": lambda: [{"x": np.array([1, 2])}, {"x": np.array([3])}],
    "records_empty_array": lambda: [{"x": np.array([])}],
    "records_int_key": lambda: [{0: 1}],
    # lists
    "list_strings": lambda: ["hello", "world"],
    "list_empty": list,
    "list_ints_and_none": lambda: [1, None],
    "list_none": lambda: [None],
    "list_mixed": lambda: [1, "a"],
    "list_int_and_float": lambda: [1, 2.5],
    "list_int32_and_int": lambda: [np.int32(1), 1],
    "list_bools": lambda: [True, np.bool_(False)],
    "list_str_and_numpy_str": lambda: ["a", np.str_("b")],
    "list_nested": lambda: [[1, 2], [3], []],
    "list_of_lists_of_dicts": lambda: [[{"a": 1}], [{"b": 2}], []],
    "list_dict_and_none": lambda: [{"a": 1}, None],
    "list_none_then_list": lambda: [None, [1]],
    "list_list_then_scalar": lambda: [[1], 1],
    "list_arrays": lambda: [np.array([1, 2]), np.zeros((2, 2))],
    "list_empty_array": lambda: [np.array([])],
    "list_tuple": lambda: [(1, 2)],
    "list_int16": lambda: [np.int16(1)],
    "list_dates": lambda: [dt.date(2024, 1, 1), dt.datetime(2024, 1, 1)],
    "list_timestamps": lambda: [pd.Timestamp("2024-01-01")],
    "list_nested_int_key": lambda: [{"a": {1: 2}}],
    # scalars
    "str": lambda: "x",
    "int": lambda: 1,
    "float": lambda: 1.5,
    "bool": lambda: True,
    "bytes": lambda: b"x",
    "bytearray": lambda: bytearray(b"x"),
    "nan": lambda: float("nan"),
    "object": lambda: object(),
    "tuple": lambda: (1, 2),
    "set": lambda: {1},
    "np_int32": lambda: np.int32(1),
    "np_int16": lambda: np.int16(1),
    "np_float32": lambda: np.float32(1),
    "np_bool_scalar": lambda: np.bool_(True),
    "np_datetime64": lambda: np.datetime64("2020-01-01"),
    "date": lambda: dt.date(2024, 1, 1),
    "timestamp": lambda: pd.Timestamp("2024-01-01"),
}

PARAMS: dict[str, dict[Any, Any]] = {
    "scalars": {"temperature": 0.5, "stops": ["a", "b"], "n": 3, "sample": True},
    "numpy_scalars": {
        "i": np.int32(1),
        "f": np.float32(0.5),
        "l": np.int64(5),
        "b": np.bool_(True),
        "s": np.str_("x"),
    },
    "narrow_numpy_scalars": {"u": np.uint8(1), "h": np.float16(1)},
    "int_and_float_list": {"a": [1, 2.5]},
    "int_and_str_list": {"a": [1, "x"]},
    "list_with_none": {"a": [1, None]},
    "empty_list": {"a": []},
    "nested_list": {"a": [[1]]},
    "numpy_arrays": {"a": np.array([1, 2]), "b": np.array([1, 2], dtype=np.int32), "c": [np.float32(1.5)]},
    "bool_list": {"a": [True, False]},
    "uint64_list": {"a": [2**63]},
    "tuple": {"a": (1, 2)},
    "none": {"a": None},
    "bytes": {"a": b"x"},
    "bytes_list": {"a": [b"x"]},
    "complex": {"a": 1j},
    "decimal": {"a": decimal.Decimal("1.5")},
    "big_int": {"a": 2**70},
    "dict": {"a": {"k": 1, "j": "s"}},
    "nested_dict": {"a": {"k": {"z": [1, 2]}}},
    "empty_dict": {"a": {}},
    "dict_of_arrays": {"a": {"k": np.array([1])}},
    "dict_of_dates": {"a": {"k": dt.date(2020, 1, 1)}},
    "dict_of_numpy_scalars": {"a": {"k": np.int32(1)}},
    "dict_with_missing_values": {"a": {"k": None, "n": float("nan"), "e": [], "o": {"z": None}}},
    "dict_of_records": {"a": {"k": [{"x": 1}, {"y": 2}], "l": [[1]]}},
    "datetimes": {
        "dt": dt.datetime(2024, 1, 1, 12),
        "d": dt.date(2024, 1, 1),
        "np": np.datetime64("2020-01-01"),
    },
    "datetime_lists": {"a": [dt.date(2024, 1, 1)], "b": [dt.date(2020, 1, 1), dt.datetime(2020, 1, 1, 5)]},
    "nanosecond_datetime": {"a": np.datetime64("2020-01-01T00:00:00.000000001")},
    "int_key": {1: 2},
}


@pytest.fixture(scope="module")
def mlflow_inference() -> Any:
    pytest.importorskip("mlflow")
    from mlflow.models import infer_signature as mlflow_infer_signature
    from mlflow.types.utils import _infer_schema

    return _infer_schema, mlflow_infer_signature


def _quietly(fn: Callable[[], Any]) -> Any:
    """MLflow's answer (or the exception it raises), warnings and logs silenced as in a user's process."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.CRITICAL)
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - the refusal is the answer being compared
            return exc
        finally:
            logging.disable(logging.NOTSET)


@pytest.mark.parametrize("case", list(EXAMPLES))
def test_infer_schema_matches_mlflow(mlflow_inference: Any, case: str) -> None:
    mlflow_infer_schema, _ = mlflow_inference
    theirs = _quietly(lambda: mlflow_infer_schema(EXAMPLES[case]()).to_json())
    if isinstance(theirs, Exception):
        with pytest.raises(InvalidParameterError):
            infer_schema(EXAMPLES[case]())
    else:
        assert infer_schema(EXAMPLES[case]()).to_json() == theirs


@pytest.mark.parametrize("case", list(EXAMPLES))
def test_infer_signature_matches_mlflow(mlflow_inference: Any, case: str) -> None:
    """Where MLflow cannot type an input or output, its signature is one ``any`` column, and so is ours."""
    _, mlflow_infer_signature = mlflow_inference
    example = EXAMPLES[case]
    theirs = _quietly(lambda: mlflow_infer_signature(example(), example()).to_dict())
    assert infer_signature(example(), example()).to_dict() == theirs


@pytest.mark.parametrize("case", list(PARAMS))
def test_params_schema_matches_mlflow(mlflow_inference: Any, case: str) -> None:
    _, mlflow_infer_signature = mlflow_inference
    theirs = _quietly(lambda: mlflow_infer_signature(params=PARAMS[case]).to_dict()["params"])
    if isinstance(theirs, Exception):
        with pytest.raises(InvalidParameterError, match="Failed to infer schema for parameters"):
            infer_signature(params=PARAMS[case])
    else:
        assert infer_signature(params=PARAMS[case]).to_dict()["params"] == theirs


_SCALARS: list[Callable[[], Any]] = [
    lambda: 1, lambda: 2.5, lambda: "s", lambda: True, lambda: None, lambda: float("nan"), lambda: b"b",
    lambda: np.int32(3), lambda: np.float32(1.5), lambda: np.int64(4), lambda: dt.date(2020, 1, 1),
]  # fmt: skip


def _random_example(rng: random.Random) -> Any:
    """Nested lists, dicts, arrays and object columns built from two kinds of scalars (plus None and NaN
    often enough that merges, optional properties and ``any`` all get exercised)."""
    pool = rng.sample(_SCALARS, 2)

    def value(depth: int) -> Any:
        r = rng.random()
        if depth > 2 or r < 0.5:
            return rng.choice(pool)()
        if r < 0.7:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        if r < 0.75:
            return np.array([rng.choice([1, 2])] * rng.randint(0, 2))
        return {k: value(depth + 1) for k in rng.sample("abc", rng.randint(0, 3))}

    r = rng.random()
    if r < 0.3:
        return [value(1) for _ in range(rng.randint(1, 4))]
    if r < 0.55:
        return [{k: value(1) for k in rng.sample("abc", rng.randint(0, 3))} for _ in range(rng.randint(1, 4))]
    if r < 0.75:
        return {k: value(1) for k in rng.sample("abc", rng.randint(1, 3))}
    rows = rng.randint(1, 3)
    columns = rng.sample("abc", rng.randint(1, 3))
    return pd.DataFrame({k: pd.Series([value(2) for _ in range(rows)], dtype=object) for k in columns})


def test_random_nested_examples_match_mlflow(mlflow_inference: Any) -> None:
    mlflow_infer_schema, _ = mlflow_inference
    rng = random.Random(20240617)
    typed = 0
    for _ in range(1500):
        state = rng.getstate()
        theirs = _quietly(lambda: mlflow_infer_schema(_random_example(rng)).to_json())
        rng.setstate(state)
        example = _random_example(rng)
        try:
            ours: Any = infer_schema(example).to_json()
        except InvalidParameterError:
            ours = None
        assert ours == (None if isinstance(theirs, Exception) else theirs), repr(example)
        typed += ours is not None
    assert typed > 500  # enough examples that MLflow could type, not only refusals


def test_labels_are_kept_as_mlflow_writes_them() -> None:
    """Column labels stay as they are in the JSON (``0``, ``1.5``); Bakehouse matches on the string."""
    schema = infer_schema(pd.DataFrame({0: [1], 1.5: [2.0], "c": ["x"]}))
    assert schema.to_json() == (
        '[{"type": "long", "name": 0, "required": true}, {"type": "double", "name": 1.5, "required": true}, '
        '{"type": "string", "name": "c", "required": true}]'
    )
    assert schema.input_names() == ["0", "1.5", "c"]
    assert Schema.from_json(schema.to_json()) == schema
    # a label JSON cannot hold is written as its string form (MLflow's own to_json raises here)
    stamped = infer_schema(pd.DataFrame({pd.Timestamp("2020-01-01"): [1]}))
    assert json.loads(stamped.to_json())[0]["name"] == "2020-01-01 00:00:00"


def test_named_tensor_json_puts_the_name_first() -> None:
    schema = infer_schema({"a": np.array(["x"]), "b": np.zeros((2, 3), dtype=np.float32)})
    assert schema.to_json() == (
        '[{"name": "a", "type": "tensor", "tensor-spec": {"dtype": "str", "shape": [-1]}}, '
        '{"name": "b", "type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 3]}}]'
    )


def test_signature_falls_back_to_any_where_mlflow_does(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="bakehouse.models.signature"):
        sig = infer_signature(pd.DataFrame({"u": np.array([1], dtype=np.uint64)}), [1, "x"])
    assert sig.to_dict()["inputs"] == sig.to_dict()["outputs"] == '[{"type": "any", "required": true}]'
    assert "Failed to infer schema for inputs" in caplog.text
    with pytest.raises(InvalidParameterError, match="Unsupported numpy data type 'uint64'"):
        infer_schema(pd.DataFrame({"u": np.array([1], dtype=np.uint64)}))
    with pytest.raises(InvalidParameterError, match="At least one of inputs, outputs or params"):
        infer_signature()


@pytest.mark.parametrize("case", ["df_dtypes", "df_int_labels", "dict_of_arrays", "records", "dict_nested"])
def test_mlflow_signatures_read_back_identically(mlflow_inference: Any, case: str) -> None:
    """An MLmodel ``signature:`` block written by MLflow is read by Bakehouse and written back unchanged,
    and the other way round."""
    _, mlflow_infer_signature = mlflow_inference
    from mlflow.models import ModelSignature as MlflowSignature

    example = EXAMPLES[case]
    params = {"k": 3, "when": dt.datetime(2024, 1, 1), "opts": {"beam": True}, "stops": ["a"]}
    theirs = _quietly(lambda: mlflow_infer_signature(example(), example(), params=params).to_dict())
    assert ModelSignature.from_dict(theirs).to_dict() == theirs
    ours = infer_signature(example(), example(), params=params).to_dict()
    assert ours == theirs
    assert _quietly(lambda: MlflowSignature.from_dict(ours).to_dict()) == ours


@functools.cache
def _iris_examples() -> dict[str, tuple[Any, Any, Callable[[Any], Any]]]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LinearRegression, LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    by_name = LogisticRegression(max_iter=300).fit(X, y)
    by_position = LogisticRegression(max_iter=300).fit(X.to_numpy(), y)
    two_outputs = LinearRegression().fit(X.to_numpy(), np.c_[y, y])
    return {
        "frame": (by_name, X[:5], by_name.predict),
        "frame_float32": (by_name, X[:5].astype(np.float32), by_name.predict),
        "int_labels": (by_position, pd.DataFrame(X.to_numpy()[:5]), by_position.predict),
        "array": (by_position, X.to_numpy()[:5], by_position.predict),
        "array_two_outputs": (two_outputs, X.to_numpy()[:5], two_outputs.predict),
        "records": (by_name, X[:3].to_dict(orient="records"), lambda r: by_name.predict(pd.DataFrame(r))),
        "unscorable": (by_name, X[:3].to_dict(orient="list"), by_name.predict),
        "untypable": (by_position, [[1, "x"]], by_position.predict),
    }


_IRIS_CASES = ["frame", "frame_float32", "int_labels", "array", "array_two_outputs", "records"]


@pytest.mark.parametrize("case", [*_IRIS_CASES, "unscorable", "untypable"])
def test_log_model_signature_matches_mlflow(mlflow_inference: Any, case: str) -> None:
    """What ``mlflow.<flavor>.log_model`` writes for an input example: column inputs give a column output,
    and an example it cannot type or score gives no signature at all."""
    pytest.importorskip("sklearn")
    from mlflow.models.signature import _infer_signature_from_input_example
    from mlflow.models.utils import _Example

    model, example, predict = _iris_examples()[case]

    class Wrapped:
        def predict(self, data: Any, params: Any = None) -> Any:
            return model.predict(data)

    theirs = _quietly(lambda: _infer_signature_from_input_example(_Example(example), Wrapped()))
    ours = infer_signature_from_example(example, predict)
    assert (ours.to_dict() if ours else None) == (theirs.to_dict() if theirs else None)


@pytest.mark.parametrize(
    "case",
    ["df_dtypes", "df_narrow_ints", "df_int_and_none_object", "df_int_labels", "df_all_none", "np_str_2d"],
)
def test_inferred_signature_enforces_its_own_example(case: str) -> None:
    """Types that changed for MLflow parity (``integer`` for uint8, ``str`` tensors, ``any`` columns, labels)
    are ones predict-time enforcement accepts for the data they were inferred from."""
    from bakehouse.models.enforcement import enforce_schema

    example = EXAMPLES[case]()
    enforced = enforce_schema(example, infer_schema(example))
    if isinstance(example, np.ndarray):
        assert enforced.dtype == example.dtype
    else:
        assert len(enforced.columns) == len(example.columns)
