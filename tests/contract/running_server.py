"""A real ``bakehouse server`` subprocess for the registry contract suite's REST store (one per test module,
shared by its tests, which use unique model names, so the suite stays fast)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(
    url: str, proc: subprocess.Popen[bytes] | None, log: Path | None, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}):\n{log.read_text() if log else ''}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server at {url} not healthy after {timeout}s:\n{log.read_text() if log else ''}")


class RunningServer:
    """A `bakehouse server` subprocess in its own session (stopped as a whole process group)."""

    def __init__(self, backend_store_uri: str, workdir: Path, extra_args: tuple[str, ...] = ()) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"server-{self.port}.log"
        exe = VENV_BIN / "bakehouse"
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "bakehouse.cli.main"]
        cmd += [
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--backend-store-uri",
            backend_store_uri,
            "--artifacts-destination",
            str(workdir / "artifacts"),
            *extra_args,
        ]
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("BAKEHOUSE_TRACKING", "MLFLOW_TRACKING"))
        }
        with open(self.log, "wb") as log_file:
            self.proc = subprocess.Popen(
                cmd,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=workdir,
                env=env,
                start_new_session=True,
            )
        try:
            _wait_healthy(self.url, self.proc, self.log)
        except Exception:
            self.stop()
            raise

    def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=10)
                return
            except subprocess.TimeoutExpired:
                continue
