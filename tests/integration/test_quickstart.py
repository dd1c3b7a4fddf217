"""README command 1, `bash scripts/quickstart.sh`, end to end: train, list, alias, serve + predict, UI."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_quickstart_trains_serves_and_opens_the_ui(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "BAKEHOUSE_QUICKSTART_SKIP_INSTALL": "1",  # the venv under test is already installed
        "BAKEHOUSE_VENV": str(Path(sys.executable).parent.parent),
        "BAKEHOUSE_QUICKSTART_DIR": str(tmp_path / "qs"),
        "BAKEHOUSE_QUICKSTART_PORT": str(port),
    }
    log_path = tmp_path / "quickstart.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            ["bash", str(REPO_ROOT / "scripts" / "quickstart.sh")],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 480
        healthy = False
        while time.monotonic() < deadline and proc.poll() is None:
            if f"open http://127.0.0.1:{port}" in log_path.read_text(errors="replace"):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                        healthy = response.status == 200
                except OSError:
                    pass
                if healthy:
                    break
            time.sleep(0.5)
        output = log_path.read_text(errors="replace")
        assert healthy, f"the UI never answered; quickstart output:\n{output}"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            assert response.status == 200
            assert "<html" in response.read().decode(errors="replace").lower()
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    run_id = re.search(r"^RUN_ID=([0-9a-f]{32})$", output, re.MULTILINE)
    assert run_id, output
    checks = {
        "model registered": "MODEL_VERSION=1" in output,
        "run listed by `runs list`": run_id.group(1) in output.split("bakehouse runs list", 1)[-1],
        "alias set": "models:/iris@champion -> version 1" in output,
        "prediction": '-> 200 {"predictions":[0,2]}' in output,
        "no step skipped": "skipped" not in output,
        "embedded store in the work dir": (tmp_path / "qs" / "bakehouse.db").exists(),
    }
    failed = [name for name, ok in checks.items() if not ok]
    assert not failed, f"failed checks {failed}; quickstart output:\n{output}"
