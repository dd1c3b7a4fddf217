"""Browser-test fixtures: one real ``bakehouse server`` seeded with real runs, one headless Chromium.

The server runs in a subprocess on a free port with a SQLite store and a local artifact root; it is seeded
through the official ``mlflow`` client over REST (see ``seed.py``). Screenshots of every screen are written
by the tests that open them: to ``docs/images/`` with ``BAKEHOUSE_UPDATE_SCREENSHOTS=1``, else to a
temporary folder (see :func:`screenshot_dir`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_harness import CHROMIUM, CHROMIUM_ARGS, UiServer, start_server, stop_server
from components import component_missing
from ui_seed import seed

pytestmark = pytest.mark.browser


def pytest_configure(config: pytest.Config) -> None:
    # the machine running the suite may be busy: give assertions the same patience as actions
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)


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
