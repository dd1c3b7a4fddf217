"""With ``--auth`` the UI asks for a sign-in, shows only what the user may read, and writes with CSRF."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from browser_harness import shot, start_server, stop_server
from playwright.sync_api import expect

ADMIN = ("admin", "ui-admin-password")


@pytest.fixture(scope="module")
def auth_ui(tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("ui-auth")
    import os

    os.environ["BAKEHOUSE_ADMIN_PASSWORD"] = ADMIN[1]
    try:
        url, proc, _ = start_server(
            workdir, f"sqlite:///{workdir / 'auth.db'}", workdir / "artifacts", extra_args=("--auth",)
        )
    finally:
        os.environ.pop("BAKEHOUSE_ADMIN_PASSWORD", None)
    with httpx.Client(base_url=url, auth=ADMIN, timeout=30) as admin:
        assert (
            admin.post(
                "/api/2.0/mlflow/users/create", json={"username": "alice", "password": "alice-password"}
            ).status_code
            == 200
        )
        visible = admin.post("/api/2.0/mlflow/experiments/create", json={"name": "shared-with-alice"}).json()[
            "experiment_id"
        ]
        hidden = admin.post("/api/2.0/mlflow/experiments/create", json={"name": "admins-only"}).json()[
            "experiment_id"
        ]
        grant = "/api/2.0/mlflow/experiments/permissions/create"
        assert (
            admin.post(
                grant, json={"experiment_id": hidden, "username": "alice", "permission": "NO_PERMISSIONS"}
            ).status_code
            == 200
        )
        assert (
            admin.post(
                grant, json={"experiment_id": visible, "username": "alice", "permission": "READ"}
            ).status_code
            == 200
        )
        editable = admin.post("/api/2.0/mlflow/experiments/create", json={"name": "alice-edits"}).json()[
            "experiment_id"
        ]
        assert (
            admin.post(
                grant, json={"experiment_id": editable, "username": "alice", "permission": "EDIT"}
            ).status_code
            == 200
        )
        run = admin.post(
            "/api/2.0/mlflow/runs/create",
            json={
                "experiment_id": visible,
                "run_name": "read-only-run",
                "tags": [{"key": "team", "value": "vision"}],
            },
        ).json()["run"]
        admin.post(
            "/api/2.0/mlflow/runs/log-batch",
            json={"run_id": run["info"]["run_id"], "params": [{"key": "lr", "value": "0.1"}]},
        )
    yield url
    stop_server(proc)


def test_sign_in_hides_unreadable_experiments_and_writes_with_csrf(
    browser, auth_ui: str, tmp_path: Path
) -> None:
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
    shot(page, "signed-in")
    page.locator(".topbar .who button").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    context.close()
    assert not errors, errors
    with httpx.Client(base_url=auth_ui, auth=ADMIN, timeout=30) as admin:
        names = [
            e["name"]
            for e in admin.get("/api/2.0/mlflow/experiments/search", params={"max_results": 100}).json()[
                "experiments"
            ]
        ]
    assert "made-in-the-browser" in names


def _sign_in(page, url: str, user: str, password: str) -> None:
    page.goto(url + "/")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".topbar .who")).to_contain_text(user)


def test_read_permission_hides_writes_and_a_refused_write_says_why(browser, auth_ui: str) -> None:
    context = browser.new_context(viewport={"width": 1300, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _sign_in(page, auth_ui, "alice", "alice-password")
    # experiments: READ -> no buttons, a "read only" marker; EDIT -> rename and tags, but no delete (MANAGE)
    shared = page.locator("table.exps tr", has_text="shared-with-alice")
    expect(shared.locator("td.actions .read-only")).to_have_text("read only")
    expect(shared.locator("td.actions button")).to_have_count(0)
    edits = page.locator("table.exps tr", has_text="alice-edits")
    expect(edits.get_by_role("button", name="Rename")).to_be_visible()
    expect(edits.get_by_role("button", name="Tags")).to_be_visible()
    expect(edits.get_by_role("button", name="Delete")).to_have_count(0)
    # runs table of the READ experiment: no delete / restore, selection and compare still work
    shared.get_by_role("link", name="shared-with-alice").click()
    expect(page.locator(".grid-body .gr", has_text="read-only-run")).to_have_count(1)
    expect(page.locator(".toolbar .read-only")).to_be_visible()
    expect(page.get_by_role("button", name="Delete")).to_be_hidden()
    expect(page.get_by_role("button", name="Restore")).to_be_hidden()
    page.locator(".gr", has_text="read-only-run").locator("input[type=checkbox]").check()
    expect(page.get_by_role("button", name="Compare")).to_be_enabled()
    # run page: the description and the tags are shown but not editable
    page.locator(".gr", has_text="read-only-run").get_by_role("link", name="read-only-run").click()
    expect(page.get_by_role("heading", name="Tags")).to_be_visible()
    expect(page.get_by_text("vision")).to_be_visible()
    description = page.locator("section.card", has=page.get_by_role("heading", name="Description"))
    expect(description.locator(".read-only")).to_be_visible()
    expect(description.get_by_role("button", name="Edit")).to_have_count(0)
    expect(page.get_by_role("button", name="Add tag")).to_have_count(0)
    expect(page.get_by_role("button", name="Delete tag team")).to_have_count(0)
    # the permission changes while the page shows the buttons: the refusal is a clear message, not silence
    page.goto(auth_ui + "/#/")
    edits = page.locator("table.exps tr", has_text="alice-edits")
    expect(edits.get_by_role("button", name="Rename")).to_be_visible()
    with httpx.Client(base_url=auth_ui, auth=ADMIN, timeout=30) as admin:
        eid = admin.get(
            "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": "alice-edits"}
        ).json()["experiment"]["experiment_id"]
        r = admin.patch(
            "/api/2.0/mlflow/experiments/permissions/update",
            json={"experiment_id": eid, "username": "alice", "permission": "READ"},
        )
        assert r.status_code == 200, r.text
    edits.get_by_role("button", name="Rename").click()
    page.get_by_label("New name").fill("renamed-by-alice")
    page.get_by_role("button", name="OK").click()
    toast = page.locator("#toasts .toast.error[role=alert]")
    expect(toast).to_contain_text("Permission denied")
    expect(toast).to_contain_text("alice")
    with httpx.Client(base_url=auth_ui, auth=ADMIN, timeout=30) as admin:
        assert (
            admin.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": eid}).json()["experiment"][
                "name"
            ]
            == "alice-edits"
        )
    # after the refusal the UI re-reads the permissions: the next drawing has no rename button
    page.reload()
    expect(page.locator("table.exps tr", has_text="alice-edits").locator(".read-only")).to_be_visible()
    context.close()
    assert not errors, errors
