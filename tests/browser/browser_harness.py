"""What the browser tests share besides fixtures: the server they start, the Chromium they drive, screenshots.

A module of its own, not ``conftest.py``: the tests import these names, and an import of ``conftest`` finds
whichever conftest module pytest loaded first, so ``tests/browser`` failed to collect beside another folder
with a conftest (``tests/unit/server``) in one pytest call.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ui_seed import Seeded

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "docs" / "images"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


@dataclass
class UiServer:
    url: str
    seeded: Seeded
    db_uri: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    workdir: Path,
    db_uri: str,
    artifacts: Path,
    timeout: float = 60.0,
    extra_args: tuple[str, ...] = (),
    prefix: str = "",
) -> tuple[str, subprocess.Popen[bytes], Path]:
    """Start ``bakehouse server`` and wait until /health answers (the log is shown if it never does)."""
    port = _free_port()
    log_path = workdir / f"server-{port}.log"
    exe = Path(sys.executable).parent / "bakehouse"
    cmd = [
        str(exe),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        db_uri,
        "--artifacts-destination",
        str(artifacts),
        *extra_args,
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=workdir,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"bakehouse server exited with {proc.returncode}:\n{log_path.read_text()[-4000:]}"
            )
        try:
            with urllib.request.urlopen(url + prefix + "/health", timeout=1) as resp:
                if resp.status == 200:
                    return url, proc, log_path
        except OSError:
            time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError(f"bakehouse server did not come up in {timeout}s:\n{log_path.read_text()[-4000:]}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def screenshot_dir() -> Path:
    """docs/images/ when ``BAKEHOUSE_UPDATE_SCREENSHOTS=1`` (refreshing the documentation's pictures is a
    deliberate act), else a folder under the system's temporary directory: running the tests leaves the
    tree as it found it."""
    if os.environ.get("BAKEHOUSE_UPDATE_SCREENSHOTS") == "1":
        return IMAGES
    return Path(tempfile.gettempdir()) / "bakehouse-screenshots"


def shot(page, name: str, full_page: bool = False) -> None:
    """Save a screenshot of a screen (see :func:`screenshot_dir` for where)."""
    target = screenshot_dir()
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target / f"ui-{name}.png"), full_page=full_page)
