"""Library flavors, Bakehouse vs MLflow 3.17.2 in one run: ``log_model`` wall time, ``pyfunc.load_model`` time
and the p50 of one-row ``/invocations`` requests, per flavor (XGBoost, LightGBM, CatBoost, Keras, ONNX,
statsmodels, transformers).

The models are the tiny ones of ``tests/flavor_cases.py``. ``log_model`` goes to a SQLite tracking store and
a local artifact directory for each tool, with each tool's defaults (MLflow infers requirements by loading
the model in a subprocess; for transformers it is given ``pip_requirements``, because its default pins
torchvision, which does not install next to the CPU torch here). Loading is from the model each tool logged;
serving starts ``bakehouse models serve`` and ``mlflow models serve --env-manager local`` on the same
MLflow-saved directory, one after the other, and sends ``--requests`` one-row requests in MLflow's format on
one keep-alive connection. Prints medians over ``--repeats`` and the ratios (MLflow / Bakehouse).

    python bench/bench_flavors.py --repeats 3
    python bench/bench_flavors.py --flavors xgboost,onnx --repeats 5 --json out.json
    python bench/bench_flavors.py --serve-only --repeats 3   # the serving p50 alone (minutes, not an hour)
"""

from __future__ import annotations

import argparse
import http.client
import importlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the flavor cases: tiny models built in memory, no download
os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault(
    "MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true"
)  # MLflow refuses every model file without


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def timed(function: Callable[[], Any]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def log_and_load(case: Any, model: Any, tool: str, workdir: Path, repeat: int) -> tuple[float, float]:
    """Seconds for one ``log_model`` and one ``pyfunc.load_model`` of what was logged."""
    if tool == "mlflow":
        import mlflow as api
    else:
        import bakehouse as api
    api.set_tracking_uri(f"sqlite:///{workdir / f'{tool}.db'}")
    api.set_experiment(f"bench-{case.name}")
    flavor = importlib.import_module(f"{tool}.{case.name}")
    kwargs: dict[str, Any] = {} if case.name == "keras" else {"input_example": case.example()}
    if tool == "mlflow" and case.name == "transformers":
        kwargs["pip_requirements"] = ["transformers", "torch"]
    with api.start_run():
        info: list[Any] = []
        log_seconds = timed(lambda: info.append(flavor.log_model(model, name="model", **kwargs)))
    allow = {"allow_pickle": True} if tool == "bakehouse" and case.name == "statsmodels" else {}
    load_seconds = timed(lambda: api.pyfunc.load_model(info[0].model_uri, **allow))
    return log_seconds, load_seconds


class Server:
    def __init__(self, tool: str, model_dir: Path, log: Path, allow_pickle: bool) -> None:
        self.port = free_port()
        if tool == "bakehouse":
            cmd = [
                sys.executable,
                "-m",
                "bakehouse.cli.models",
                "serve",
                "-m",
                str(model_dir),
                "-p",
                str(self.port),
            ]
            cmd += ["--allow-pickle"] if allow_pickle else []
        else:
            mlflow = str(Path(sys.executable).parent / "mlflow")
            cmd = [
                mlflow,
                "models",
                "serve",
                "-m",
                str(model_dir),
                "-p",
                str(self.port),
                "--env-manager",
                "local",
            ]
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        with open(log, "wb") as out:  # mlflow's server runs `uvicorn` from PATH: the venv's bin comes first
            self.proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env
            )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{tool} server exited: {log.read_text()[-3000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/ping")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{tool} server not ready: {log.read_text()[-3000:]}")

    def stop(self) -> None:
        for sig in (15, 9):
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(timeout=15)
                return
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue


def one_row_p50(port: int, body: bytes, n: int) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    latencies = []
    for i in range(n + 20):
        start = time.perf_counter()
        conn.request("POST", "/invocations", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"status {response.status}: {payload[:300]!r}")
        if i >= 20:  # the first requests warm both servers up
            latencies.append(time.perf_counter() - start)
    conn.close()
    return statistics.median(latencies) * 1000


def one_row_body(case: Any) -> bytes:
    body = case.request()
    if "dataframe_split" in body:
        body["dataframe_split"]["data"] = body["dataframe_split"]["data"][:1]
    else:
        body["inputs"] = body["inputs"][:1]
    return json.dumps(body).encode()


def bench_flavor(
    name: str, repeats: int, requests: int, workdir: Path, serve_only: bool = False
) -> dict[str, dict[str, float]]:
    from flavor_cases import CASES

    case = CASES[name]
    model = case.build()
    results: dict[str, dict[str, list[float]]] = {
        t: {"log": [], "load": [], "p50": []} for t in ("bakehouse", "mlflow")
    }
    for repeat in range(0 if serve_only else repeats):
        order = ("bakehouse", "mlflow") if repeat % 2 == 0 else ("mlflow", "bakehouse")
        for tool in order:
            log_seconds, load_seconds = log_and_load(case, model, tool, workdir, repeat)
            results[tool]["log"].append(log_seconds)
            results[tool]["load"].append(load_seconds)
    import mlflow

    model_dir = workdir / f"served-{name}"
    model_dir.mkdir()
    importlib.import_module(f"mlflow.{name}").save_model(
        model, str(model_dir), input_example=case.example() if name != "keras" else None, **case.mlflow_kwargs
    )
    del mlflow
    body = one_row_body(case)
    for repeat in range(repeats):
        for tool in ("bakehouse", "mlflow") if repeat % 2 == 0 else ("mlflow", "bakehouse"):
            server = Server(tool, model_dir, workdir / f"{tool}-{name}-{repeat}.log", name == "statsmodels")
            try:
                results[tool]["p50"].append(one_row_p50(server.port, body, requests))
            finally:
                server.stop()
    return {
        tool: {k: statistics.median(v) if v else float("nan") for k, v in values.items()}
        for tool, values in results.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flavors", default="xgboost,lightgbm,catboost,keras,onnx,statsmodels,transformers")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--serve-only", action="store_true", help="only the 1-row serving p50 (skips log_model and load)"
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import logging

    logging.disable(logging.WARNING)
    table = {}
    with tempfile.TemporaryDirectory(prefix="bench-flavors-") as tmp:
        for name in args.flavors.split(","):
            workdir = Path(tmp) / name
            workdir.mkdir()
            table[name] = bench_flavor(name, args.repeats, args.requests, workdir, args.serve_only)
            ours, theirs = table[name]["bakehouse"], table[name]["mlflow"]
            print(
                f"{name:13s} log_model {ours['log']:7.3f} s vs {theirs['log']:7.3f} s ({theirs['log'] / ours['log']:5.1f}x)"
                f" | load {ours['load']:6.3f} s vs {theirs['load']:6.3f} s ({theirs['load'] / ours['load']:5.1f}x)"
                f" | 1-row p50 {ours['p50']:6.2f} ms vs {theirs['p50']:6.2f} ms ({theirs['p50'] / ours['p50']:5.1f}x)",
                flush=True,
            )
    if args.json:
        args.json.write_text(json.dumps(table, indent=2))


if __name__ == "__main__":
    main()
