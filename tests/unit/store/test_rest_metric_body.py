"""The REST store's metric JSON: finite doubles as numbers, the rest as MLflow's proto-JSON strings."""

from __future__ import annotations

import math

import pytest

from bakehouse.entities import Metric
from bakehouse.store.tracking.rest import _metric_body


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        (1.5, 1.5),
        (-0.0, -0.0),
        (1e308, 1e308),
        (math.nan, "NaN"),
        (math.inf, "Infinity"),
        (-math.inf, "-Infinity"),
        (3, 3),
    ],
)
def test_values_are_sent_as_mlflow_writes_them(value: float, sent: object) -> None:
    body = _metric_body(Metric("loss", value, 1_700_000_000_000, 7))
    assert body == {"key": "loss", "value": sent, "timestamp": 1_700_000_000_000, "step": 7}
    assert type(body["value"]) is type(sent)


def test_dataset_and_model_fields_are_sent_only_when_set() -> None:
    body = _metric_body(Metric("acc", 0.9, 1, 0, None, "train", "d1g3st", "m-1"))
    assert body == {
        "key": "acc",
        "value": 0.9,
        "timestamp": 1,
        "step": 0,
        "dataset_name": "train",
        "dataset_digest": "d1g3st",
        "model_id": "m-1",
    }
