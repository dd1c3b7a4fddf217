"""``bakehouse models serve`` over real HTTP (uvicorn in a subprocess), plus predict, docker and prepare-env."""

from __future__ import annotations

import io
import json
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from components import component_missing

COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]
CLI = [sys.executable, "-m", "bakehouse.cli.models"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, args: list[str], log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen([*args, "-p", str(self.port)], stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(self.url + "/ping", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server not ready after 90 s:\n{log.read_text()}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def iris_setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    import bakehouse.sklearn

    X, y = load_iris(return_X_y=True, as_frame=True)
    lr = LogisticRegression(max_iter=300).fit(X, y)
    path = tmp_path_factory.mktemp("serving") / "iris"
    bakehouse.sklearn.save_model(lr, path, input_example=X.iloc[[0, 60, 120]])
    return path, lr


@pytest.fixture(scope="module")
def iris_server(iris_setup: tuple[Path, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path, _ = iris_setup
    log = tmp_path_factory.mktemp("logs") / "iris.log"
    server = Server([*CLI, "serve", "-m", str(path), "-t", "10", "--max-body-bytes", "200000"], log)
    yield server
    server.stop()


def _expected(lr: Any, rows: list[list[float]]) -> list[int]:
    return lr.predict(pd.DataFrame(rows, columns=COLUMNS)).tolist()


def test_every_input_format(iris_server: Server, iris_setup: tuple[Path, Any]) -> None:
    _, lr = iris_setup
    expected = _expected(lr, ROWS)
    payloads = [
        {"dataframe_split": {"columns": COLUMNS, "data": ROWS}},
        {"dataframe_records": [dict(zip(COLUMNS, r)) for r in ROWS]},
        {"instances": ROWS},
        {"inputs": ROWS},
        {"inputs": {c: [r[i] for r in ROWS] for i, c in enumerate(COLUMNS)}},
        {"dataframe_split": {"columns": COLUMNS, "data": ROWS}, "params": {}},
    ]
    with httpx.Client(base_url=iris_server.url) as client:
        for payload in payloads:
            response = client.post("/invocations", json=payload)
            assert response.status_code == 200, (payload, response.text)
            assert response.json() == {"predictions": expected}
        frame = pd.DataFrame(ROWS, columns=COLUMNS)
        response = client.post(
            "/invocations", content=frame.to_csv(index=False), headers={"content-type": "text/csv"}
        )
        assert response.json() == {"predictions": expected}
        buffer = io.BytesIO()
        frame.to_parquet(buffer)
        response = client.post(
            "/invocations",
            content=buffer.getvalue(),
            headers={"content-type": "application/vnd.apache.parquet"},
        )
        assert response.json() == {"predictions": expected}
        assert client.get("/health").status_code == 200
        assert client.get("/version").json()["model_uri"] == str(iris_setup[0])


def test_serving_input_example_posted_as_is(iris_server: Server, iris_setup: tuple[Path, Any]) -> None:
    path, lr = iris_setup
    body = (path / "serving_input_example.json").read_bytes()
    response = httpx.post(
        iris_server.url + "/invocations", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    rows = json.loads(body)["dataframe_split"]["data"]
    assert response.json() == {"predictions": _expected(lr, rows)}
    assert response.json()["predictions"] == [0, 1, 2]


def test_error_cases(iris_server: Server) -> None:
    with httpx.Client(base_url=iris_server.url) as client:
        bad_json = client.post("/invocations", content=b"{oops", headers={"content-type": "application/json"})
        assert bad_json.status_code == 400 and bad_json.json()["error_code"] == "BAD_REQUEST"
        two_keys = client.post("/invocations", json={"instances": ROWS, "inputs": ROWS})
        assert two_keys.status_code == 400 and "exactly one of the input fields" in two_keys.json()["message"]
        mismatch = client.post(
            "/invocations", json={"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}
        )
        assert mismatch.status_code == 400
        assert mismatch.json()["message"].startswith(
            "Invalid input. Data is not compatible with model signature."
        )
        assert "Model is missing inputs ['sepal length (cm)'" in mismatch.json()["message"]
        assert mismatch.json()["error_code"] == "INVALID_PARAMETER_VALUE"  # MLflow's code for a mismatch
        wrong_type = client.post(
            "/invocations", json={"dataframe_records": [dict(zip(COLUMNS, ["big", 1, 1, 1]))]}
        )
        assert wrong_type.status_code == 400 and "sepal length (cm)" in wrong_type.json()["message"]
        unsupported = client.post("/invocations", content=b"1,2", headers={"content-type": "text/plain"})
        assert unsupported.status_code == 415
        too_big = client.post("/invocations", json={"instances": [ROWS[0]] * 20000})
        assert too_big.status_code == 413
        assert client.post("/invocations", json={"instances": ROWS}).status_code == 200  # still serving


def test_keep_alive_requests_do_not_stall(iris_server: Server) -> None:
    """TCP_NODELAY: without it every keep-alive request after the first waits ~40 ms for a delayed ACK."""
    payload = {"dataframe_split": {"columns": COLUMNS, "data": [ROWS[0]]}}
    with httpx.Client(base_url=iris_server.url) as client:
        for _ in range(5):
            client.post("/invocations", json=payload)
        times = []
        for _ in range(40):
            start = time.perf_counter()
            client.post("/invocations", json=payload)
            times.append(time.perf_counter() - start)
    assert statistics.median(times) < 0.030


@pytest.mark.slow
def test_multi_worker_server_and_timeout(tmp_path: Path, iris_setup: tuple[Path, Any]) -> None:
    import bakehouse.pyfunc

    code = tmp_path / "slow_model_mod.py"
    code.write_text(
        "import time\nimport bakehouse.pyfunc\n\n"
        "class Slow(bakehouse.pyfunc.PythonModel):\n"
        "    def predict(self, context, model_input, params=None):\n"
        "        time.sleep(float(model_input['seconds'].iloc[0]))\n"
        "        return [0] * len(model_input)\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        import slow_model_mod

        bakehouse.pyfunc.save_model(tmp_path / "slow", slow_model_mod.Slow(), code_paths=[str(code)])
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("slow_model_mod", None)
    refused = subprocess.run(
        [*CLI, "serve", "-m", str(tmp_path / "slow"), "-p", str(_free_port())],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 1 and "add --allow-pickle" in refused.stderr  # the CLI's own switch
    assert "allow_pickle=True" not in refused.stderr
    server = Server(
        [*CLI, "serve", "-m", str(tmp_path / "slow"), "-t", "2", "-w", "2", "--allow-pickle"],
        tmp_path / "slow.log",
    )
    try:
        with httpx.Client(base_url=server.url) as client:
            for _ in range(4):  # the first request in each worker imports pandas: warm both up
                client.post("/invocations", json={"dataframe_records": [{"seconds": 0.0}]})
            fast = client.post("/invocations", json={"dataframe_records": [{"seconds": 0.0}]})
            assert fast.json() == {"predictions": [0]}
            times = []
            for _ in range(20):
                start = time.perf_counter()
                client.post("/invocations", json={"dataframe_records": [{"seconds": 0.0}]})
                times.append(time.perf_counter() - start)
            assert statistics.median(times) < 0.030  # TCP_NODELAY survives uvicorn's worker processes
            slow = client.post("/invocations", json={"dataframe_records": [{"seconds": 6}]}, timeout=20)
            assert slow.status_code == 504
            assert slow.json()["error_code"] == "DEADLINE_EXCEEDED"
    finally:
        server.stop()


def test_predict_cli_json_and_csv(tmp_path: Path, iris_setup: tuple[Path, Any]) -> None:
    path, lr = iris_setup
    (tmp_path / "in.json").write_text(json.dumps({"dataframe_split": {"columns": COLUMNS, "data": ROWS}}))
    done = subprocess.run(
        [*CLI, "predict", "-m", str(path), "-i", str(tmp_path / "in.json"), "-o", str(tmp_path / "out.json")],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "out.json").read_text()) == {"predictions": _expected(lr, ROWS)}
    pd.DataFrame(ROWS * 1000, columns=COLUMNS).to_csv(tmp_path / "in.csv", index=False)
    done = subprocess.run(
        [
            *CLI,
            "predict",
            "-m",
            str(path),
            "-i",
            str(tmp_path / "in.csv"),
            "-t",
            "csv",
            "--batch-size",
            "700",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"predictions": _expected(lr, ROWS) * 1000}
    missing = subprocess.run(
        [*CLI, "predict", "-m", str(tmp_path / "nope"), "-i", str(tmp_path / "in.json")],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (
        missing.returncode == 1
        and "Model path not found" in missing.stderr
        and "Traceback" not in missing.stderr
    )


def test_generate_dockerfile_and_its_command_outside_docker(
    tmp_path: Path, iris_setup: tuple[Path, Any]
) -> None:
    path, lr = iris_setup
    out = tmp_path / "docker"
    done = subprocess.run(
        [*CLI, "generate-dockerfile", "-m", str(path), "-d", str(out)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    text = (out / "Dockerfile").read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert lines[0] == f"FROM python:{sys.version_info.major}.{sys.version_info.minor}-slim"
    assert "COPY model_dir /opt/ml/model" in lines
    assert any(
        line.startswith("RUN pip install -r /opt/ml/model/requirements.txt bakehouse==") for line in lines
    )
    assert "EXPOSE 8080" in lines and "USER bakehouse" in lines
    assert (out / "model_dir" / "MLmodel").is_file() and (out / "model_dir" / "model.skops").is_file()
    cmd = json.loads(lines[-1][len("CMD ") :])
    assert cmd[:3] == ["bakehouse", "models", "serve"] and cmd[cmd.index("-p") + 1] == "8080"
    # the image's requirements are already satisfiable here (a resolver dry run installs nothing new)
    uv = Path(sys.executable).parent / "uv"
    if uv.is_file():
        dry = subprocess.run(
            [
                str(uv),
                "pip",
                "install",
                "--dry-run",
                "--offline",
                "--python",
                sys.executable,
                "-r",
                str(out / "model_dir" / "requirements.txt"),
            ],
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert dry.returncode == 0, dry.stderr
        assert "Would make no changes" in dry.stderr
    # the image's CMD serves the copied model outside Docker (with the model path and port rewritten)
    args = cmd[3:]
    args[args.index("-m") + 1] = str(out / "model_dir")
    args[args.index("-h") + 1] = "127.0.0.1"
    port_at = args.index("-p")
    args = args[:port_at] + args[port_at + 2 :]
    server = Server([*CLI, "serve", *args], tmp_path / "docker-cmd.log")
    try:
        response = httpx.post(server.url + "/invocations", json={"inputs": ROWS})
        assert response.json() == {"predictions": _expected(lr, ROWS)}
    finally:
        server.stop()


def test_build_docker_fails_clearly_without_docker(tmp_path: Path, iris_setup: tuple[Path, Any]) -> None:
    env = dict(os.environ, PATH=str(tmp_path))  # no docker binary anywhere on PATH
    done = subprocess.run(
        [*CLI, "build-docker", "-m", str(iris_setup[0]), "-n", "iris"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1
    assert "the 'docker' command was not found" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_prepare_env_builds_once_and_is_cached(tmp_path: Path, iris_setup: tuple[Path, Any]) -> None:
    if not (Path(sys.executable).parent / "uv").is_file() and shutil.which("uv") is None:
        component_missing("uv", "not installed (it is in the test extra)")
    env = dict(os.environ, BAKEHOUSE_ENV_ROOT=str(tmp_path / "envs"))
    first = subprocess.run(
        [*CLI, "prepare-env", "-m", str(iris_setup[0])],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert first.returncode == 0, first.stderr
    env_dir = Path(first.stdout.strip())
    assert "[2/3] Installing 5 model requirements" in first.stderr and (env_dir / ".ready").is_file()
    # installed with its bytecode: a server started there does not compile scikit-learn from source
    assert list(env_dir.glob("lib/python*/site-packages/sklearn/__pycache__/base.*.pyc"))
    check = subprocess.run(
        [
            str(env_dir / "bin" / "python"),
            "-c",
            "import sklearn, skops, bakehouse.sklearn; print(sklearn.__version__)",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    import sklearn

    assert check.stdout.strip() == sklearn.__version__
    start = time.perf_counter()
    second = subprocess.run(
        [*CLI, "prepare-env", "-m", str(iris_setup[0])],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert Path(second.stdout.strip()) == env_dir and "Reusing environment" in second.stderr
    assert time.perf_counter() - start < 10
    (tmp_path / "in.json").write_text(json.dumps({"inputs": ROWS}))
    scored = subprocess.run(
        [*CLI, "predict", "-m", str(iris_setup[0]), "-i", str(tmp_path / "in.json"), "--env-manager", "uv"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert json.loads(scored.stdout) == {"predictions": _expected(iris_setup[1], ROWS)}


def test_shlex_quoting_is_not_needed_for_generated_cmd() -> None:
    from bakehouse.serving.docker import render_dockerfile

    text = render_dockerfile(False, base_image="python:3.12-slim", bakehouse_spec="bakehouse==9.9")
    assert "COPY" not in text and "FROM python:3.12-slim" in text
    assert "RUN pip install bakehouse==9.9" in text
    cmd_line = next(line for line in text.splitlines() if line.startswith("CMD"))
    assert shlex.split(cmd_line)[0] == "CMD"
