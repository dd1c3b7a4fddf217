"""Shared by the migration tests: fixture stores made by the real MLflow (3.17.2 from the test venv, 2.22.5 from a venv of its own) and the
helpers the migration tests share: reading a store through the official client, a Bakehouse server in front
of a destination, byte digests.

Fixture stores are written once per test session into a directory the xdist workers share (under a lock) and
copied for each test, so every test starts from the pristine bytes MLflow wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

REPO_ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


HERE = Path(__file__).parent
WRITER = HERE / "mlflow_writer.py"
DUMP = HERE / "mlflow_dump.py"
MLFLOW2_VERSION = "2.22.5"
#: what the 2.x venv needs besides MLflow (SQLAlchemy 2.1 removed a pool class MLflow 2.22 imports)
MLFLOW2_PINS = (f"mlflow=={MLFLOW2_VERSION}", "sqlalchemy<2.1")
VENV_BIN = Path(sys.executable).parent
BAKEHOUSE = [str(VENV_BIN / "bakehouse")]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tree_digest(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every file below ``root`` (a store's exact bytes)."""
    return {p.relative_to(root).as_posix(): sha256_of(p) for p in sorted(root.rglob("*")) if p.is_file()}


def run_python(python: str, args: list[str], timeout: float = 600, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [python, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true", "PYTHONWARNINGS": "ignore", **(env or {})},
        cwd=str(HERE),
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(f"{Path(args[0]).name} failed ({proc.returncode}):\n{proc.stderr[-6000:]}")
    return proc.stdout


def dump(uri: str, python: str = sys.executable, content: bool = True) -> dict[str, Any]:
    """Everything at ``uri`` as the official ``mlflow`` client reads it."""
    args = [str(DUMP), uri] + ([] if content else ["--no-content"])
    return json.loads(run_python(python, args))


# ------------------------------------------------------------------------------------------ MLflow 2.x


def _build_mlflow2_venv(target: Path) -> str:
    python = target / "bin" / "python"
    marker = target / ".complete"
    if marker.exists() and marker.read_text() == " ".join(MLFLOW2_PINS):  # the same marker as scripts/lib.sh
        return str(python)
    uv = VENV_BIN / "uv"
    shutil.rmtree(target, ignore_errors=True)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([str(uv), "venv", "-q", "-p", base, str(target)], check=True, timeout=300)
    subprocess.run(
        [str(uv), "pip", "install", "-q", "-p", str(python), *MLFLOW2_PINS], check=True, timeout=900
    )
    marker.write_text(" ".join(MLFLOW2_PINS))
    return str(python)


@pytest.fixture(scope="session")
def mlflow2_python() -> str:
    """The interpreter of a venv holding MLflow 2.22.5 (made by scripts/test.sh, or here, and cached)."""
    explicit = os.environ.get("BAKEHOUSE_TEST_MLFLOW2_PYTHON")
    if explicit and Path(explicit).exists():
        return explicit
    target = REPO_ROOT / ".venv-mlflow2"
    try:
        with FileLock(str(target) + ".lock", timeout=1200):
            return _build_mlflow2_venv(target)
    except (subprocess.SubprocessError, OSError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"could not install MLflow {MLFLOW2_VERSION} into {target}: {exc}")
        pytest.skip(f"MLflow {MLFLOW2_VERSION} could not be installed here: {exc}")


# ------------------------------------------------------------------------------------------ fixtures


@dataclass
class FixtureStore:
    """A store MLflow wrote: ``uri`` to open it, ``root`` its files, ``made`` the writer's summary."""

    kind: str  # "sqlite" | "files"
    mlflow: str
    root: Path
    made: dict[str, Any]

    @property
    def uri(self) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.root / 'mlflow.db'}"
        return str(self.root / "mlruns")

    @property
    def db(self) -> Path:
        return self.root / "mlflow.db"

    def copy_to(self, target: Path) -> FixtureStore:
        """A private copy; artifact paths inside the store still point at the shared original."""
        shutil.copytree(self.root, target, symlinks=True)
        return FixtureStore(self.kind, self.mlflow, target, self.made)


def _fixture_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by the workers of this session
    path = root / "mlflow-fixtures"
    path.mkdir(exist_ok=True)
    return path


def _make_stores(
    base: Path, python: str, label: str, specs: list[tuple[str, bool]]
) -> dict[str, FixtureStore]:
    """One writer process fills every store of one MLflow release (an import costs more than the writing)."""
    with FileLock(str(base / f"{label}.lock"), timeout=1800):
        stores = {}
        targets = []
        for kind, big in specs:
            name = f"{label}-{kind}{'-big' if big else ''}"
            root = base / name
            stores[name] = root
            if (root / "made.json").exists():
                continue
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            uri = f"sqlite:///{root / 'mlflow.db'}" if kind == "sqlite" else str(root / "mlruns")
            targets.append(f"{uri}::{root / 'artifacts'}::{'big' if big else ''}")
        if targets:
            out = run_python(python, [str(WRITER), *targets], timeout=1200).strip().splitlines()
            pending = [n for n, r in stores.items() if not (r / "made.json").exists()]
            for name, line in zip(pending, out, strict=True):
                (stores[name] / "made.json").write_text(line)
        return {
            name: FixtureStore(
                "sqlite" if "-sqlite" in name else "files",
                label,
                root,
                json.loads((root / "made.json").read_text()),
            )
            for name, root in stores.items()
        }


@pytest.fixture(scope="session")
def mlflow3_stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, FixtureStore]:
    """MLflow 3.17.2's SQLite database (with the 100k-point history and the 100 MB file) and file store."""
    return _make_stores(
        _fixture_dir(tmp_path_factory), sys.executable, "mlflow3", [("sqlite", True), ("files", False)]
    )


