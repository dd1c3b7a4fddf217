"""With ``--auth`` the UI asks for a sign-in, shows only what the user may read, and writes with CSRF."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from conftest import start_server, stop_server
from playwright.sync_api import expect

ADMIN = ("admin", "ui-admin-password")


@pytest.fixture(scope="module")
def auth_ui(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    workdir = tmp_path_factory.mktemp("ui-auth")
    import os

    os.environ["BAKEHOUSE_ADMIN_PASSWORD"] = ADMIN[1]
    try:
        url, proc, _ = start_server(workdir, f"sqlite:///{workdir / 'auth.db'}", workdir / "artifacts",
                                    extra_args=("--auth",))
    finally:
        os.environ.pop("BAKEHOUSE_ADMIN_PASSWORD", None)
    with httpx.Client(base_url=url, auth=ADMIN, timeout=30) as admin:
        assert admin.post("/api/2.0/mlflow/users/create", json={"username": "alice", "password": "alice-password"}).status_code == 200
        visible = admin.post("/api/2.0/mlflow/experiments/create", json={"name": "shared-with-alice"}).json()["experiment_id"]
        hidden = admin.post("/api/2.0/mlflow/experiments/create", json={"name": "admins-only"}).json()["experiment_id"]
        grant = "/api/2.0/mlflow/experiments/permissions/create"
        assert admin.post(grant, json={"experiment_id": hidden, "username": "alice", "permission": "NO_PERMISSIONS"}).status_code == 200
        assert admin.post(grant, json={"experiment_id": visible, "username": "alice", "permission": "READ"}).status_code == 200
    yield url
    stop_server(proc)


def test_sign_in_hides_unreadable_experiments_and_writes_with_csrf(browser, auth_ui: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(auth_ui + "/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong username or password")
    page.get_by_label("Password").fill("alice-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("shared-with-alice")).to_be_visible()
    expect(page.locator(".topbar .who")).to_contain_text("alice")
    assert page.get_by_text("admins-only").count() == 0
    cookies = {c["name"]: c for c in context.cookies()}
    assert cookies["bakehouse_session"]["httpOnly"] is True
    assert cookies["bakehouse_session"]["sameSite"] == "Strict"
    # a write from the page carries the CSRF token (creating an experiment needs no grant)
    status = page.evaluate("""async () => {
        const api = await import('./static-files/' + document.querySelector('script[type=module]').src.split('/static-files/')[1].replace('app.js', 'api.js'));
        const out = await api.post('experiments/create', {name: 'made-in-the-browser'});
        return out.experiment_id ? 'created' : 'no id';
    }""")
    assert status == "created"
    page.screenshot(path=str(Path(__file__).resolve().parents[2] / "docs" / "images" / "ui-signed-in.png"))
    page.locator(".topbar .who button").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    context.close()
    assert not errors, errors
    with httpx.Client(base_url=auth_ui, auth=ADMIN, timeout=30) as admin:
        names = [e["name"] for e in admin.get("/api/2.0/mlflow/experiments/search", params={"max_results": 100}).json()["experiments"]]
    assert "made-in-the-browser" in names
