"""``bakehouse.data.from_pandas`` records what ``mlflow.data.from_pandas`` records, field for field."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

import bakehouse.data as bd
from bakehouse.errors import InvalidParameterError

pytestmark = pytest.mark.timeout(120)

_rng = np.random.default_rng(7)
_BIG = 25_000  # more than the 10,000 rows MLflow hashes

FRAMES: dict[str, Callable[[], pd.DataFrame]] = {
    "ints": lambda: pd.DataFrame({"a": [1, 2, 3], "b": [4, 5, 6]}),
    "narrow_ints": lambda: pd.DataFrame(
        {
            "i32": np.array([1, 2], dtype=np.int32),
            "i8": np.array([1, 2], dtype=np.int8),
            "u8": np.array([1, 2], dtype=np.uint8),
            "u32": np.array([1, 2], dtype=np.uint32),
        }
    ),
    "floats": lambda: pd.DataFrame({"a": [1.0, 2.5], "f32": np.array([1, 2], dtype=np.float32)}),
    "strings": lambda: pd.DataFrame({"s": ["x", "y", "z"]}),
    "mixed_with_nan": lambda: pd.DataFrame({"a": [1.0, np.nan], "s": ["x", None], "i": [1, 2]}),
    "iris_like": lambda: pd.DataFrame(
        {"sepal_length": [5.1, 4.9, 6.3], "label": ["setosa", "setosa", "virginica"]}
    ),
    "empty": lambda: pd.DataFrame(),
    "empty_with_columns": lambda: pd.DataFrame(columns=["a", "b"]),
    "empty_rows_typed": lambda: pd.DataFrame(
        {"a": pd.Series([], dtype="int64"), "s": pd.Series([], dtype=object)}
    ),
    "large": lambda: pd.DataFrame(
        {"x": _rng.normal(size=_BIG), "s": [f"r{i}" for i in range(_BIG)], "i": np.arange(_BIG)}
    ),
    "large_string_column_broken_after_10k": lambda: pd.DataFrame({"o": ["a"] * 10_005 + [1]}),
    "from_ndarray_int_labels": lambda: pd.DataFrame(_rng.normal(size=(5, 3))),
    "float_and_tuple_labels": lambda: pd.DataFrame({1.5: [1], ("a", "b"): [2]}),
    "bool_and_datetimes": lambda: pd.DataFrame(
        {
            "b": [True, False],
            "d": pd.to_datetime(["2020-01-01", "2020-01-02"]),
            "tz": pd.to_datetime(["2020-01-01", "2020-01-02"]).tz_localize("UTC"),
        }
    ),
    "nested": lambda: pd.DataFrame(
        {"l": [[1, 2], [3]], "d": [{"a": 1}, {"a": 2}], "arr": [np.array([1.0]), np.array([2.0])]}
    ),
    "all_missing_object": lambda: pd.DataFrame({"o": [None, None], "a": [1, 2]}),
    "object_ints_with_none": lambda: pd.DataFrame({"o": pd.Series([1, None], dtype=object)}),
    "mixed_object_no_schema": lambda: pd.DataFrame({"o": [1, "x"]}),
    "uint64_no_schema": lambda: pd.DataFrame({"o": np.array([1], dtype=np.uint64)}),
    "timedelta_no_schema": lambda: pd.DataFrame({"t": pd.to_timedelta([1, 2], unit="s")}),
    "duplicate_labels": lambda: pd.DataFrame([[1, 2]], columns=["a", "a"]),
    "extension_dtypes": lambda: pd.DataFrame(
        {
            "c": pd.Categorical(["a", "b"]),
            "s": pd.array(["a", None], dtype="string"),
            "n": pd.array([1, None], dtype="Int64"),
            "f": pd.array([1.0, None], dtype="Float64"),
        }
    ),
    "bytes": lambda: pd.DataFrame({"b": [b"x", b"y"]}),
}


class _QuietMlflowData:
    """``mlflow.data`` with warnings ignored around each call, as in a user's process: with warnings as
    errors (this suite's setting) a pandas deprecation inside MLflow's inference turns its schema to None."""

    def __init__(self, module: Any) -> None:
        self._module = module

    def from_pandas(self, *args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = self._module.from_pandas(*args, **kwargs)
            ds.to_dict()  # computes the cached schema under the same filter
        return ds


@pytest.fixture
def mlflow_data() -> Any:
    pytest.importorskip("mlflow")
    import mlflow.data

    return _QuietMlflowData(mlflow.data)


def _both(mlflow_data: Any, df: pd.DataFrame, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    return mlflow_data.from_pandas(df, **kwargs).to_dict(), bd.from_pandas(df, **kwargs).to_dict()


@pytest.mark.parametrize("case", list(FRAMES))
def test_frame_is_recorded_as_mlflow_records_it(mlflow_data: Any, case: str) -> None:
    df = FRAMES[case]()
    theirs, ours = _both(mlflow_data, df, source="/data/train.csv")
    assert ours == theirs
    assert list(ours) == list(theirs)  # same keys, same order


@pytest.mark.parametrize("case", ["ints", "mixed_with_nan", "large"])
def test_named_dataset_with_targets_and_predictions(mlflow_data: Any, case: str) -> None:
    df = FRAMES[case]()
    targets, predictions = df.columns[0], df.columns[-1]
    theirs, ours = _both(
        mlflow_data,
        df,
        name="iris",
        targets=targets,
        predictions=predictions,
        source="s3://bucket/iris.parquet",
    )
    assert ours == theirs
    ds = bd.from_pandas(df, name="iris", targets=targets, predictions=predictions)
    assert (ds.name, ds.targets, ds.predictions) == ("iris", targets, predictions)
    assert ds.df is df


def test_defaults_name_dataset_and_digest_of_the_data(mlflow_data: Any) -> None:
    df = FRAMES["iris_like"]()
    ours = bd.from_pandas(df)
    theirs = mlflow_data.from_pandas(df)
    assert ours.name == theirs.name == "dataset"
    assert ours.digest == theirs.digest
    assert len(ours.digest) == 8
    assert bd.from_pandas(df, digest="custom").digest == "custom"


def test_rows_after_the_first_10000_do_not_change_the_digest_but_the_row_count_does(mlflow_data: Any) -> None:
    df = FRAMES["large"]()
    changed = df.copy()
    changed.loc[20_000, "x"] = 123.0
    assert bd.from_pandas(changed).digest == bd.from_pandas(df).digest
    assert mlflow_data.from_pandas(changed).digest == mlflow_data.from_pandas(df).digest
    shorter = df.iloc[:-1]
    assert bd.from_pandas(shorter).digest != bd.from_pandas(df).digest
    assert bd.from_pandas(shorter).digest == mlflow_data.from_pandas(shorter).digest
    early = df.copy()
    early.loc[5, "x"] = 123.0
    assert bd.from_pandas(early).digest != bd.from_pandas(df).digest


def test_without_a_source_the_code_is_the_source(mlflow_data: Any) -> None:
    df = FRAMES["ints"]()
    ours = bd.from_pandas(df).source
    theirs = mlflow_data.from_pandas(df).source
    assert isinstance(ours, bd.CodeDatasetSource)
    assert ours.source_type == theirs._get_source_type() == "code"
    ours_tags, their_tags = ours.to_dict()["tags"], theirs.to_dict()["tags"]
    assert ours_tags["mlflow.user"] == their_tags["mlflow.user"]
    assert ours_tags["mlflow.source.type"] == their_tags["mlflow.source.type"]
    assert os.path.realpath(ours_tags["mlflow.source.name"]) == os.path.realpath(
        their_tags["mlflow.source.name"]
    )


def test_schema_and_profile_properties() -> None:
    df = FRAMES["mixed_with_nan"]()
    ds = bd.from_pandas(df)
    assert ds.profile == {"num_rows": 2, "num_elements": 6}
    assert ds.schema is not None
    assert [(s.name, s.type, s.required) for s in ds.schema.inputs] == [
        ("a", "double", False),
        ("s", "string", False),
        ("i", "long", True),
    ]
    assert bd.from_pandas(pd.DataFrame()).schema is None
    assert bd.from_pandas(pd.DataFrame()).to_dict()["schema"] is None


def test_dataset_input_carries_the_context_tag_after_the_given_tags() -> None:
    ds = bd.from_pandas(FRAMES["iris_like"](), name="iris", targets="label", source="/data/iris.csv")
    di = ds.to_dataset_input(context="training", tags={"split": "a", "mlflow.data.context": "overridden"})
    assert di.tags == {"split": "a", "mlflow.data.context": "training"}
    assert list(di.tags) == ["split", "mlflow.data.context"]
    d = ds.to_dict()
    assert (di.name, di.digest, di.source_type, di.source, di.schema, di.profile) == (
        "iris",
        d["digest"],
        "local",
        '{"uri": "/data/iris.csv"}',
        d["schema"],
        d["profile"],
    )
    assert ds.to_dataset_input().tags == {}
    assert ds.to_dataset_input(context="").tags == {}


def test_dataset_input_matches_mlflow_entity(mlflow_data: Any) -> None:
    from mlflow.tracking.fluent import _create_dataset_input

    df = FRAMES["iris_like"]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = _create_dataset_input(
            mlflow_data.from_pandas(df, name="iris", source="/d.csv"), "training", {"k": "v"}
        )
    ours = bd.from_pandas(df, name="iris", source="/d.csv").to_dataset_input("training", {"k": "v"})
    e = theirs.dataset
    assert (ours.name, ours.digest, ours.source_type, ours.source, ours.schema, ours.profile) == (
        e.name,
        e.digest,
        e.source_type,
        e.source,
        e.schema,
        e.profile,
    )
    assert list(ours.tags.items()) == [(t.key, t.value) for t in theirs.tags]


def test_missing_targets_or_predictions_column_is_refused() -> None:
    df = FRAMES["ints"]()
    with pytest.raises(InvalidParameterError, match="targets column 'nope'"):
        bd.from_pandas(df, targets="nope")
    with pytest.raises(InvalidParameterError, match="predictions column 'nope'"):
        bd.from_pandas(df, predictions="nope")
    with pytest.raises(InvalidParameterError, match="DataFrame"):
        bd.from_pandas([[1, 2]])


def test_to_json_is_the_dict() -> None:
    ds = bd.from_pandas(FRAMES["ints"](), source="/x.csv")
    assert json.loads(ds.to_json()) == ds.to_dict()
