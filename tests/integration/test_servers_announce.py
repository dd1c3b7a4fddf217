"""Servers say what they do: ``bakehouse server``/``ui`` check the port before creating anything and print
the address once it is theirs; ``bakehouse models serve`` prints the model URI, its version and the address.
"""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server_process import BAKEHOUSE

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "BAKEHOUSE_TRACKING_URI": f"sqlite:///{tmp_path / 'store.db'}"}


def _first_line(proc: subprocess.Popen[str], pattern: str, timeout: float = 90.0) -> str:
    """Read the child's stderr until a line matches ``pattern`` (fails with what was read)."""
    assert proc.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.5)
        if ready:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
            seen.append(line.rstrip("\n"))
            if re.search(pattern, line):
                return line.strip()
        elif proc.poll() is not None:
            break
    raise AssertionError(f"no line matching {pattern!r}; stderr so far: {seen}")


def _stop(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=20)


@pytest.mark.parametrize("command", ["server", "ui"])
def test_a_busy_port_fails_before_anything_is_created(command: str, busy_port: int, tmp_path: Path) -> None:
    result = subprocess.run(
        [BAKEHOUSE, command, "--port", str(busy_port)],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.endswith("TRACKING_URI")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    expected = f"Error: Port {busy_port} on 127.0.0.1 is already in use (another server?); stop it or choose"
    assert result.stderr.strip().splitlines() == [f"{expected} another with --port"]
    assert "listening" not in result.stdout + result.stderr
    assert not (tmp_path / "bakehouse.db").exists() and not (tmp_path / "bakehouse-artifacts").exists()


def test_the_server_prints_the_address_it_holds(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [BAKEHOUSE, "server", "--port", "0", "--backend-store-uri", f"sqlite:///{tmp_path / 's.db'}"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        line = _first_line(proc, "listening on")
        match = re.search(r"listening on (http://127\.0\.0\.1:(\d+)/) ", line)
        assert match and match.group(2) != "0", line  # port 0: the port the kernel chose is shown
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(match.group(1) + "health", timeout=5).text == "OK"
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
    finally:
        _stop(proc)


@pytest.fixture
def registered_iris(tmp_path: Path) -> str:
    import numpy as np
    from sklearn.dummy import DummyClassifier

    from bakehouse.client.client import Client
    from bakehouse.sklearn import save_model

    model = DummyClassifier(strategy="constant", constant=1).fit(np.zeros((4, 1)), [1, 2, 1, 2])
    save_model(model, tmp_path / "m", pip_requirements=[])
    client = Client(tracking_uri=f"sqlite:///{tmp_path / 'store.db'}")
    client.register_model(str(tmp_path / "m"), "iris")
    version = client.register_model(str(tmp_path / "m"), "iris").version
    client.set_registered_model_alias("iris", "champion", version)
    return str(version)


@pytest.mark.parametrize("watch", [False, True])
def test_models_serve_prints_uri_version_and_address(
    watch: bool, registered_iris: str, tmp_path: Path
) -> None:
    args = [BAKEHOUSE, "models", "serve", "-m", "models:/iris@champion", "-p", "0"]
    proc = subprocess.Popen(
        [*args, "--watch"] if watch else args,
        cwd=tmp_path,
        env=_env(tmp_path),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        line = _first_line(proc, r"^Serving ")
        match = re.fullmatch(
            r"Serving models:/iris@champion version (\d+)( \(following the alias\))? on "
            r"(http://127\.0\.0\.1:\d+): POST \3/invocations \(Ctrl-C to stop\)",
            line,
        )
        assert match, line
        assert match.group(1) == registered_iris == "2"
        assert bool(match.group(2)) is watch
        answer = httpx.get(match.group(3) + "/version", timeout=10)
        assert answer.status_code == 200
    finally:
        _stop(proc)


def test_models_serve_checks_the_port_before_loading_the_model(busy_port: int, tmp_path: Path) -> None:
    result = subprocess.run(
        [BAKEHOUSE, "models", "serve", "-m", str(tmp_path / "no-such-model"), "-p", str(busy_port)],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert f"Port {busy_port} on 127.0.0.1 is already in use" in result.stderr
    assert "no-such-model" not in result.stderr  # the model was never looked at
