"""API tokens (through the real `bakehouse tokens` CLI and the official mlflow client) and browser sessions
(signed cookie + CSRF header) against a real ``bakehouse server --auth``; secrets never reach the server log.

The server here is started with ``BAKEHOUSE_SECRET_KEY`` so the test can sign cookies the way another
worker process of the same deployment would (and show that any other key is refused).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from auth_support import ADMIN, PASSWORD, start_auth_server, stop_server

SECRET_KEY = "test-session-key-" + "k" * 32
CURRENT_USER = "/api/2.0/mlflow/users/current"
CREATE_EXPERIMENT = "/api/2.0/mlflow/experiments/create"
LOGIN, LOGOUT, SESSION = "/bakehouse/auth/login", "/bakehouse/auth/logout", "/bakehouse/auth/session"
COOKIE = "bakehouse_session"


@dataclass
class Server:
    url: str
    log_path: Path
    db_uri: str

    def http(self, auth: tuple[str, str] | None = None, address: str = "127.0.0.1") -> httpx.Client:
        """A client leaving from ``address``: tests that fail credentials on purpose each use their own, since
        the server throttles failures per client address."""
        return httpx.Client(
            base_url=self.url, auth=auth, timeout=30, transport=httpx.HTTPTransport(local_address=address)
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("tokens-sessions")
    proc, url, log_path = start_auth_server(workdir, env={"BAKEHOUSE_SECRET_KEY": SECRET_KEY})
    with httpx.Client(base_url=url, auth=ADMIN, timeout=30) as admin:
        for name in ("owner", "other", "namer"):
            created = admin.post(
                "/api/2.0/mlflow/users/create", json={"username": name, "password": PASSWORD}
            )
            assert created.status_code == 200, created.text
    yield Server(url, Path(log_path), f"sqlite:///{workdir / 'auth.db'}")
    stop_server(proc)


def assert_not_logged(server: Server, *secrets: str) -> None:
    log = server.log()
    for secret in secrets:
        assert secret and secret not in log, f"a credential ({secret[:6]}...) appears in the server log"


# ------------------------------------------------------------------------------------------- CLI
def tokens_command() -> list[str]:
    """The real `bakehouse tokens` command of the venv under test."""
    return [str(Path(sys.executable).parent / "bakehouse"), "tokens"]


def run_tokens(server: Server, *args: str, username: str = "owner") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BAKEHOUSE_", "MLFLOW_"))}
    env.update(
        BAKEHOUSE_TRACKING_URI=server.url,
        BAKEHOUSE_TRACKING_USERNAME=username,
        BAKEHOUSE_TRACKING_PASSWORD=PASSWORD,
        COLUMNS="200",
    )
    return subprocess.run(
        [*tokens_command(), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_cli_token_lifecycle_with_bearer_and_the_official_client(server: Server, tmp_path: Path) -> None:
    created = run_tokens(server, "create", "--name", "ci-token", "--expires-in-days", "7")
    assert created.returncode == 0, created.stderr
    lines = created.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("bh_") and len(lines[0]) > 40, created.stdout
    token = lines[0]
    assert token not in created.stderr and "not be shown again" in created.stderr

    with server.http() as http:
        me = http.get(CURRENT_USER, headers=bearer(token))
        assert me.status_code == 200, me.text
        assert me.json()["user"]["username"] == "owner"

    # the official client sends MLFLOW_TRACKING_TOKEN as a bearer token
    mlflow = pytest.importorskip("mlflow")
    from mlflow.exceptions import MlflowException

    os.environ.pop("MLFLOW_TRACKING_USERNAME", None)
    os.environ.pop("MLFLOW_TRACKING_PASSWORD", None)
    os.environ["MLFLOW_TRACKING_TOKEN"] = token
    client = mlflow.MlflowClient(server.url)
    experiment_id = client.create_experiment(f"via-token-{uuid.uuid4().hex[:8]}")
    run = client.create_run(experiment_id)
    client.log_metric(run.info.run_id, "loss", 0.25)
    assert client.get_run(run.info.run_id).data.metrics == {"loss": 0.25}
    with server.http(auth=("owner", PASSWORD)) as http:  # the token's user became the experiment's owner
        grant = http.get(
            "/api/2.0/mlflow/experiments/permissions/get",
            params={"experiment_id": experiment_id, "username": "owner"},
        )
        assert grant.json()["experiment_permission"]["permission"] == "MANAGE"

    listed = run_tokens(server, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    tokens = json.loads(listed.stdout)
    mine = [t for t in tokens if t["name"] == "ci-token"]
    assert len(mine) == 1 and mine[0]["prefix"] == token[:11] and mine[0]["revoked"] is False
    assert mine[0]["expires_time"] - mine[0]["created_time"] == 7 * 86400 * 1000
    table = run_tokens(server, "list")
    assert table.returncode == 0 and "ci-token" in table.stdout
    for output in (listed.stdout, table.stdout, listed.stderr, table.stderr):
        assert token not in output and token[11:] not in output

    # another user can neither see nor revoke it
    with server.http(auth=("other", PASSWORD)) as http:
        assert http.get("/api/2.0/bakehouse/tokens/list").json().get("tokens", []) == []
        stolen = http.post("/api/2.0/bakehouse/tokens/revoke", json={"token_id": mine[0]["id"]})
        assert stolen.status_code == 404

    revoked = run_tokens(server, "revoke", str(mine[0]["id"]))
    assert revoked.returncode == 0, revoked.stderr
    # one server process: revoking also drops it from the credential cache, so it fails at once
    with server.http(address="127.0.0.25") as http:
        refused = http.get(CURRENT_USER, headers=bearer(token))
        assert refused.status_code == 401
        assert refused.json()["error_code"] == "UNAUTHENTICATED"
    with pytest.raises(MlflowException) as info:
        client.get_experiment(experiment_id)
    assert info.value.error_code == "UNAUTHENTICATED"
    again = json.loads(run_tokens(server, "list", "--json").stdout)
    assert [t["revoked"] for t in again if t["id"] == mine[0]["id"]] == [True]

    missing = run_tokens(server, "revoke", "999999")
    assert missing.returncode == 1 and "Token 999999 not found" in missing.stderr
    assert "Traceback" not in missing.stderr
    assert_not_logged(server, token, PASSWORD, ADMIN[1])


def test_cli_needs_a_server(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BAKEHOUSE_", "MLFLOW_"))}
    proc = subprocess.run(
        [*tokens_command(), "list", "--tracking-uri", f"sqlite:///{tmp_path / 'x.db'}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert proc.returncode == 2
    assert "API tokens live on a tracking server" in proc.stderr and "Traceback" not in proc.stderr


def _store_token(server: Server, seconds: int) -> str:
    """A token with a short life, made directly in the server's users database (the API's minimum is a day)."""
    from bakehouse.store.auth import AuthStore

    store = AuthStore(server.db_uri)
    token, _ = store.create_token(store.get_user("owner").id, "short-lived", expires_in_seconds=seconds)
    return token


def test_expired_token_is_refused(server: Server) -> None:
    token = _store_token(server, 1)
    time.sleep(1.2)
    with server.http(address="127.0.0.21") as http:
        response = http.get(CURRENT_USER, headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHENTICATED"
    assert_not_logged(server, token)


def test_token_used_before_expiry_is_refused_after_it(server: Server) -> None:
    token = _store_token(server, 2)
    with server.http(address="127.0.0.22") as http:
        assert http.get(CURRENT_USER, headers=bearer(token)).status_code == 200
        time.sleep(2.3)
        assert http.get(CURRENT_USER, headers=bearer(token)).status_code == 401


def test_tampered_or_unknown_tokens_are_refused(server: Server) -> None:
    token = _store_token(server, 600)
    with server.http(address="127.0.0.23") as http:
        assert http.get(CURRENT_USER, headers=bearer(token)).status_code == 200
        flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
        for bad in (flipped, token[:11], "not-a-bakehouse-token", token + "x"):
            response = http.get(CURRENT_USER, headers=bearer(bad))
            assert response.status_code == 401, bad


# ---------------------------------------------------------------------------------------- sessions
def login(http: httpx.Client, username: str = "owner", **headers: str) -> tuple[str, str, str]:
    """(cookie value, csrf token, raw Set-Cookie header) of a fresh session."""
    response = http.post(LOGIN, json={"username": username, "password": PASSWORD}, headers=headers)
    assert response.status_code == 200, response.text
    set_cookie = response.headers["set-cookie"]
    value = set_cookie.split(";", 1)[0].split("=", 1)[1]
    body = response.json()
    assert body["user"]["username"] == username
    return value, body["csrf_token"], set_cookie


def with_cookie(value: str, **extra: str) -> dict[str, str]:
    return {"Cookie": f"{COOKIE}={value}", **extra}


def test_session_cookie_attributes_and_csrf(server: Server) -> None:
    with server.http() as http:
        cookie, csrf, set_cookie = login(http)
        attributes = [a.strip() for a in set_cookie.split(";")]
        assert "HttpOnly" in attributes and "SameSite=Strict" in attributes and "Path=/" in attributes
        assert "Secure" not in attributes  # plain http: a Secure cookie would never come back
        assert any(a.startswith("Max-Age=") and int(a.split("=")[1]) > 0 for a in attributes)
        http.cookies.clear()

        session = http.get(SESSION, headers=with_cookie(cookie))
        assert session.status_code == 200
        assert session.json() == {"user": session.json()["user"], "csrf_token": csrf}
        assert session.json()["user"]["username"] == "owner"
        # reading needs no CSRF token
        assert http.get(CURRENT_USER, headers=with_cookie(cookie)).json()["user"]["username"] == "owner"

        name = f"session-{uuid.uuid4().hex[:8]}"
        missing = http.post(CREATE_EXPERIMENT, json={"name": name}, headers=with_cookie(cookie))
        assert missing.status_code == 403
        assert missing.json()["error_code"] == "PERMISSION_DENIED" and "CSRF" in missing.json()["message"]
        wrong = http.post(
            CREATE_EXPERIMENT,
            json={"name": name},
            headers=with_cookie(cookie, **{"X-CSRF-Token": "x" + csrf}),
        )
        assert wrong.status_code == 403
        other_cookie, other_csrf, _ = login(http, "other")
        http.cookies.clear()
        crossed = http.post(
            CREATE_EXPERIMENT,
            json={"name": name},
            headers=with_cookie(cookie, **{"X-CSRF-Token": other_csrf}),
        )
        assert crossed.status_code == 403  # the token is bound to its own session
        ok = http.post(
            CREATE_EXPERIMENT, json={"name": name}, headers=with_cookie(cookie, **{"X-CSRF-Token": csrf})
        )
        assert ok.status_code == 200, ok.text
        experiment_id = ok.json()["experiment_id"]
        got = http.get(
            "/api/2.0/mlflow/experiments/get",
            params={"experiment_id": experiment_id},
            headers=with_cookie(cookie),
        )
        assert got.json()["experiment"]["name"] == name
        # a page on another origin cannot even send the state-changing request (CORS closed)
        foreign = http.post(
            CREATE_EXPERIMENT,
            json={"name": name + "-x"},
            headers=with_cookie(cookie, **{"X-CSRF-Token": csrf, "Origin": "https://evil.example"}),
        )
        assert foreign.status_code == 403

        logout = http.post(LOGOUT, headers=with_cookie(cookie))
        assert logout.status_code == 200
        assert f"{COOKIE}=;" in logout.headers["set-cookie"] and "Max-Age=0" in logout.headers["set-cookie"]
    assert_not_logged(server, cookie, csrf, other_cookie, PASSWORD)


def test_login_behind_tls_proxy_sets_a_secure_cookie(server: Server) -> None:
    """From the trusted local proxy address, X-Forwarded-Proto: https marks the cookie Secure."""
    with server.http() as http:
        _, _, set_cookie = login(http, **{"X-Forwarded-Proto": "https"})
    assert "Secure" in [a.strip() for a in set_cookie.split(";")]


def test_wrong_login_sets_no_cookie(server: Server) -> None:
    with server.http(address="127.0.0.20") as http:
        response = http.post(LOGIN, json={"username": "owner", "password": "wrong-password"})
        assert response.status_code == 401
        assert response.json()["error_code"] == "UNAUTHENTICATED" and "set-cookie" not in response.headers
        malformed = http.post(LOGIN, content=b"{not json", headers={"Content-Type": "application/json"})
        assert malformed.status_code == 400
        form = http.post(LOGIN, data={"username": "owner", "password": PASSWORD})
        assert form.status_code == 200 and COOKIE in form.headers["set-cookie"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_forged_or_tampered_cookies_are_refused(server: Server) -> None:
    from bakehouse.server.auth.sessions import SessionSigner

    with server.http(address="127.0.0.24") as http:
        cookie, csrf, _ = login(http)
        http.cookies.clear()
        payload, _, signature = cookie.partition(".")
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        as_admin = _b64(json.dumps({**data, "u": 1}).encode())  # claim to be user 1 (the admin)
        longer = _b64(json.dumps({**data, "e": data["e"] + 10**6}).encode())
        forged = {
            "user id changed": f"{as_admin}.{signature}",
            "expiry changed": f"{longer}.{signature}",
            "signature changed": f"{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}",
            "no signature": payload,
            "garbage": "definitely-not-a-session",
            "other server's key": SessionSigner(b"some-other-secret-key-123").issue(1, data.get("g", ""))[0],
            "expired, right key": SessionSigner(SECRET_KEY.encode()).issue(
                data["u"], data.get("g", ""), seconds=-5
            )[0],
        }
        for what, value in forged.items():
            response = http.get(CURRENT_USER, headers=with_cookie(value))
            assert response.status_code == 401, what
            assert response.json()["error_code"] == "UNAUTHENTICATED", what
            write = http.post(
                CREATE_EXPERIMENT,
                json={"name": "forged"},
                headers=with_cookie(value, **{"X-CSRF-Token": csrf}),
            )
            assert write.status_code == 401, what
        # the same key on another worker process (BAKEHOUSE_SECRET_KEY) is all a valid session needs
        minted, session = SessionSigner(SECRET_KEY.encode()).issue(data["u"], data["g"])
        accepted = http.get(SESSION, headers=with_cookie(minted))
        assert accepted.status_code == 200 and accepted.json()["csrf_token"] == session.csrf
        # a session that predates the user's current password is refused
        stale, _ = SessionSigner(SECRET_KEY.encode()).issue(data["u"], "0" * 16)
        assert http.get(SESSION, headers=with_cookie(stale)).status_code == 401


def test_an_over_long_token_name_is_refused_and_nothing_is_made(server: Server) -> None:
    with server.http(auth=("namer", PASSWORD)) as http:
        refused = http.post("/api/2.0/bakehouse/tokens/create", json={"name": "n" * 256})
        assert refused.status_code == 400 and refused.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "255" in refused.json()["message"]
        assert http.get("/api/2.0/bakehouse/tokens/list").json().get("tokens", []) == []
        made = http.post("/api/2.0/bakehouse/tokens/create", json={"name": "n" * 255})
        assert made.status_code == 200, made.text
        assert [t["name"] for t in http.get("/api/2.0/bakehouse/tokens/list").json()["tokens"]] == ["n" * 255]
