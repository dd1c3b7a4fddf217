"""Every library flavor both ways with the official ``mlflow`` 3.17.2: saved by Bakehouse and loaded by MLflow,
saved by MLflow and loaded and served by Bakehouse, and logged by MLflow's client to a real ``bakehouse
server``, registered, and served by alias with ``bakehouse models serve`` over HTTP."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from click.testing import CliRunner
from flavor_cases import CASES, FlavorCase
from server_process import Server, free_port, start_server

import bakehouse
import bakehouse.pyfunc
from bakehouse.cli.models import models_group
from bakehouse.models.mlmodel import Model
from bakehouse.serving.app import ModelHolder, create_scoring_app
from bakehouse.serving.server import load_for_serving

pytest.importorskip("mlflow")
import mlflow
import mlflow.pyfunc

FLAVORS = sorted(CASES)
CLI = [sys.executable, "-m", "bakehouse.cli.models"]


@pytest.fixture(params=FLAVORS)
def case(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> FlavorCase:
    found: FlavorCase = CASES[request.param]
    pytest.importorskip(found.library)
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")  # MLflow 3.17 refuses every model file
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return found


_BUILT: dict[str, Any] = {}


def _model(case: FlavorCase) -> Any:
    if case.name not in _BUILT:  # one model per flavor and worker: building is most of the cost
        _BUILT[case.name] = case.build()
    return _BUILT[case.name]


def _expected(case: FlavorCase, rows: int | None = None) -> Any:
    values = case.normalize(case.expected(_model(case)))
    return values if rows is None else values[:rows]


def _mlflow_flavor(case: FlavorCase) -> Any:
    return importlib.import_module(f"mlflow.{case.name}")


def test_saved_by_bakehouse_loads_in_mlflow(case: FlavorCase, tmp_path: Path) -> None:
    path = tmp_path / "model"
    getattr(bakehouse, case.name).save_model(_model(case), path, input_example=case.example())
    meta = Model.load(path)
    assert meta.flavors["python_function"]["loader_module"] == f"mlflow.{case.name}"
    assert (path / case.data_file).is_file()
    if case.name != "statsmodels":  # statsmodels only has pickle; every other flavor stores no pickle
        assert not [p for p in path.rglob("*") if p.suffix in (".pkl", ".pickle", ".bin", ".pth")]
    requirements = (path / "requirements.txt").read_text().split()
    assert any(r.startswith(f"{case.library}==") for r in requirements), requirements
    assert all("==" in r and "+" not in r for r in requirements), requirements
    loaded = mlflow.pyfunc.load_model(str(path))
    np.testing.assert_allclose(
        case.normalize(loaded.predict(case.example())), _expected(case), rtol=1e-5, atol=1e-6
    )
    native = _mlflow_flavor(case).load_model(str(path))
    assert native is not None
    info = mlflow.models.get_model_info(str(path))
    assert (info.signature is None) == (case.name in ("keras", "onnx"))  # as MLflow: no inference for those


def test_saved_by_mlflow_loads_and_serves_in_bakehouse(case: FlavorCase, tmp_path: Path) -> None:
    path = tmp_path / "model"
    path.mkdir()  # mlflow.keras.save_model writes the example before creating the directory
    _mlflow_flavor(case).save_model(
        _model(case), str(path), input_example=case.example(), **case.mlflow_kwargs
    )
    allow = case.name == "statsmodels"
    flavor = getattr(bakehouse, case.name)
    with pytest.warns(UserWarning, match="Unpickling") if allow else _no_warning():
        model = bakehouse.pyfunc.load_model(str(path), allow_pickle=allow or None)
        assert flavor.load_model(str(path), **({"allow_pickle": True} if allow else {})) is not None
    assert model.loader_module == f"mlflow.{case.name}"
    np.testing.assert_allclose(
        case.normalize(model.predict(case.example())), _expected(case), rtol=1e-5, atol=1e-6
    )
    app = create_scoring_app(ModelHolder(model, str(path)))
    response = _post_in_process(app, case.request())
    assert response.status_code == 200, response.text
    np.testing.assert_allclose(
        case.normalize(response.json()["predictions"]), _expected(case, 2), rtol=1e-5, atol=1e-6
    )
    # as `models serve` loads it (one-thread copies for small batches, the one-row fast path): same answers
    # in every request format
    with pytest.warns(UserWarning, match="Unpickling") if allow else _no_warning():
        served = create_scoring_app(load_for_serving(str(path), allow_pickle=allow or None))
    for body in _request_formats(case):
        response = _post_in_process(served, body)
        assert response.status_code == 200, (body, response.text)
        np.testing.assert_allclose(
            case.normalize(response.json()["predictions"]), _expected(case, 2), rtol=1e-5, atol=1e-6
        )
    # `bakehouse models predict` on the same request body
    (tmp_path / "in.json").write_text(json.dumps(case.request()))
    args = ["predict", "-m", str(path), "-i", str(tmp_path / "in.json"), "-o", str(tmp_path / "out.json")]
    with pytest.warns(UserWarning, match="Unpickling") if allow else _no_warning():
        result = CliRunner().invoke(models_group, [*args, *(["--allow-pickle"] if allow else [])])
    assert result.exit_code == 0, result.output
    predictions = json.loads((tmp_path / "out.json").read_text())["predictions"]
    np.testing.assert_allclose(case.normalize(predictions), _expected(case, 2), rtol=1e-5, atol=1e-6)


class _no_warning:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _request_formats(case: FlavorCase) -> list[dict[str, Any]]:
    """The case's request in each of MLflow's JSON formats that can carry it."""
    body = case.request()
    if "dataframe_split" in body:
        split = body["dataframe_split"]
        records = [dict(zip(split["columns"], row)) for row in split["data"]]
        return [body, {"dataframe_records": records}, {"instances": records}]
    return [body, {"instances": body["inputs"]}]


def _post_in_process(app: Any, body: dict[str, Any]) -> httpx.Response:
    import anyio

    async def post() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            return await client.post("/invocations", json=body)

    return anyio.run(post)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    started = start_server(tmp_path_factory.mktemp("flavors-server"))
    yield started
    started.stop()


def _serve(
    uri: str, log: Path, env: dict[str, str], allow_pickle: bool
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    args = [*CLI, "serve", "-m", uri, "-p", str(port), *(["--allow-pickle"] if allow_pickle else [])]
    with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"models serve exited {proc.returncode}:\n{log.read_text()[-5000:]}")
        try:
            if httpx.get(url + "/ping", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"models serve not ready:\n{log.read_text()[-5000:]}")


def test_logged_by_the_mlflow_client_to_a_bakehouse_server_then_served_by_alias(
    case: FlavorCase, server: Server, tmp_path: Path
) -> None:
    mlflow.set_tracking_uri(server.url)
    name = f"flavor-{case.name}"
    # mlflow.keras.log_model with an input example fails in MLflow 3.17 (it writes the example into a
    # directory it has not created yet), so the Keras model is logged without one
    example = {} if case.name == "keras" else {"input_example": case.example()}
    with mlflow.start_run():
        info = _mlflow_flavor(case).log_model(
            _model(case), name="model", registered_model_name=name, **example, **case.mlflow_kwargs
        )
    client = mlflow.MlflowClient()
    client.set_registered_model_alias(name, "champion", info.registered_model_version)
    env = {**os.environ, "BAKEHOUSE_TRACKING_URI": server.url, "HF_HUB_OFFLINE": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    proc, url = _serve(f"models:/{name}@champion", tmp_path / "serve.log", env, case.name == "statsmodels")
    try:
        response = httpx.post(url + "/invocations", json=case.request(), timeout=60)
        assert response.status_code == 200, response.text
        np.testing.assert_allclose(
            case.normalize(response.json()["predictions"]), _expected(case, 2), rtol=1e-5, atol=1e-6
        )
        assert httpx.get(url + "/version", timeout=10).json()["model_uri"] == f"models:/{name}@champion"
        assert info.model_uri.startswith("models:/m-")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
