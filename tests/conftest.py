"""Shared fixtures for every test: real PostgreSQL, a real S3 server (moto), the GCS and Azure emulators
(fake-gcs-server, Azurite), the real `bakehouse server`.

``scripts/test.sh`` starts PostgreSQL, moto and the emulators once and exports ``BAKEHOUSE_TEST_POSTGRES_URI``,
``BAKEHOUSE_TEST_S3_ENDPOINT``, ``BAKEHOUSE_TEST_GCS_ENDPOINT`` and ``BAKEHOUSE_TEST_AZURITE_CONNECTION_STRING``;
when they are absent (a plain ``pytest``), the fixtures start their own throwaway instances once per session
(per xdist worker), so both ways work. Nothing here is mocked.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from components import component_missing, running_in_ci

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = REPO_ROOT / "scripts"
#: The venv that runs the tests; its `bakehouse` entry point is what subprocess tests start.
VENV_BIN = Path(sys.executable).parent

#: Variables that select a tracking/registry target. They are cleared for the session and restored after each
#: test, so neither the developer's shell nor mlflow (which exports MLFLOW_TRACKING_URI / MLFLOW_EXPERIMENT_ID
#: into os.environ on set_tracking_uri / set_experiment) leaks state from one test into the next.
_ENV_PREFIXES = ("BAKEHOUSE_", "MLFLOW_", "AWS_", "AZURE_", "GOOGLE_", "STORAGE_EMULATOR_HOST")
#: variables exported by session-scoped fixtures (S3 credentials and endpoint) for the rest of the session
_SESSION_ENV: dict[str, str] = {}
_TEST_INFRA_VARS = (
    "BAKEHOUSE_TEST_POSTGRES_URI",
    "BAKEHOUSE_TEST_S3_ENDPOINT",
    "BAKEHOUSE_TEST_GCS_ENDPOINT",
    "BAKEHOUSE_TEST_AZURITE_CONNECTION_STRING",
)
_SELECTING_VARS = [
    f"{prefix}{name}"
    for prefix in ("BAKEHOUSE_", "MLFLOW_")
    for name in ("TRACKING_URI", "REGISTRY_URI", "EXPERIMENT_ID", "EXPERIMENT_NAME", "RUN_ID")
]


def pytest_configure(config: pytest.Config) -> None:
    for name in _SELECTING_VARS:
        os.environ.pop(name, None)
    # Subprocesses (servers, CLI, scripts) must be able to cache bytecode, or each one recompiles
    # sklearn/mlflow from source for 10+ seconds.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    # A shell that starts a job in the background (`cmd &`, nohup, some CI runners) ignores SIGINT, and an
    # ignored signal stays ignored across exec: every subprocess a test starts would then shrug off the
    # Ctrl-C that tests of graceful shutdown send. Restore the default so children get SIG_DFL.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    # the compatibility tests import the official client with importorskip: under CI it must be there
    if running_in_ci() and importlib.util.find_spec("mlflow") is None:
        raise pytest.UsageError(
            "CI=true and the official mlflow client is not installed (pip install -e '.[test]'); "
            "its compatibility tests would all be skipped"
        )


def free_port() -> int:
    """A port that was free a moment ago on 127.0.0.1 (the kernel picks it, so parallel workers don't clash)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bakehouse_executable() -> list[str]:
    """The command that runs the `bakehouse` CLI of the venv under test."""
    exe = VENV_BIN / "bakehouse"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("bakehouse")
    if found:
        return [found]
    return [sys.executable, "-m", "bakehouse.cli.main"]


# ------------------------------------------------------------------------------------ global state reset


@pytest.fixture(autouse=True)
def _isolate_global_state() -> Iterator[None]:
    """Restore env vars and reset the fluent APIs (ours and mlflow's) after every test."""
    saved = {k: v for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES)}
    yield
    _reset_bakehouse_fluent()
    _reset_mlflow_fluent()
    for key in [k for k in os.environ if k.startswith(_ENV_PREFIXES)]:
        if key not in saved:
            del os.environ[key]
    os.environ.update(saved)
    os.environ.update(_SESSION_ENV)  # session fixtures first used inside this test keep their variables


def _reset_bakehouse_fluent() -> None:
    fluent = sys.modules.get("bakehouse.client.fluent")  # only if a test imported it: importing costs time
    reset = getattr(fluent, "_reset_for_tests", None)
    if reset is not None:
        reset()


