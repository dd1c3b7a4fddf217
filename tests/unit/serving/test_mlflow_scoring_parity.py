"""The scoring server answers requests as MLflow's does: the same bodies go to our app and to the real
``mlflow`` scoring server's ``invocations`` (in-process), and the answers are compared.

The models are MLflow code models that echo what they receive (column types and values, params), so a
difference in parsing shows up as a different answer, not only as a different status.
"""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pytest
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.pyfunc.scoring_server import invocations as mlflow_invocations
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema, TensorSpec
from starlette.testclient import TestClient

import bakehouse.pyfunc
from bakehouse.models.trust import PickleWarning
from bakehouse.serving.app import ModelHolder, create_scoring_app

# MLflow suggests type hints for every PythonModel without them; the echo model keeps the plain signature
pytestmark = pytest.mark.filterwarnings("ignore:.*Add type hints:UserWarning")

ECHO = textwrap.dedent(
    """
    import mlflow
    import numpy as np
    import pandas as pd


    def plain(value):
        if isinstance(value, (list, np.ndarray)):
            return [plain(v) for v in value]
        if isinstance(value, bytes):
            return "bytes:" + value.decode("latin-1")
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return None
        if hasattr(value, "isoformat"):
            return value.isoformat()
        return value.item() if isinstance(value, np.generic) else value


    class Echo(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            if (params or {}).get("kind") == "series":
                return pd.Series([1.5, 2.5])
            if isinstance(model_input, pd.DataFrame):
                seen = {
                    "columns": [str(c) for c in model_input.columns],
                    "kinds": [d.kind for d in model_input.dtypes],
                    "rows": [[plain(v) for v in row] for row in model_input.itertuples(index=False)],
                }
            else:
                array = np.asarray(model_input)
                seen = {"dtype": str(array.dtype), "values": plain(array)}
            params = {k: [type(v).__name__, plain(v)] for k, v in sorted((params or {}).items())}
            return {"seen": seen, "params": params}


    mlflow.models.set_model(Echo())
    """
)

COLUMNS = Schema(
    [
        ColSpec("string", "a"),
        ColSpec("long", "b"),
        ColSpec("double", "c"),
        ColSpec("boolean", "d"),
        ColSpec("double", "f", required=False),
        ColSpec("integer", "h", required=False),
        ColSpec("float", "i", required=False),
        ColSpec("binary", "blob", required=False),
    ]
)
PARAMS = ParamSchema(
    [ParamSpec("kind", "string", "echo"), ParamSpec("when", "datetime", np.datetime64("2024-01-01"))]
)
SIGNATURES = {
    "columns": ModelSignature(inputs=COLUMNS, params=PARAMS),
    "text": ModelSignature(inputs=Schema([ColSpec("string", "text")])),
    "vector": ModelSignature(inputs=Schema([TensorSpec(np.dtype("int64"), (-1,))])),
}


class Servers:
    """One model answered by both scoring servers."""

    def __init__(self, path: Path) -> None:
        self.theirs = mlflow.pyfunc.load_model(str(path))
        with pytest.warns(PickleWarning):  # running a code model's file is an opt-in
            ours = bakehouse.pyfunc.load_model(str(path), allow_pickle=True)
        self.ours = TestClient(create_scoring_app(ModelHolder(ours, str(path))))

    def mlflow(self, body: bytes, content_type: str) -> tuple[int, Any]:
        try:
            answer = mlflow_invocations(
                body, content_type, self.theirs, self.theirs.metadata.get_input_schema()
            )
        except MlflowException as e:
            return e.get_http_status_code(), json.loads(e.serialize_as_json())
        return answer.status, json.loads(answer.response)

    def bakehouse(self, body: bytes, content_type: str) -> tuple[int, Any]:
        response = self.ours.post("/invocations", content=body, headers={"content-type": content_type})
        return response.status_code, json.loads(response.content)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Servers]:
    root = tmp_path_factory.mktemp("parity")
    code = root / "echo.py"
    code.write_text(ECHO)
    out = {}
    for name, signature in SIGNATURES.items():
        mlflow.pyfunc.save_model(str(root / name), python_model=str(code), signature=signature)
        out[name] = Servers(root / name)
    return out


def _split(columns: list[str], *rows: list[Any]) -> bytes:
    return json.dumps({"dataframe_split": {"columns": columns, "data": list(rows)}}).encode()


ROW = ["x", 1, 2.5, True]
BASE = ["a", "b", "c", "d"]
JSON = "application/json"

