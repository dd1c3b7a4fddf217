"""The UI under ``--static-prefix``: every URL it uses is relative, so it works below any path."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from browser_harness import start_server, stop_server
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.timeout(90)]


def test_ui_under_a_static_prefix(browser, tmp_path: Path) -> None:
    url, proc, _log = start_server(
        tmp_path,
        f"sqlite:///{tmp_path / 'db'}",
        tmp_path / "art",
        extra_args=("--static-prefix", "/mlflow"),
        prefix="/mlflow",
    )
    try:
        r = httpx.post(f"{url}/mlflow/api/2.0/mlflow/experiments/create", json={"name": "under-a-prefix"})
        assert r.status_code == 200, r.text
        assert httpx.get(f"{url}/mlflow", follow_redirects=False).headers["location"].endswith("/mlflow/")
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{url}/mlflow/#/")
        expect(page.get_by_role("link", name="under-a-prefix")).to_be_visible(timeout=15_000)
        page.get_by_role("link", name="under-a-prefix").click()
        expect(page.locator(".empty")).to_contain_text("no runs yet", timeout=15_000)
        context.close()
    finally:
        stop_server(proc)
