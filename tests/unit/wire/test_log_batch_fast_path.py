"""The log-batch shortcut accepts only plain metrics and yields exactly what full validation yields."""

from __future__ import annotations

import math
from typing import Any

import pytest

from bakehouse.entities import Metric
from bakehouse.errors import InvalidParameterError
from bakehouse.server.routing import parse_request
from bakehouse.wire.tracking_messages import LogBatch

RUN = "a" * 32


def slow(data: dict[str, Any]) -> list[Metric]:
    return LogBatch.model_validate(data).metric_entities()


@pytest.mark.parametrize(
    "metrics",
    [
        [{"key": "loss", "value": 0.5, "timestamp": 1_700_000_000_000, "step": 3}],
        [{"key": "loss", "value": 2, "timestamp": 0}],  # int value, step defaults to 0
        [{"key": "k/with space", "value": -1e300, "timestamp": 2**63 - 1, "step": -(2**63)}],
        [{"key": f"k{i}", "value": i / 7, "timestamp": i, "step": i} for i in range(1000)],
        [],
    ],
)
def test_plain_batches_take_the_shortcut_with_identical_results(metrics: list[dict[str, Any]]) -> None:
    data = {"run_id": RUN, "metrics": metrics, "params": [], "tags": []}
    fast = LogBatch.fast_validate(data)
    assert fast is not None
    assert fast.metric_entities() == slow(data)
    assert all(type(m.value) is float for m in fast.metric_entities())


def test_run_uuid_alone_is_resolved_the_same_way() -> None:
    data = {"run_uuid": RUN, "metrics": [{"key": "m", "value": 1.0, "timestamp": 5}]}
    fast = LogBatch.fast_validate(data)
    assert fast is not None and fast.resolved_run_id() == RUN
    assert fast.metric_entities() == slow(data) == [Metric("m", 1.0, 5, 0, RUN)]


@pytest.mark.parametrize(
    "data",
    [
        {"run_id": RUN, "metrics": [{"key": "m", "value": "NaN", "timestamp": 1}]},  # proto-JSON special
        {"run_id": RUN, "metrics": [{"key": "m", "value": 1.0, "timestamp": "17"}]},  # int64 as a string
        {"run_id": RUN, "metrics": [{"key": "m", "value": True, "timestamp": 1}]},  # bool is not a number
        {
            "run_id": RUN,
            "metrics": [{"key": "m", "value": 1.0, "timestamp": 1, "step": 2**63}],
        },  # out of range
        {"run_id": RUN, "metrics": [{"key": "a\x00b", "value": 1.0, "timestamp": 1}]},  # NUL in a key
        {"run_id": RUN, "metrics": [{"key": "m", "value": 1.0}]},  # no timestamp
        {"run_id": RUN, "metrics": [{"key": "m", "value": 1.0, "timestamp": 1, "model_id": "x"}]},
        {"run_id": RUN, "metrics": {"key": "m"}},
        {"run_id": RUN, "metrics": ["m"]},
        {"run_id": 7, "metrics": []},
        {"metrics": [{"key": "m", "value": 1.0, "timestamp": 1}]},  # no run id
        {"run_id": RUN, "params": [{"key": "p", "value": "1"}]},
        {"run_id": RUN, "tags": [{"key": "t", "value": "1"}]},
        {"run_id": RUN, "metrics": [], "unknown_field": 1},
        {"run_id": RUN, "metrics": [], "params": {}},  # not a list: full validation refuses it
        {"run_id": RUN, "metrics": [], "tags": None},
    ],
)
def test_anything_else_goes_through_full_validation(data: dict[str, Any]) -> None:
    assert LogBatch.fast_validate(data) is None


def test_parse_request_words_the_error_of_a_refused_plain_looking_batch() -> None:
    data = {"run_id": RUN, "metrics": [{"key": "m", "value": True, "timestamp": 1}]}
    with pytest.raises(InvalidParameterError, match="metrics.0.value"):
        parse_request(LogBatch, data)


def test_parse_request_uses_the_shortcut_and_keeps_nonfinite_values_on_the_slow_path() -> None:
    parsed = parse_request(LogBatch, {"run_id": RUN, "metrics": [{"key": "m", "value": 1.5, "timestamp": 9}]})
    assert isinstance(parsed, LogBatch) and isinstance(parsed.metrics[0], Metric)
    slow_parsed = parse_request(
        LogBatch, {"run_id": RUN, "metrics": [{"key": "m", "value": "-Infinity", "timestamp": 9}]}
    )
    assert isinstance(slow_parsed, LogBatch)
    assert slow_parsed.metric_entities()[0].value == -math.inf
