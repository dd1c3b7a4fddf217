"""Weak passwords refused with the reason, everywhere a password is set; CORS closed to other local origins,
even for credentialed requests. Against a real ``bakehouse server --auth`` over HTTP."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from auth_support import ADMIN, PASSWORD, AuthServer, server_start_refused

WEAK = [
    ("12345678", "at least 12 characters"),
    ("short-pw", "at least 12 characters"),
    ("123qweasdzxc", "30,000 most common passwords"),
    ("1qaz2wsx3edc", "30,000 most common passwords"),
    ("passwordpassword", "too easy to guess"),
    ("123456789012", "too easy to guess"),
    ("qwertyuiopasdfgh", "too easy to guess"),
]


@pytest.mark.parametrize(("password", "reason"), WEAK)
def test_weak_passwords_are_refused_for_new_users(
    auth_server: AuthServer, password: str, reason: str
) -> None:
    name = f"weak-{abs(hash(password)) % 10**8}"
    with auth_server.http(*ADMIN) as admin:
        made = admin.post("/api/2.0/mlflow/users/create", json={"username": name, "password": password})
        assert made.status_code == 400, made.text
        assert made.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert reason in made.json()["message"]
        assert admin.get("/api/2.0/mlflow/users/get", params={"username": name}).status_code == 404


def test_weak_passwords_are_refused_on_change_and_the_old_one_keeps_working(auth_server: AuthServer) -> None:
    with auth_server.http(*ADMIN) as admin:
        made = admin.post(
            "/api/2.0/mlflow/users/create", json={"username": "changer", "password": "first-long-passphrase"}
        )
        assert made.status_code == 200, made.text
        for weak, reason in WEAK:
            changed = admin.patch(
                "/api/2.0/mlflow/users/update-password", json={"username": "changer", "password": weak}
            )
            assert changed.status_code == 400 and reason in changed.json()["message"], changed.text
        with auth_server.http("changer", "first-long-passphrase") as changer:
            assert changer.get("/api/2.0/mlflow/users/current").status_code == 200
        strong = admin.patch(
            "/api/2.0/mlflow/users/update-password",
            json={"username": "changer", "password": "second long passphrase 2026"},
        )
        assert strong.status_code == 200, strong.text


def test_a_weak_first_administrator_password_stops_the_server_with_the_reason(tmp_path: Path) -> None:
    proc = server_start_refused(tmp_path, {"BAKEHOUSE_ADMIN_PASSWORD": "12345678"})
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "at least 12 characters" in output and "Traceback" not in output
    assert "12345678" not in output  # the password itself is never echoed


def test_credentialed_requests_from_another_local_port_get_no_cors_grant(auth_server: AuthServer) -> None:
    port = urlsplit(auth_server.url).port
    assert port is not None
    with auth_server.http("editor", PASSWORD) as editor:
        assert editor.get("/api/2.0/mlflow/users/current").status_code == 200  # the credentials are good
        for origin in (
            f"http://localhost:{port + 1}",
            f"http://127.0.0.1:{port + 1}",
            "http://localhost:3000",
        ):
            read = editor.get("/api/2.0/mlflow/experiments/search", headers={"Origin": origin})
            assert read.status_code == 200 and "access-control-allow-origin" not in read.headers
            write = editor.post(
                "/api/2.0/mlflow/experiments/create",
                json={"name": f"via-{origin}"},
                headers={"Origin": origin},
            )
            assert write.status_code == 403 and "access-control-allow-origin" not in write.headers
            preflight = editor.request(
                "OPTIONS",
                "/api/2.0/mlflow/experiments/create",
                headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
            )
            assert preflight.status_code == 403
            found = editor.get(
                "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": f"via-{origin}"}
            )
            assert found.status_code == 404
        own = f"http://127.0.0.1:{port}"
        granted = editor.get("/api/2.0/mlflow/experiments/search", headers={"Origin": own})
        assert granted.headers["access-control-allow-origin"] == own