@pytest.fixture(scope="session")
def mlflow2_stores(tmp_path_factory: pytest.TempPathFactory, mlflow2_python: str) -> dict[str, FixtureStore]:
    """MLflow 2.22.5's SQLite database and file store."""
    return _make_stores(
        _fixture_dir(tmp_path_factory), mlflow2_python, "mlflow2", [("sqlite", False), ("files", False)]
    )


def fill_databases(uris: list[str], artifact_root: Path) -> list[dict[str, Any]]:
    """MLflow 3.17.2 writing the fixture into server databases (PostgreSQL, MySQL), in one process."""
    targets = [f"{uri}::{artifact_root / str(i)}::" for i, uri in enumerate(uris)]
    out = run_python(sys.executable, [str(WRITER), *targets], timeout=900)
    return [json.loads(line) for line in out.strip().splitlines()]


# ------------------------------------------------------------------------------------------ servers


@pytest.fixture
def read_through_server(bakehouse_server: Callable[..., Any]) -> Callable[..., dict[str, Any]]:
    """``read(dest_uri, python=...)``: the official client's view of a Bakehouse store, through a real
    ``bakehouse server`` in front of it (copied artifacts are read where the migration put them)."""

    def read(backend_store_uri: str, python: str = sys.executable) -> dict[str, Any]:
        server = bakehouse_server(backend_store_uri=backend_store_uri)
        try:
            return dump(server.url, python)
        finally:
            server.stop()

    return read


@dataclass
class MlflowServer:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=10)
                if sig == signal.SIGTERM:
                    time.sleep(0.5)  # let the helper processes of its group go too, then make sure
            except subprocess.TimeoutExpired:
                continue


def start_mlflow_server(workdir: Path) -> MlflowServer:
    """``mlflow server`` (3.17.2) on a new SQLite database, serving artifacts, in its own process group."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = workdir / "mlflow-server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                str(VENV_BIN / "mlflow"),
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
                "--backend-store-uri",
                f"sqlite:///{workdir / 'mlflow.db'}",
                "--artifacts-destination",
                str(workdir / "artifacts"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=workdir,
            start_new_session=True,
        )
    return MlflowServer(f"http://127.0.0.1:{port}", proc, log)


def wait_for_mlflow(server: MlflowServer, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise AssertionError(f"mlflow server exited:\n{server.log.read_text()[-5000:]}")
        try:
            with urllib.request.urlopen(server.url + "/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    server.stop()
    raise AssertionError(f"mlflow server not healthy after {timeout} s:\n{server.log.read_text()[-5000:]}")


@pytest.fixture(scope="module")
def mlflow_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MlflowServer, MlflowServer]]:
    """Two real MLflow servers started together: one the team's (filled by MLflow's client), one empty."""
    base = tmp_path_factory.mktemp("mlflow-servers")
    servers = (start_mlflow_server(base / "team"), start_mlflow_server(base / "empty"))
    try:
        for server in servers:
            wait_for_mlflow(server)
        yield servers
    finally:
        for server in servers:
            server.stop()
