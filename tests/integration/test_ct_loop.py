"""The continuous-training loop of ``examples/ct-loop``, end to end, on the embedded store and on a server.

Real processes throughout: ``bakehouse run examples/ct-loop --on-new-data incoming/`` (the trigger), the
project's training runs, ``bakehouse models serve -m models:/iris-ct@champion --watch`` answering a client
that sends requests back to back, and (on the server) a webhook receiver standing in for CI.

1. a small first batch trains v1, which becomes @champion;
2. the full data arrives: a run starts within the poll interval, v2 is better, @champion moves to v2 and
   the watching server answers from v2, without a single failed request;
3. a batch with shuffled labels arrives: v3 is registered but fails validation, @champion stays on v2.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_process import start_server
from webhook_receiver import Receiver, start_receiver

pytestmark = [pytest.mark.timeout(420), pytest.mark.slow]

EXAMPLE = Path(__file__).parents[2] / "examples" / "ct-loop"
BAKEHOUSE = str(Path(sys.executable).parent / "bakehouse")
MODEL = "iris-ct"
POLL = 1.0
#: the trigger must see new data within the poll interval (plus listing the directory)...
DETECT_SLACK = 3.0
#: ... and the run then starts: fetching the project and creating the run take longer on a loaded machine
START_SLACK = 30.0
RUN_TIMEOUT = 150.0
VERSION_HEADER = "x-bakehouse-model-version"
ROW = {
    "columns": ["sepal_length", "sepal_width", "petal_length", "petal_width"],
    "data": [[6.1, 2.8, 4.7, 1.2]],
}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spawn(args: list[str], log: Path, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=20)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait(what: str, check: Callable[[], Any], timeout: float, logs: list[Path]) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    tails = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-6000:]}" for p in logs if p.exists())
    raise AssertionError(f"timed out waiting for {what}\n{tails}")


def _write_data(kind: str, path: Path) -> float:
    """The example's own data writer; returns when the file appeared."""
    subprocess.run(
        [sys.executable, str(EXAMPLE / "make_data.py"), kind, str(path)],
        check=True,
        capture_output=True,
        cwd=EXAMPLE,
    )
    return time.time()


