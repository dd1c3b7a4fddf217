"""The scoring app in-process (httpx.ASGITransport): every input format, errors, limits, hot swap."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

import bakehouse.pyfunc
from bakehouse.serving.app import INLINE_AFTER_FAST, INLINE_MAX_BODY_BYTES, ModelHolder, create_scoring_app

COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


@pytest.fixture(scope="module")
def holder(sklearn_model_dir: Path) -> ModelHolder:
    return ModelHolder(bakehouse.pyfunc.load_model(str(sklearn_model_dir)), str(sklearn_model_dir))


async def _post(app: Any, body: bytes | str, content_type: str = "application/json") -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post("/invocations", content=body, headers={"content-type": content_type})


def _expected(iris_lr: Any, rows: list[list[float]]) -> list[int]:
    return iris_lr.predict(pd.DataFrame(rows, columns=COLUMNS)).tolist()


ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]


INT_ROWS = [[int(v) for v in r] for r in ROWS]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("payload", "rows"),
    [
        ({"dataframe_split": {"columns": COLUMNS, "data": ROWS}}, ROWS),
        ({"dataframe_split": {"columns": COLUMNS, "data": INT_ROWS}}, INT_ROWS),
        ({"dataframe_records": [dict(zip(COLUMNS, r)) for r in ROWS]}, ROWS),
        ({"instances": ROWS}, ROWS),
        ({"instances": [dict(zip(COLUMNS, r)) for r in ROWS]}, ROWS),
        ({"inputs": ROWS}, ROWS),
        ({"inputs": {c: [r[i] for r in ROWS] for i, c in enumerate(COLUMNS)}}, ROWS),
    ],
    ids=["split", "split-ints", "records", "instances", "instances-dicts", "inputs-rows", "inputs-columns"],
)
async def test_json_formats(
    holder: ModelHolder, iris_lr: Any, payload: dict[str, Any], rows: list[list[float]]
) -> None:
    response = await _post(create_scoring_app(holder), json.dumps(payload))
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": _expected(iris_lr, rows)}
    assert response.headers["x-bakehouse-model"] == holder.current.uri


@pytest.mark.anyio
async def test_csv_and_parquet(holder: ModelHolder, iris_lr: Any) -> None:
    frame = pd.DataFrame(ROWS, columns=COLUMNS)
    response = await _post(create_scoring_app(holder), frame.to_csv(index=False), "text/csv; charset=utf-8")
    assert response.json() == {"predictions": _expected(iris_lr, ROWS)}
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    response = await _post(create_scoring_app(holder), buffer.getvalue(), "application/vnd.apache.parquet")
    assert response.json() == {"predictions": _expected(iris_lr, ROWS)}


@pytest.mark.anyio
async def test_bad_payloads_are_400_with_clear_messages(holder: ModelHolder) -> None:
    app = create_scoring_app(holder)
    response = await _post(app, "{not json")
    assert response.status_code == 400 and response.json()["message"].startswith("Invalid JSON input")
    response = await _post(app, json.dumps({"columns": COLUMNS, "data": ROWS}))
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "BAD_REQUEST"
    assert "exactly one of the input fields" in body["message"] and "MLflow 2.0" in body["message"]
    response = await _post(
        app, json.dumps({"dataframe_split": {"columns": COLUMNS[:3], "data": [r[:3] for r in ROWS]}})
    )
    assert response.status_code == 400
    assert response.json()["message"] == (
        "Invalid input. Data is not compatible with model signature. Model is missing inputs ['petal width (cm)']."
    )
    bad = [["x", 1.0, 1.0, 1.0]]
    response = await _post(app, json.dumps({"dataframe_split": {"columns": COLUMNS, "data": bad}}))
    assert response.status_code == 400
    assert "column sepal length (cm)" in response.json()["message"] and "double" in response.json()["message"]


@pytest.mark.anyio
async def test_unsupported_content_types_are_415(holder: ModelHolder) -> None:
    app = create_scoring_app(holder)
    for content_type in ("text/plain", "application/json; charset=latin-1", "application/xml"):
        response = await _post(app, "{}", content_type)
        assert response.status_code == 415, content_type
        assert response.headers["content-type"].startswith("text/plain")


@pytest.mark.anyio
async def test_body_limit_is_413(holder: ModelHolder) -> None:
    app = create_scoring_app(holder, max_body_bytes=100)
    payload = json.dumps({"dataframe_split": {"columns": COLUMNS, "data": ROWS * 10}})
    response = await _post(app, payload)
    assert response.status_code == 413
    assert "larger than the limit of 100 bytes" in response.json()["message"]


class _Slow:
    metadata = None

    def predict(self, data: Any, params: Any = None) -> Any:
        time.sleep(1.0)
        return [1]


@pytest.mark.anyio
async def test_timeout_is_504() -> None:
    app = create_scoring_app(ModelHolder(_Slow(), "slow"), timeout=0.2)
    start = time.perf_counter()
    response = await _post(app, json.dumps({"inputs": [1]}))
    assert response.status_code == 504
    assert response.json() == {
        "error_code": "DEADLINE_EXCEEDED",
        "message": "Prediction timed out after 0.2 s",
    }
    assert time.perf_counter() - start < 0.9


class _Constant:
    metadata = None

    def __init__(self, value: int) -> None:
        self.value = value

    def predict(self, data: Any, params: Any = None) -> Any:
        return [self.value] * len(data)


@pytest.mark.anyio
async def test_ping_version_and_atomic_swap() -> None:
    holder = ModelHolder(_Constant(1), "models:/iris@champion", "1")
    app = create_scoring_app(holder)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.get("/ping")).text == "\n"
        assert (await client.get("/health")).status_code == 200
        before = (await client.get("/version")).json()
        assert before["model_uri"] == "models:/iris@champion" and before["model_version"] == "1"
        first = await client.post("/invocations", json={"inputs": [0, 0]})
        assert first.json() == {"predictions": [1, 1]} and first.headers["x-bakehouse-model-version"] == "1"
        previous = holder.swap(_Constant(2), "2")
        assert previous.version == "1"
        second = await client.post("/invocations", json={"inputs": [0, 0]})
        assert second.json() == {"predictions": [2, 2]} and second.headers["x-bakehouse-model-version"] == "2"
        assert (await client.get("/version")).json()["model_version"] == "2"
        assert (await client.get("/invocations")).status_code == 405


class _ThreadRecorder:
    """Answers at once, or after ``delay`` seconds when asked for ``[-1]``; records the thread it ran on."""

    metadata = None

    def __init__(self) -> None:
        self.threads: list[str] = []

    def predict(self, data: Any, params: Any = None) -> Any:
        self.threads.append(threading.current_thread().name)
        if list(data) == [-1]:
            time.sleep(0.3)
        return [0] * len(data)


@pytest.mark.anyio
async def test_small_requests_to_a_proven_fast_model_skip_the_worker_thread() -> None:
    model = _ThreadRecorder()
    app = create_scoring_app(ModelHolder(model, "fast"), timeout=0.2)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for _ in range(INLINE_AFTER_FAST + 2):
            answer = await client.post("/invocations", json={"inputs": [1]})
            assert answer.json() == {"predictions": [0]}
        assert all(t.startswith("bakehouse-predict") for t in model.threads[:INLINE_AFTER_FAST])
        assert model.threads[-1] == threading.current_thread().name  # the event loop's thread
        # a slow prediction run inline cannot be cut off, but still answers 504, and sends requests back
        # to the worker thread
        slow = await client.post("/invocations", json={"inputs": [-1]})
        assert slow.status_code == 504 and slow.json()["error_code"] == "DEADLINE_EXCEEDED"
        await client.post("/invocations", json={"inputs": [1]})
        assert model.threads[-1].startswith("bakehouse-predict")
        # a large body never runs inline
        big = await client.post("/invocations", json={"inputs": [1] * (INLINE_MAX_BODY_BYTES // 2)})
        assert big.status_code == 200 and model.threads[-1].startswith("bakehouse-predict")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_matrix_fast_path_matches_general_path(sklearn_model_dir: Path, iris_lr: Any) -> None:
    from bakehouse.serving.app import predict_body
    from bakehouse.serving.server import load_for_serving

    holder = load_for_serving(str(sklearn_model_dir))
    fast = holder.current.fast
    assert fast is not None and fast.columns == COLUMNS
    model = holder.current.model
    bodies = [
        {"dataframe_split": {"columns": COLUMNS, "data": ROWS}},
        {"dataframe_split": {"columns": COLUMNS, "data": INT_ROWS}},
        {"instances": ROWS},
        {"inputs": ROWS},
    ]
    for payload in bodies:
        body = json.dumps(payload).encode()
        assert fast.try_predict(payload) is not None
        assert predict_body(model, body, "application/json", fast) == predict_body(
            model, body, "application/json"
        )
    # anything that is not a plain numeric matrix in the signature's column order takes the general path
    assert fast.try_predict({"dataframe_split": {"columns": COLUMNS[::-1], "data": ROWS}}) is None
    assert fast.try_predict({"dataframe_split": {"columns": COLUMNS, "data": [["5.1", 1, 1, 1]]}}) is None
    assert fast.try_predict({"dataframe_split": {"columns": COLUMNS, "data": [[True, 1, 1, 1]]}}) is None
    assert fast.try_predict({"dataframe_split": {"columns": COLUMNS, "data": [[None, 1, 1, 1]]}}) is None
    assert fast.try_predict({"instances": ROWS, "params": {"a": 1}}) is None
    from bakehouse.models.enforcement import SchemaEnforcementError

    with pytest.raises(SchemaEnforcementError, match="sepal length"):
        predict_body(
            model,
            json.dumps({"dataframe_split": {"columns": COLUMNS, "data": [["x", 1, 1, 1]]}}).encode(),
            "application/json",
            fast,
        )
    # the plain pyfunc loader keeps sklearn's DataFrame path (no process-wide warning filters)
    assert ModelHolder(bakehouse.pyfunc.load_model(str(sklearn_model_dir)), "x").current.fast is None