# Requests MLflow answers 200 that Bakehouse used to refuse (or answer differently).
SAME_ANSWER = [
    pytest.param(
        "columns", _split([*BASE, "f"], [*ROW, None]), JSON, id="optional-double-null"
    ),  # null in an optional double column
    pytest.param(
        "columns",
        json.dumps(
            {"dataframe_records": [dict(zip(BASE, ROW)), {**dict(zip(BASE, ROW)), "f": None}]}
        ).encode(),
        JSON,
        id="records-double-null",
    ),
    pytest.param(
        "columns", _split([*BASE, "f"], [*ROW, 1.5], [*ROW, None]), JSON, id="double-column-with-null"
    ),
    pytest.param(
        "columns", _split([*BASE, "h"], [*ROW, 3]), JSON, id="int32-column"
    ),  # JSON integer into an int32 column
    pytest.param(
        "columns", _split([*BASE, "i"], [*ROW, 0.1]), JSON, id="float32-column"
    ),  # JSON number into a float32 column
    pytest.param(
        "columns", _split(BASE, ["x", 1.0, 2.5, True]), JSON, id="whole-float-into-long"
    ),  # a whole number written 1.0 into a long column
    pytest.param(
        "columns", _split(BASE, [None, 1, 2.5, True]), JSON, id="null-in-required-text"
    ),  # null text in a required string column
    pytest.param(
        "columns", json.dumps({"inputs": [dict(zip(BASE, ROW))]}).encode(), JSON, id="inputs-as-records"
    ),  # inputs as records
    pytest.param(
        "columns",
        json.dumps({"inputs": dict(zip(BASE, ROW)), "client_request_id": "r1"}).encode(),
        JSON,
        id="extra-top-level-key",
    ),
    pytest.param(
        "columns",
        b'{"dataframe_split": {"columns": ["a", "b", "c", "d"], "data": [["x", 1, NaN, true]]}}',
        JSON,
        id="nan-literal",
    ),
    pytest.param(
        "columns",
        json.dumps({"inputs": dict(zip(BASE, ROW)), "params": {"when": "2024-05-01"}}).encode(),
        JSON,
        id="datetime-param",
    ),
    pytest.param(
        "columns",
        json.dumps({"inputs": dict(zip(BASE, ROW)), "params": {"kind": "series"}}).encode(),
        JSON,
        id="series-output",
    ),
    pytest.param("columns", _split([*BASE, "blob"], [*ROW, "YWI="]), JSON, id="base64-binary-column"),
    pytest.param(
        "text", json.dumps({"inputs": [5, 6]}).encode(), JSON, id="numbers-into-text"
    ),  # numbers into a text column arrive as text
    pytest.param("text", json.dumps({"inputs": ["a", 7]}).encode(), JSON, id="mixed-into-text"),
    pytest.param(
        "text", b"text\n007\n12\n", "text/csv", id="csv-numeric-text"
    ),  # a text column that looks numeric stays text
    pytest.param(
        "vector", _split(["v"], [1], [2]), JSON, id="one-column-table-to-1d-tensor"
    ),  # a one-column table for a 1-d tensor
]


@pytest.mark.parametrize(("model", "body", "content_type"), SAME_ANSWER)
def test_answers_as_mlflow_does(
    servers: dict[str, Servers], model: str, body: bytes, content_type: str
) -> None:
    theirs = servers[model].mlflow(body, content_type)
    ours = servers[model].bakehouse(body, content_type)
    assert theirs[0] == 200, theirs
    assert ours == theirs or _same(ours[1], theirs[1]), (ours, theirs)


def _same(a: Any, b: Any) -> bool:
    """JSON equality where MLflow's NaN and our null for a missing value count as equal."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if a is None and isinstance(b, float) and math.isnan(b):
        return True
    return bool(a == b and type(a) is type(b))


SCHEMA_ERRORS = [
    ("columns", _split(BASE[:3], ROW[:3])),  # a required column is missing
    ("columns", json.dumps({"dataframe_records": [{"a": "x", "c": 1.5}]}).encode()),
    ("text", json.dumps({"inputs": {"other": ["a"]}}).encode()),
]


@pytest.mark.parametrize(("model", "body"), SCHEMA_ERRORS)
def test_schema_errors_carry_mlflows_error_code(servers: dict[str, Servers], model: str, body: bytes) -> None:
    theirs = servers[model].mlflow(body, JSON)
    ours = servers[model].bakehouse(body, JSON)
    assert theirs[0] == ours[0] == 400
    assert ours[1]["error_code"] == theirs[1]["error_code"] == "INVALID_PARAMETER_VALUE"


# MLflow casts these with numpy and answers 200 with changed values; we refuse them (docs/models.md).
CHANGED_BY_MLFLOW = [
    (_split(BASE, ["x", 1.5, 2.5, True]), "column b", 1, 1),  # 1.5 -> 1
    (_split([*BASE, "h"], [*ROW, 2**40]), "column h", 4, 0),  # overflows int32 -> 0
    (_split(BASE, ["x", 1, 2.5, None]), "'d' is required", 3, False),  # null -> False
]


@pytest.mark.parametrize(("body", "named", "position", "mlflow_value"), CHANGED_BY_MLFLOW)
def test_values_mlflow_would_change_are_refused(
    servers: dict[str, Servers], body: bytes, named: str, position: int, mlflow_value: Any
) -> None:
    status, answer = servers["columns"].mlflow(body, JSON)
    assert status == 200 and answer["predictions"]["seen"]["rows"][0][position] == mlflow_value
    status, answer = servers["columns"].bakehouse(body, JSON)
    assert status == 400 and answer["error_code"] == "INVALID_PARAMETER_VALUE"
    assert named in answer["message"]


def test_an_invalid_datetime_param_is_refused_like_mlflow(servers: dict[str, Servers]) -> None:
    body = json.dumps({"inputs": dict(zip(BASE, ROW)), "params": {"when": "not a date"}}).encode()
    assert servers["columns"].mlflow(body, JSON)[0] == 400
    status, answer = servers["columns"].bakehouse(body, JSON)
    assert status == 400 and "'when'" in answer["message"]
