"""``bakehouse.data.from_numpy`` records what ``mlflow.data.from_numpy`` records, field for field."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import bakehouse.data as bd
from bakehouse.errors import InvalidParameterError

pytestmark = pytest.mark.timeout(120)

_rng = np.random.default_rng(11)

Arrays = Any
CASES: dict[str, Callable[[], tuple[Arrays, Arrays]]] = {
    "1d": lambda: (np.arange(10), None),
    "2d": lambda: (_rng.normal(size=(4, 3)), None),
    "2d_with_targets": lambda: (_rng.normal(size=(4, 3)), np.array([0, 1, 0, 1])),
    "3d_float32": lambda: (_rng.normal(size=(2, 5, 4)).astype(np.float32), _rng.integers(0, 2, size=2)),
    "large": lambda: (_rng.normal(size=(5000, 5)), _rng.normal(size=5000)),
    "strings_and_bytes": lambda: (np.array([["a", "bb"], ["c", "d"]]), np.array([b"x", b"y"])),
    "bool_and_uint64": lambda: (np.array([True, False]), np.array([1, 2], dtype=np.uint64)),
    "object": lambda: (np.array([1, "a", None], dtype=object), None),
    "datetime": lambda: (np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[D]"), None),
    "empty": lambda: (np.array([]), None),
    "dict_features": lambda: ({"x": np.arange(3), "y": _rng.normal(size=(3, 2))}, np.arange(3)),
    "dict_features_and_targets": lambda: (
        {"b": np.arange(3), "a": np.ones((3, 2))},
        {"t2": np.zeros(3), "t1": np.ones(3)},
    ),
    "zero_dim_no_schema": lambda: (np.array(5), None),
}


def _mlflow_from_numpy(*args: Any, **kwargs: Any) -> Any:
    """MLflow as in a user's process (warnings are errors in this suite)."""
    pytest.importorskip("mlflow")
    import mlflow.data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = mlflow.data.from_numpy(*args, **kwargs)
        ds.to_dict()  # computes the cached schema under the same filter
    return ds


@pytest.mark.parametrize("case", list(CASES))
def test_arrays_are_recorded_as_mlflow_records_them(case: str) -> None:
    features, targets = CASES[case]()
    theirs = _mlflow_from_numpy(features, targets=targets, source="s3://bucket/train.npz").to_dict()
    ours = bd.from_numpy(features, targets=targets, source="s3://bucket/train.npz").to_dict()
    assert ours == theirs
    assert list(ours) == list(theirs)


def test_name_digest_and_defaults() -> None:
    features, targets = CASES["2d_with_targets"]()
    ours = bd.from_numpy(features, targets=targets, name="digits")
    theirs = _mlflow_from_numpy(features, targets=targets, name="digits")
    assert (ours.name, ours.digest) == (theirs.name, theirs.digest)
    assert bd.from_numpy(features).name == "dataset"
    assert bd.from_numpy(features, digest="abc").digest == "abc"
    assert ours.features is features and ours.targets is targets
    assert bd.from_numpy(features, targets=targets).digest != bd.from_numpy(features).digest


def test_elements_after_the_first_10000_do_not_change_the_digest_but_the_shape_does() -> None:
    features = _rng.normal(size=(5000, 5))
    changed = features.copy()
    changed[4000, 0] = 1.0  # flattened index 20000
    assert bd.from_numpy(changed).digest == bd.from_numpy(features).digest
    assert _mlflow_from_numpy(changed).digest == _mlflow_from_numpy(features).digest
    assert bd.from_numpy(features[:-1]).digest == _mlflow_from_numpy(features[:-1]).digest
    assert bd.from_numpy(features[:-1]).digest != bd.from_numpy(features).digest


def test_profile_and_schema_properties() -> None:
    ds = bd.from_numpy({"x": np.ones((3, 2)), "y": np.arange(3)}, targets=np.arange(3, dtype=np.int32))
    assert ds.profile == {
        "features_shape": {"x": (3, 2), "y": (3,)},
        "features_size": {"x": 6, "y": 3},
        "features_nbytes": {"x": 48, "y": 24},
        "targets_shape": (3,),
        "targets_size": 3,
        "targets_nbytes": 12,
    }
    schema = json.loads(ds.to_dict()["schema"])["mlflow_tensorspec"]
    assert json.loads(schema["features"]) == [
        {"name": "x", "type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 2]}},
        {"name": "y", "type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}},
    ]
    assert json.loads(schema["targets"]) == [
        {"type": "tensor", "tensor-spec": {"dtype": "int32", "shape": [-1]}}
    ]
    assert bd.from_numpy(np.array(1.0)).schema is None


def test_dataset_input_has_the_context_tag() -> None:
    di = bd.from_numpy(np.arange(3), source="/data/x.npy").to_dataset_input(context="training")
    assert di.tags == {"mlflow.data.context": "training"}
    assert (di.source_type, di.source) == ("local", '{"uri": "/data/x.npy"}')


def test_non_arrays_are_refused() -> None:
    with pytest.raises(InvalidParameterError, match="features"):
        bd.from_numpy([1, 2, 3])
    with pytest.raises(InvalidParameterError, match="targets"):
        bd.from_numpy(np.arange(3), targets={"t": [1, 2, 3]})
    with pytest.raises(InvalidParameterError):
        bd.from_numpy({})  # nothing to hash, as in MLflow