@dataclass
class Load:
    """Requests back to back against the scoring server; every answer's status and model version."""

    url: str
    answers: list[tuple[float, int, str | None]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self.stop.is_set():
                try:
                    response = client.post(f"{self.url}/invocations", json={"dataframe_split": ROW})
                    self.answers.append(
                        (time.time(), response.status_code, response.headers.get(VERSION_HEADER))
                    )
                    if response.status_code != 200:
                        self.errors.append(f"{response.status_code}: {response.text[:200]}")
                except httpx.HTTPError as exc:
                    self.errors.append(repr(exc))
                time.sleep(0.02)


@dataclass
class Loop:
    workdir: Path
    tracking_uri: str
    env: dict[str, str]
    logs: list[Path] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def client(self) -> Any:
        from bakehouse.client.client import Client

        return Client(tracking_uri=self.tracking_uri)

    def start(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = self.workdir / f"{name}.log"
        self.logs.append(log)
        proc = _spawn(args, log, self.env, self.workdir)
        self.procs.append(proc)
        return proc

    def versions(self) -> dict[str, Any]:
        from bakehouse.errors import BakehouseError

        try:
            return {v.version: v for v in self.client().search_model_versions(f"name = '{MODEL}'")}
        except BakehouseError:
            return {}

    def champion(self) -> str | None:
        from bakehouse.errors import BakehouseError

        try:
            return str(self.client().get_model_version_by_alias(MODEL, "champion").version)
        except BakehouseError:
            return None

    def run_of(self, version: str) -> Any:
        return self.client().get_run(self.versions()[version].run_id)

    def wait_version(self, version: str) -> Any:
        return _wait(f"model version {version}", lambda: self.versions().get(version), RUN_TIMEOUT, self.logs)

    def close(self) -> None:
        for proc in reversed(self.procs):
            _stop(proc)
        from bakehouse.client.stores import clear_store_cache

        client = self.client()
        for store in (client.tracking_store, client.registry_store):
            transport = getattr(store, "transport", None)
            if transport is not None:
                transport.close()  # the REST stores are cached per URI: close their connections now
        clear_store_cache()


def _triggered_run_started(loop: Loop, version: str, dropped: float) -> None:
    """The run behind ``version`` was started by the trigger within the poll interval of the drop."""
    run = loop.run_of(version)
    assert run.data.tags["bakehouse.trigger"] == "new-data"
    detected = int(run.data.tags["bakehouse.trigger.detected"]) / 1000
    started = run.info.start_time / 1000
    assert detected - dropped <= POLL + DETECT_SLACK, f"data seen {detected - dropped:.1f} s after it arrived"
    assert started - dropped <= POLL + START_SLACK, f"run started {started - dropped:.1f} s after the data"


def _data_inputs(run: Any) -> list[tuple[str, str | None]]:
    return [
        (d.name, d.tags.get("mlflow.data.context"))
        for d in run.inputs.dataset_inputs
        if d.source_type == "local"
    ]


def run_the_loop(loop: Loop) -> None:
    incoming = loop.workdir / "incoming"
    _write_data("small", incoming / "001-small.csv")
    loop.start(
        "trigger",
        [
            BAKEHOUSE,
            "run",
            str(EXAMPLE),
            "--on-new-data",
            str(incoming),
            "--poll-interval",
            f"{POLL}s",
            "--env-manager",
            "local",
            "--experiment-name",
            "ct",
            "--tracking-uri",
            loop.tracking_uri,
        ],
    )
    loop.wait_version("1")
    _wait("@champion on v1", lambda: loop.champion() == "1", 30, loop.logs)

    port = _free_port()
    loop.start(
        "serve",
        [
            BAKEHOUSE,
            "models",
            "serve",
            "-m",
            f"models:/{MODEL}@champion",
            "--watch",
            "--watch-interval",
            "0.5",
            "-p",
            str(port),
        ],
    )
    url = f"http://127.0.0.1:{port}"
    _wait("the scoring server", lambda: _ping(url), 90, loop.logs)
    load = Load(url)
    sender = threading.Thread(target=load.run, daemon=True)
    sender.start()
    try:
        dropped = _write_data("full", incoming / "002-full.csv")
        loop.wait_version("2")
        _triggered_run_started(loop, "2", dropped)
        _wait("@champion on v2", lambda: loop.champion() == "2", 30, loop.logs)
        _wait("answers from v2", lambda: any(v == "2" for _, _, v in load.answers[-5:]), 60, loop.logs)

        dropped = _write_data("shuffled", incoming / "003-shuffled.csv")
        loop.wait_version("3")
        _triggered_run_started(loop, "3", dropped)
        third = _wait(
            "the v3 run to finish",
            lambda: (r := loop.run_of("3")).info.status == "FINISHED" and r,
            60,
            loop.logs,
        )
        time.sleep(2 * 0.5)  # a watcher would have moved by now if the alias had
    finally:
        load.stop.set()
        sender.join(timeout=30)

    assert loop.champion() == "2"
    assert third.data.tags["ct.promoted"] == "false" and third.data.tags["ct.champion_before"] == "2"
    assert "Metric accuracy_score" in third.data.tags["ct.validation"]
    second = loop.run_of("2")
    assert second.data.tags["ct.promoted"] == "true" and second.data.tags["ct.champion_before"] == "1"
    assert _data_inputs(second) == [("002-full.csv", "training")]
    assert _data_inputs(third) == [("003-shuffled.csv", "training")]
    assert second.data.metrics["accuracy_score"] > loop.run_of("1").data.metrics["accuracy_score"]
    assert load.errors == [], load.errors[:5]
    served = [v for _, status, v in load.answers if status == 200]
    assert served and set(served) <= {"1", "2"} and served[-1] == "2"
    assert served.index("2") > 0  # it answered from v1 first, then switched
    assert "3" not in served


def _ping(url: str) -> bool:
    try:
        return httpx.get(f"{url}/ping", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BAKEHOUSE_TRACKING", "MLFLOW_TRACKING"))}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


@pytest.fixture
def loop_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


def test_the_loop_on_the_embedded_store(loop_dir: Path) -> None:
    uri = f"sqlite:///{loop_dir / 'bakehouse.db'}"
    loop = Loop(loop_dir, uri, _child_env({"BAKEHOUSE_TRACKING_URI": uri}))
    try:
        run_the_loop(loop)
    finally:
        loop.close()


def test_the_loop_on_a_server_with_a_webhook_telling_ci(loop_dir: Path) -> None:
    receiver: Receiver = start_receiver()
    server = start_server(
        loop_dir / "server",
        extra_args=["--workers", "2"],
        env={
            "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
            "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
            "BAKEHOUSE_WEBHOOK_SECRET_KEY_FILE": str(loop_dir / "webhook.key"),
        },
    )
    loop = Loop(loop_dir, server.url, _child_env({"BAKEHOUSE_TRACKING_URI": server.url}))
    try:
        loop.client().create_webhook(
            "ci",
            f"{receiver.url}/ci",
            ["model_version.created", "model_version_alias.created"],
            secret="ci-secret",
        )
        run_the_loop(loop)
        received = receiver.wait_for(5, timeout=90)
        time.sleep(1.0)
        events = [json.loads(r.body) for r in receiver.accepted()]
        created = sorted(e["data"]["version"] for e in events if e["entity"] == "model_version")
        moved = [e["data"]["version"] for e in events if e["entity"] == "model_version_alias"]
        assert created == ["1", "2", "3"] and sorted(moved) == ["1", "2"]
        from bakehouse.store.webhooks.sender import verify

        assert all(verify("ci-secret", r.headers, r.body) for r in received)
    finally:
        loop.close()
        server.stop()
        receiver.stop()
