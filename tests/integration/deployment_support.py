"""Real parts of a team deployment, started and stopped by the tests: Caddy, PostgreSQL, `bakehouse server`.

Caddy comes from Debian (`apt-get install caddy`, done by scripts/test.sh). Without it the tests skip, except
under CI=true, where a missing or failing component fails the run.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from components import component_missing

REPO = Path(__file__).resolve().parents[2]
BAKEHOUSE = str(Path(sys.executable).parent / "bakehouse")
SHIPPED_CADDYFILE = REPO / "deploy" / "Caddyfile"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_tool(name: str) -> str:
    """The tool's path; a missing tool skips the test, or fails it under CI (scripts/test.sh installs it)."""
    found = shutil.which(name)
    if found:
        return found
    component_missing(name, "not installed (scripts/test.sh installs it with apt-get)")


def tail(path: Path, limit: int = 6000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return "(no log)"


def wait_until(check, seconds: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + seconds
    last = ""
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as exc:  # noqa: BLE001 - reported if it never succeeds
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached within {seconds:.0f} s ({last})\n{tail(log) if log else ''}")


# ---------------------------------------------------------------------------------------------- Caddy
@dataclass
class Caddy:
    https_port: int
    http_port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    data_dir: Path

    @property
    def url(self) -> str:
        return f"https://localhost:{self.https_port}"

    @property
    def root_ca(self) -> Path:
        """Caddy's own local CA (it signs the certificate of `localhost`)."""
        return self.data_dir / "caddy" / "pki" / "authorities" / "local" / "root.crt"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def start_caddy(workdir: Path, caddyfile: Path, env: dict[str, str], ca: Path | None = None) -> Caddy:
    """``caddy run`` with ``caddyfile``; waits until HTTPS answers /health through it, verified with ``ca``
    (default: Caddy's own local CA, which signs `localhost` when the Caddyfile names no certificate)."""
    caddy = require_tool("caddy")
    https_port, http_port, admin_port = free_port(), free_port(), free_port()
    data_dir = workdir / "caddy-data"
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "caddy.log"
    full_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "XDG_DATA_HOME": str(data_dir),
        "XDG_CONFIG_HOME": str(workdir / "caddy-config"),
        "BAKEHOUSE_HTTPS_PORT": str(https_port),
        "BAKEHOUSE_HTTP_PORT": str(http_port),
        "BAKEHOUSE_CADDY_ADMIN": f"127.0.0.1:{admin_port}",
        **env,
    }
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [caddy, "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=full_env,
            cwd=workdir,
            start_new_session=True,
        )
    handle = Caddy(https_port, http_port, proc, log_path, data_dir)

    def answers() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"caddy exited with {proc.returncode}:\n{tail(log_path)}")
        trusted = ca or handle.root_ca
        if not trusted.exists():
            return False
        context = ssl.create_default_context(cafile=str(trusted))
        with urllib.request.urlopen(handle.url + "/health", timeout=3, context=context) as response:
            return bool(response.status == 200)

    try:
        wait_until(answers, 60, "Caddy serving HTTPS", log_path)
    except BaseException:
        handle.stop()
        raise
    return handle


# ----------------------------------------------------------------------------------------- PostgreSQL
@dataclass
class Postgres:
    """A PostgreSQL of the test's own (scripts/pg_up.sh), so that it can be stopped and started again."""

    directory: str
    bin_dir: str
    port: int
    uri: str

    def _run(self, *args: str) -> None:
        runner = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        subprocess.run([*runner, *args], check=True, capture_output=True, timeout=90)

    def stop(self) -> None:
        self._run(f"{self.bin_dir}/pg_ctl", "-D", f"{self.directory}/data", "-m", "fast", "-w", "stop")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        self._run(
            f"{self.bin_dir}/pg_ctl",
            "-D",
            f"{self.directory}/data",
            "-l",
            f"{self.directory}/server.log",
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
        )

    def remove(self) -> None:
        subprocess.run(
            ["bash", str(REPO / "scripts" / "pg_down.sh")],
            check=False,
            env={**os.environ, "PG_TEST_DIR": self.directory, "PG_TEST_BIN": self.bin_dir},
            capture_output=True,
            timeout=60,
        )


def start_postgres() -> Postgres:
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        require_tool("initdb")
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "pg_up.sh")],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable, "PGPORT": str(free_port())},
        timeout=120,
    )
    if proc.returncode != 0:
        pytest.fail(f"could not start PostgreSQL:\n{proc.stderr}", pytrace=False)
    exported: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        for assignment in line.removeprefix("export ").split():
            key, _, value = assignment.partition("=")
            exported[key] = value
    return Postgres(
        exported["PG_TEST_DIR"],
        exported["PG_TEST_BIN"],
        int(exported["PG_TEST_PORT"]),
        exported["BAKEHOUSE_TEST_POSTGRES_URI"],
    )


# ------------------------------------------------------------------------------------ bakehouse server
@dataclass
class Server:
    """One `bakehouse server` (a parent and its workers) in its own process group, on a fixed port."""

    port: int
    args: list[str]
    env: dict[str, str]
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = field(default=0)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"server-{self.port}-{self.starts}.log"

    def launch(self) -> None:
        self.starts += 1
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [BAKEHOUSE, "server", "--host", "127.0.0.1", "--port", str(self.port), *self.args],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env},
                cwd=self.workdir,
                start_new_session=True,
            )

    def wait_healthy(self, seconds: float = 90.0) -> None:
        proc = self.proc
        assert proc is not None

        def healthy() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"server exited with {proc.returncode}:\n{tail(self.log_path)}")
            with urllib.request.urlopen(self.url + "/health", timeout=3) as response:
                return bool(response.status == 200)

        wait_until(healthy, seconds, f"server on port {self.port} healthy", self.log_path)

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return [int(pid) for pid in children]

    def kill_parent(self) -> None:
        """``kill -9`` of the server's own process: the workers must go with it."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def kill_all(self) -> None:
        """``kill -9`` of the parent and every worker at once (a container or machine dying)."""
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)

    def group_alive(self) -> bool:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def stop(self) -> None:
        if self.proc is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                continue
            if not self.group_alive():
                return


def http_status(
    url: str, headers: dict[str, str] | None = None, context: ssl.SSLContext | None = None
) -> int:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