def _reset_mlflow_fluent() -> None:
    if "mlflow" not in sys.modules:  # importing mlflow takes seconds; skip when no test used it
        return
    try:
        import mlflow.tracking.fluent as mlflow_fluent
        from mlflow.tracking._model_registry import utils as registry_utils
        from mlflow.tracking._tracking_service import utils as tracking_utils
    except Exception:  # noqa: BLE001 - a half-imported mlflow has no state worth resetting
        return
    stack = getattr(mlflow_fluent, "_active_run_stack", None)
    if stack is not None:
        with contextlib.suppress(AttributeError, LookupError):  # the layout differs between mlflow versions
            stack.get().clear()
    last = getattr(mlflow_fluent, "_last_active_run_id", None)
    if last is not None and hasattr(last, "set"):
        last.set(None)
    if hasattr(mlflow_fluent, "_active_experiment_id"):
        mlflow_fluent._active_experiment_id = None
    tracking_utils._tracking_uri = None
    registry_utils._registry_uri = None


# ------------------------------------------------------------------------------------------- tracking


@pytest.fixture
def tmp_tracking_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite tracking URI in tmp_path, exported as BAKEHOUSE_TRACKING_URI; cwd is tmp_path."""
    uri = f"sqlite:///{tmp_path / 'bakehouse.db'}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BAKEHOUSE_TRACKING_URI", uri)
    return uri


# ----------------------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="session")
def _postgres_server() -> Iterator[str]:
    """URL of a PostgreSQL server's database (from test.sh, or a throwaway one started here)."""
    uri = os.environ.get("BAKEHOUSE_TEST_POSTGRES_URI")
    if uri:
        yield uri
        return
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")) and not shutil.which("initdb"):
        component_missing("PostgreSQL", "its binaries are not installed (apt-get install postgresql)")
    proc = subprocess.run(
        ["bash", str(SCRIPTS / "pg_up.sh")],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable},
        timeout=120,
    )
    if proc.returncode != 0:
        pytest.fail(f"could not start PostgreSQL:\n{proc.stderr}")
    exported: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        for assignment in line.removeprefix("export ").split():
            key, _, value = assignment.partition("=")
            exported[key] = value
    try:
        yield exported["BAKEHOUSE_TEST_POSTGRES_URI"]
    finally:
        subprocess.run(
            ["bash", str(SCRIPTS / "pg_down.sh")],
            check=False,
            env={**os.environ, **exported},
            capture_output=True,
            timeout=60,
        )


@pytest.fixture
def postgres_uri(_postgres_server: str) -> Iterator[str]:
    """A brand-new, empty PostgreSQL database (``postgresql+psycopg://...``), dropped after the test."""
    import psycopg  # test-only dependency

    base, _, _ = _postgres_server.rpartition("/")
    admin_url = _postgres_server.replace("postgresql+psycopg://", "postgresql://", 1)
    name = f"bh_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        engine_module = sys.modules.get("bakehouse.store.db.engine")
        if engine_module is not None:  # close pooled connections to the database before dropping it
            engine_module.dispose_engines()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ------------------------------------------------------------------------------------------ MySQL


@pytest.fixture
def mysql_uri() -> Iterator[str]:
    """A fresh database on the MySQL/MariaDB server named by BAKEHOUSE_TEST_MYSQL_URI (skipped without one).

    ``scripts/test.sh`` starts a throwaway MariaDB when the Debian package is installed
    (``BAKEHOUSE_TEST_MYSQL=1 bash scripts/test.sh`` installs it first).
    """
    base = os.environ.get("BAKEHOUSE_TEST_MYSQL_URI")
    if not base:
        component_missing(
            "MariaDB", "no server (scripts/test.sh starts one; or set BAKEHOUSE_TEST_MYSQL_URI)"
        )
    import pymysql  # test-only dependency
    from sqlalchemy.engine import make_url

    url = make_url(base)
    name = f"bh_{uuid.uuid4().hex[:12]}"
    connection = pymysql.connect(
        host=url.host, port=url.port or 3306, user=url.username, password=url.password or ""
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        yield url.set(database=name).render_as_string(hide_password=False)
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name}")
    finally:
        connection.close()


# --------------------------------------------------------------------------------------------- S3


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """URL of a moto S3 server on 127.0.0.1, with fake AWS credentials exported for the session."""
    session_env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
    endpoint = os.environ.get("BAKEHOUSE_TEST_S3_ENDPOINT")
    server = None
    if not endpoint:
        from moto.server import ThreadedMotoServer  # test-only dependency

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
    session_env["BAKEHOUSE_S3_ENDPOINT_URL"] = endpoint
    session_env["MLFLOW_S3_ENDPOINT_URL"] = endpoint
    previous = {k: os.environ.get(k) for k in session_env}
    os.environ.update(session_env)
    _SESSION_ENV.update(session_env)  # re-applied after every test: see _isolate_global_state
    try:
        yield endpoint
    finally:
        for key in session_env:
            _SESSION_ENV.pop(key, None)
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if server is not None:
            server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh, empty bucket on the moto server; its name is returned (use ``s3://<name>/...``)."""
    import boto3  # heavy; only S3 tests pay for it
    from botocore.exceptions import BotoCoreError, ClientError

    for key in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
        "BAKEHOUSE_S3_ENDPOINT_URL",
    ):
        monkeypatch.setenv(key, _SESSION_ENV[key])  # survive a test that clears the environment
    name = f"bh-{uuid.uuid4().hex[:20]}"
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=name)
    try:
        yield name
    finally:
        # the server may already be gone (the bucket dies with it), or a test deleted the bucket itself
        with contextlib.suppress(BotoCoreError, ClientError):
            paginator = client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=name):
                keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
                if keys:
                    client.delete_objects(Bucket=name, Delete={"Objects": keys})
            client.delete_bucket(Bucket=name)


