"""Entity <-> MLflow JSON conversion and the proto-JSON scalar conventions."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from bakehouse.entities import Experiment, FileInfo, LoggedModel, Metric, Run, RunData, RunInfo
from bakehouse.entities.run import DatasetInput, ModelOutput, RunInputs, RunOutputs
from bakehouse.wire import json as wj
from bakehouse.wire.tracking_messages import LogBatch, LogMetric, SearchRuns


@pytest.mark.parametrize(
    "value, wire", [(1.5, 1.5), (math.inf, "Infinity"), (-math.inf, "-Infinity"), (0.0, 0.0), (-2.0, -2.0)]
)
def test_doubles_travel_as_proto_json(value: float, wire: object) -> None:
    assert wj.float_to_json(value) == wire
    assert wj.float_from_json(wire) == value


def test_nan_travels_as_the_string_nan() -> None:
    assert wj.float_to_json(math.nan) == "NaN"
    assert math.isnan(wj.float_from_json("NaN"))


@pytest.mark.parametrize("bad", [True, "abc", None, [1]])
def test_non_numbers_are_not_doubles(bad: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        wj.float_from_json(bad)


def test_experiment_round_trip_omits_empty_fields() -> None:
    exp = Experiment("7", "bread", "mlflow-artifacts:/7", "active", 10, 20, {"a": "b"})
    data = wj.experiment_to_json(exp)
    assert data == {
        "experiment_id": "7",
        "name": "bread",
        "artifact_location": "mlflow-artifacts:/7",
        "lifecycle_stage": "active",
        "last_update_time": 20,
        "creation_time": 10,
        "tags": [{"key": "a", "value": "b"}],
    }
    assert wj.experiment_from_json(data) == exp
    assert "tags" not in wj.experiment_to_json(Experiment("1", "x", "loc"))


def test_run_round_trip_with_nan_metric_inputs_and_outputs() -> None:
    run = Run(
        info=RunInfo("r1", "3", "name", "me", "FINISHED", 1, 2, "s3://b/r1/artifacts"),
        data=RunData(
            metrics={"loss": math.nan},
            params={"p": "1"},
            tags={"t": "v"},
            metric_points=[Metric("loss", math.nan, 5, 2)],
        ),
        inputs=RunInputs(
            dataset_inputs=[DatasetInput("iris", "abc", "local", "/d", tags={"ctx": "train"})],
            model_inputs=["m-1"],
        ),
        outputs=RunOutputs(model_outputs=[ModelOutput("m-2", 4)]),
    )
    data = wj.run_to_json(run)
    assert data["info"]["run_uuid"] == data["info"]["run_id"] == "r1"
    assert data["data"]["metrics"] == [{"key": "loss", "value": "NaN", "timestamp": 5, "step": 2}]
    assert data["inputs"]["dataset_inputs"][0]["dataset"]["name"] == "iris"
    assert data["outputs"] == {"model_outputs": [{"model_id": "m-2", "step": 4}]}
    back = wj.run_from_json(data)
    assert back.info == run.info
    assert back.data.params == {"p": "1"} and back.data.tags == {"t": "v"}
    assert math.isnan(back.data.metrics["loss"])
    assert back.inputs.dataset_inputs[0].tags == {"ctx": "train"}
    assert back.inputs.model_inputs == ["m-1"]
    assert back.outputs.model_outputs == [ModelOutput("m-2", 4)]


def test_logged_model_shape_matches_mlflow() -> None:
    model = LoggedModel(
        "m-1",
        "2",
        "model",
        "mlflow-artifacts:/2/models/m-1/artifacts",
        100,
        200,
        "LOGGED_MODEL_READY",
        source_run_id="r",
        tags={"a": "b"},
        params={"p": "q"},
        metrics=[Metric("acc", 0.5, 1, 0, run_id="r")],
    )
    data = wj.logged_model_to_json(model)
    assert data["info"]["creation_timestamp_ms"] == 100
    assert data["info"]["artifact_uri"] == model.artifact_location
    assert data["data"]["metrics"] == [{"key": "acc", "value": 0.5, "timestamp": 1, "step": 0, "run_id": "r"}]
    assert wj.logged_model_from_json(data) == model


def test_file_info_directories_carry_no_size() -> None:
    assert wj.file_info_to_json(FileInfo("d", True, 4096)) == {"path": "d", "is_dir": True}
    assert wj.file_info_to_json(FileInfo("f", False, 3)) == {"path": "f", "is_dir": False, "file_size": 3}
    assert wj.file_info_from_json({"path": "f", "is_dir": False, "file_size": "3"}) == FileInfo("f", False, 3)


def test_messages_accept_proto_json_spellings_and_ignore_unknown_fields() -> None:
    req = LogMetric.model_validate(
        {
            "run_uuid": "r",
            "key": "k",
            "value": "-Infinity",
            "timestamp": "1700000000000",
            "step": "3",
            "extra": 1,
        }
    )
    assert req.resolved_run_id() == "r"
    assert req.value == -math.inf and req.timestamp == 1_700_000_000_000 and req.step == 3
    assert SearchRuns.model_validate({"experiment_ids": ["1", "2"]}).experiment_ids == ["1", "2"]


@pytest.mark.parametrize(
    "body",
    [{"experiment_ids": [1, "2"]}, {"experiment_ids": ["1\x002"]}, {"page_token": 5}],
)
def test_ids_are_strings_as_in_mlflows_protocol(body: dict[str, object]) -> None:
    """A number where the protocol has a string is refused (MLflow answers 400), not converted."""
    with pytest.raises(ValidationError):
        SearchRuns.model_validate(body)


@pytest.mark.parametrize(
    "metric",
    [
        {"key": "k", "value": True, "timestamp": 1},
        {"key": "k", "value": "abc", "timestamp": 1},
        {"key": "k", "value": 1.0, "timestamp": True},
        {"key": "k", "value": 1.0, "timestamp": 1, "step": 2**63},
        {"key": "k", "value": 1.0, "timestamp": 1.5},
        {"key": 5, "value": 1.0, "timestamp": 1},
    ],
)
def test_wrong_types_are_refused_not_coerced(metric: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        LogBatch.model_validate({"run_id": "r", "metrics": [metric]})
