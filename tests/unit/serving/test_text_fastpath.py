"""The text classifier's fast path answers exactly what the general path answers, or stands aside."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from flavor_cases import build_text_pipeline

pytest.importorskip("transformers")

import bakehouse as bh
from bakehouse.errors import BakehouseError
from bakehouse.serving.app import predict_body
from bakehouse.serving.fastpath import fast_path_for
from bakehouse.serving.text_fastpath import TextFastPath

TEXTS = ["good movie", "bad", "the movie is great"]


def _answer(model: Any, payload: Any, fast: Any) -> Any:
    """The response body, or the error the request is refused with (type and message)."""
    try:
        return predict_body(model, json.dumps(payload).encode(), "application/json", fast)
    except BakehouseError as exc:
        return (type(exc).__name__, str(exc))


@pytest.fixture(scope="module")
def pipeline() -> Any:
    return build_text_pipeline()


@pytest.fixture(scope="module", params=["unnamed", "named"])
def served(request: pytest.FixtureRequest, pipeline: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The pipeline saved with a one-string-column signature (unnamed as from a list, or named `text`)."""
    path = Path(tmp_path_factory.mktemp(request.param)) / "model"
    example = TEXTS[:2] if request.param == "unnamed" else pd.DataFrame({"text": TEXTS[:2]})
    bh.transformers.save_model(pipeline, str(path), input_example=example)
    return bh.pyfunc.load_model(str(path))


def test_every_shape_answers_as_the_general_path(served: Any) -> None:
    fast = fast_path_for(served)
    assert isinstance(fast, TextFastPath)
    column = fast.column
    payloads: list[Any] = [
        {"inputs": TEXTS[:1]},
        {"inputs": TEXTS},
        {"instances": TEXTS[1:]},
        {"dataframe_split": {"columns": [column or "0"], "data": [[t] for t in TEXTS]}},
        {"dataframe_records": [{column or "0": t} for t in TEXTS]},
        # not for the fast path: the general path decides (answers or refuses)
        {"inputs": [1, 2]},
        {"inputs": "good movie"},
        {"inputs": []},
        {"inputs": TEXTS[:1], "params": {"top_k": 2}},
        {"dataframe_split": {"columns": ["other"], "data": [["good"]]}},
        {"dataframe_records": [{"other": "good"}]},
    ]
    taken = 0
    for payload in payloads:
        taken += fast.try_predict(payload) is not None
        assert _answer(served, payload, fast) == _answer(served, payload, None), payload
    # one text without a list, as MLflow's scoring server takes it (this used to fail: "Must pass 2-d input")
    assert _answer(served, {"inputs": "good movie"}, None) == _answer(
        served, {"inputs": ["good movie"]}, None
    )
    # the unnamed signature has no column a dataframe_* body could name, so those go the general way
    assert taken == (5 if column else 3)


def test_the_fast_path_needs_a_text_classifier_and_a_one_string_signature(
    pipeline: Any, tmp_path: Path
) -> None:
    bh.transformers.save_model(pipeline, str(tmp_path / "none"))  # no signature
    assert fast_path_for(bh.pyfunc.load_model(str(tmp_path / "none"))) is None
    two_columns = pd.DataFrame({"a": TEXTS[:1], "b": TEXTS[:1]})
    bh.transformers.save_model(pipeline, str(tmp_path / "two"), input_example=two_columns)
    assert fast_path_for(bh.pyfunc.load_model(str(tmp_path / "two"))) is None
