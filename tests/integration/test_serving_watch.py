"""Continuous delivery: ``bakehouse models serve -m models:/<name>@champion --watch`` follows the alias.

A client sends requests back to back while the alias moves from version 1 to version 2: no request fails,
and every response sent after the move plus the polling interval (plus a bounded load time) comes from
version 2. Each model predicts its own version number, so the body, the response header and ``/version``
can be checked against each other.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]

INTERVAL = 0.5
LOAD_BUDGET = 3.0  # seconds allowed to download, load and warm the new version once it is seen
VERSION_HEADER = "x-bakehouse-model-version"


def _save_constant_model(path: Path, value: int) -> str:
    import numpy as np
    from sklearn.dummy import DummyClassifier

    from bakehouse.sklearn import save_model

    model = DummyClassifier(strategy="constant", constant=value).fit(np.zeros((4, 1)), [1, 2, 1, 2])
    save_model(model, path, pip_requirements=[])
    return str(path)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def registry(tmp_path, monkeypatch):
    from bakehouse.client.client import Client

    uri = f"sqlite:///{tmp_path / 'bakehouse.db'}"
    monkeypatch.setenv("BAKEHOUSE_TRACKING_URI", uri)
    client = Client(tracking_uri=uri)
    name = "iris"
    v1 = client.register_model(_save_constant_model(tmp_path / "v1", 1), name)
    v2 = client.register_model(_save_constant_model(tmp_path / "v2", 2), name)
    assert (v1.version, v2.version) == ("1", "2")
    client.set_registered_model_alias(name, "champion", "1")
    return client, uri, name


@pytest.fixture
def watching_server(registry, tmp_path):
    _client, uri, name = registry
    port = _free_port()
    exe = Path(sys.executable).parent / "bakehouse"
    cmd = [
        str(exe),
        "models",
        "serve",
        "-m",
        f"models:/{name}@champion",
        "-p",
        str(port),
        "--watch",
        "--watch-interval",
        str(INTERVAL),
    ]
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "BAKEHOUSE_TRACKING_URI": uri},
            cwd=tmp_path,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(url + "/ping", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    yield url
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def test_alias_move_is_followed_without_a_failed_request(registry, watching_server):
    client, _, name = registry
    url = watching_server
    assert httpx.get(url + "/version").json()["model_version"] == "1"

    results: list[tuple[float, int, str | None, object]] = []  # (sent at, status, header version, prediction)
    errors: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=url, timeout=10) as http:
            while not stop.is_set():
                sent = time.monotonic()
                try:
                    response = http.post("/invocations", json={"inputs": [[0.0]]})
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))
                    continue
                prediction = (
                    response.json().get("predictions") if response.status_code == 200 else response.text
                )
                results.append((sent, response.status_code, response.headers.get(VERSION_HEADER), prediction))

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    switched_at = time.monotonic()
    client.set_registered_model_alias(name, "champion", "2")
    time.sleep(INTERVAL + LOAD_BUDGET + 1.5)
    stop.set()
    for t in threads:
        t.join(timeout=15)

    assert errors == []
    assert len(results) > 50
    assert all(status == 200 for _, status, _, _ in results), [r for r in results if r[1] != 200][:3]
    # body and header agree on which version answered
    assert all(pred == [int(version)] for _, _, version, pred in results)
    before = [v for sent, _, v, _ in results if sent < switched_at]
    assert before and set(before) == {"1"}
    settled = [v for sent, _, v, _ in results if sent > switched_at + INTERVAL + LOAD_BUDGET]
    assert settled and set(settled) == {"2"}
    first_v2 = min(sent for sent, _, v, _ in results if v == "2")
    assert first_v2 - switched_at < INTERVAL + LOAD_BUDGET
    assert httpx.get(url + "/version").json()["model_version"] == "2"
    events = client.get_registry_history(name)
    assert [(e.kind, e.from_value, e.to_value) for e in events] == [
        ("alias_set", None, "1"),
        ("alias_set", "1", "2"),
    ]
