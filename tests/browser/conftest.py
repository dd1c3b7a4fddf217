"""Browser-test fixtures: one real ``bakehouse server`` seeded with real runs, one headless Chromium.

The server runs in a subprocess on a free port with a SQLite store and a local artifact root; it is seeded
through the official ``mlflow`` client over REST (see ``seed.py``). Screenshots of every screen are written
by the tests that open them: to ``docs/images/`` with ``BAKEHOUSE_UPDATE_SCREENSHOTS=1``, else to a
temporary folder (see :func:`screenshot_dir`).
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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from components import component_missing
from ui_seed import Seeded, seed

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

pytestmark = pytest.mark.browser


def pytest_configure(config: pytest.Config) -> None:
    # the machine running the suite may be busy: give assertions the same patience as actions
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)


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


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiServer]:
    workdir = tmp_path_factory.mktemp("ui-server")
    db_uri = f"sqlite:///{workdir / 'bakehouse.db'}"
    url, proc, log_path = start_server(workdir, db_uri, workdir / "artifacts")
    try:
        seeded = seed(url, store_uri=db_uri)
        yield UiServer(url, seeded, db_uri, proc, log_path)
    finally:
        stop_server(proc)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Module-scoped on purpose: Playwright's sync API keeps an asyncio loop marked as running in this
    thread while it is open, which breaks any later test (on the same worker) that runs its own loop."""
    if not Path(CHROMIUM).exists():
        component_missing("Chromium", f"not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, ui_server: UiServer, request: pytest.FixtureRequest, tmp_path: Path):
    """A fresh page (1400x900) that fails the test on any uncaught page error; screenshot kept on failure."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.base = ui_server.url
    yield pg
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        shot = tmp_path / "failure.png"
        pg.screenshot(path=str(shot), full_page=True)
        print(f"screenshot of the failure: {shot}\nserver log tail:\n{ui_server.log()}")
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


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