# ------------------------------------------------------------------------- GCS and Azure emulators


def _run_up_script(script: str, component: str) -> dict[str, str]:
    """Run scripts/<script> (an emulator start script) and return the variables it exports; fail if it can't."""
    proc = subprocess.run(
        ["bash", str(SCRIPTS / script)],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable},
        timeout=300,
    )
    if proc.returncode != 0:
        pytest.fail(f"could not start {component}:\n{proc.stderr}", pytrace=False)
    exported: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        for assignment in shlex.split(line.removeprefix("export ")):
            key, _, value = assignment.partition("=")
            exported[key] = value
    return exported


@contextlib.contextmanager
def _session_environment(variables: dict[str, str]) -> Iterator[None]:
    """Export ``variables`` for the rest of the session (this process, and every server or CLI it starts)."""
    previous = {key: os.environ.get(key) for key in variables}
    os.environ.update(variables)
    _SESSION_ENV.update(variables)  # re-applied after every test: see _isolate_global_state
    try:
        yield
    finally:
        for key, value in previous.items():
            _SESSION_ENV.pop(key, None)
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[str]:
    """URL of a fake-gcs-server on 127.0.0.1, exported as STORAGE_EMULATOR_HOST (google-cloud-storage's own
    variable: the client then talks to it, anonymously, exactly as it talks to Google Cloud Storage)."""
    url = os.environ.get("BAKEHOUSE_TEST_GCS_ENDPOINT")
    started: dict[str, str] = {}
    if not url:
        started = _run_up_script("gcs_up.sh", "fake-gcs-server")
        url = started["BAKEHOUSE_TEST_GCS_ENDPOINT"]
    from bakehouse.store.artifacts import gcs

    try:
        with _session_environment({"STORAGE_EMULATOR_HOST": url}):
            gcs.reset_clients()
            yield url
    finally:
        gcs.reset_clients()
        if started:
            _stop_emulator(started["GCS_TEST_PID"], started["GCS_TEST_DIR"])


@pytest.fixture(scope="session")
def azurite() -> Iterator[str]:
    """The connection string of an Azurite blob service on 127.0.0.1, exported as
    AZURE_STORAGE_CONNECTION_STRING (how azure-storage-blob, and MLflow, are pointed at an account)."""
    connection_string = os.environ.get("BAKEHOUSE_TEST_AZURITE_CONNECTION_STRING")
    started: dict[str, str] = {}
    if not connection_string:
        started = _run_up_script("azurite_up.sh", "Azurite")
        connection_string = started["BAKEHOUSE_TEST_AZURITE_CONNECTION_STRING"]
    try:
        with _session_environment({"AZURE_STORAGE_CONNECTION_STRING": connection_string}):
            yield connection_string
    finally:
        if started:
            _stop_emulator(started["AZURITE_TEST_PID"], started["AZURITE_TEST_DIR"])


def _stop_emulator(pid: str, directory: str) -> None:
    subprocess.run(
        ["bash", str(SCRIPTS / "emulator_down.sh")],
        check=False,
        env={**os.environ, "EMULATOR_PID": pid, "EMULATOR_DIR": directory},
        timeout=60,
    )


@pytest.fixture
def gcs_bucket(gcs_emulator: str) -> Iterator[str]:
    """A fresh bucket on the GCS emulator (use ``gs://<name>/...``), emptied and removed afterwards."""
    from google.cloud import storage  # test extra

    client = storage.Client()
    name = f"bh-{uuid.uuid4().hex[:20]}"
    client.create_bucket(name)
    try:
        yield name
    finally:
        with contextlib.suppress(Exception):  # the emulator may be gone already; the bucket dies with it
            for blob in client.list_blobs(name):
                blob.delete()
            client.bucket(name).delete()


@pytest.fixture
def azure_container(azurite: str) -> Iterator[str]:
    """A fresh container on Azurite (use ``wasbs://<name>@devstoreaccount1.blob.core.windows.net/...``)."""
    from azure.storage.blob import BlobServiceClient  # test extra

    service = BlobServiceClient.from_connection_string(azurite)
    name = f"bh-{uuid.uuid4().hex[:20]}"
    service.create_container(name)
    try:
        yield name
    finally:
        with contextlib.suppress(Exception):  # the emulator may be gone already; the container dies with it
            service.delete_container(name)


# ------------------------------------------------------------------------------------- the server


class ServerStartError(RuntimeError):
    pass


def wait_for_server(url: str, proc: subprocess.Popen[bytes], log_path: Path, timeout: float = 60.0) -> None:
    """Poll ``url/health`` until it answers 200; on exit or timeout, fail with the server's log."""
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerStartError(
                f"bakehouse server exited with code {proc.returncode} before answering:\n{_tail(log_path)}"
            )
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(exc)
        time.sleep(0.1)
    raise ServerStartError(
        f"bakehouse server at {url} not healthy after {timeout:.0f} s ({last_error}):\n{_tail(log_path)}"
    )


def _tail(path: Path, limit: int = 20000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return text[-limit:]


@dataclass
class ServerHandle:
    """A running `bakehouse server` subprocess."""

    url: str
    port: int
    log_path: Path
    proc: subprocess.Popen[bytes]
    backend_store_uri: str
    artifacts_destination: str | None
    _stopped: bool = field(default=False, repr=False)

    @property
    def log(self) -> str:
        return _tail(self.log_path)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the whole process group (uvicorn workers included): SIGTERM, then SIGKILL."""
        if self._stopped:
            return
        self._stopped = True
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # stragglers in the group, if any
        except ProcessLookupError:
            pass
        if self.proc.poll() is None:
            self.proc.wait(timeout=5)


ServerFactory = Callable[..., ServerHandle]


@pytest.fixture
def bakehouse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    """Factory: ``start(backend_store_uri=None, artifacts_destination=None, extra_args=(), env=None)``.

    Starts ``bakehouse server --host 127.0.0.1 --port <free>`` in its own session and waits for /health.
    Defaults: a SQLite file and an artifacts directory in a fresh temp dir. Every server started is stopped
    (whole process group) at teardown.
    """
    started: list[ServerHandle] = []

    def start(
        backend_store_uri: str | None = None,
        artifacts_destination: str | None = None,
        extra_args: list[str] | tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        timeout: float = 60.0,
    ) -> ServerHandle:
        workdir = tmp_path_factory.mktemp("server")
        if backend_store_uri is None:
            backend_store_uri = f"sqlite:///{workdir / 'bakehouse.db'}"
        if artifacts_destination is None:
            artifacts_destination = str(workdir / "artifacts")
        last_error: ServerStartError | None = None
        for attempt in range(3):  # a free port can be taken between picking and binding; retry then
            port = free_port()
            log_path = workdir / f"server-{port}.log"
            cmd = [
                *bakehouse_executable(),
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--backend-store-uri",
                backend_store_uri,
            ]
            if artifacts_destination:
                cmd += ["--artifacts-destination", artifacts_destination]
            cmd += list(extra_args)
            with open(log_path, "wb") as log_file:
                proc = subprocess.Popen(
                    cmd,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=workdir,
                    env={**os.environ, **(env or {})},
                    start_new_session=True,
                )
            handle = ServerHandle(
                url=f"http://127.0.0.1:{port}",
                port=port,
                log_path=log_path,
                proc=proc,
                backend_store_uri=backend_store_uri,
                artifacts_destination=artifacts_destination,
            )
            started.append(handle)
            try:
                wait_for_server(handle.url, proc, log_path, timeout=timeout)
                return handle
            except ServerStartError as exc:
                handle.stop()
                last_error = exc
                if "address already in use" not in handle.log.lower():
                    break
        pytest.fail(str(last_error), pytrace=False)

    yield start
    for handle in started:
        handle.stop()


# ------------------------------------------------------------------------------------------- Spark


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local Spark (``local[2]``, Java from Debian) for the session: starting one takes ~15 s.

    The Python workers run this venv's interpreter (PYSPARK_PYTHON), so they have Bakehouse and the model
    libraries. Without Java the tests fail under CI=true and skip elsewhere.
    """
    if not shutil.which("java"):
        component_missing("Java", "not installed (apt-get install default-jre-headless): Spark cannot start")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"  # loopback only
    from pyspark.sql import SparkSession  # test extra

    session = (
        SparkSession.builder.master("local[2]")
        .appName("bakehouse-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # small Arrow batches: a few thousand rows then cross many batches, as a big job does
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "500")
        .getOrCreate()
    )
    try:
        yield session
    finally:
        session.stop()
