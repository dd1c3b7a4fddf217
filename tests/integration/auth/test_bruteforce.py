"""Password guessing against a real ``bakehouse server --auth``: the guessing client is slowed and then refused
(429 + Retry-After), every other client is served normally, and a wrong password costs the same as an
unknown user.

The back-off keys on the client's address and the user name (with a higher ceiling per address), so each
test speaks from its own loopback address (127.0.0.0/8 is all local on Linux): the attacker and the
bystander are genuinely different clients, and tests do not share throttle state whatever order (or xdist
worker) they run in.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import httpx
from auth_support import ADMIN, PASSWORD, AuthServer, start_auth_server, stop_server

CURRENT_USER = "/api/2.0/mlflow/users/current"
LOGIN = "/bakehouse/auth/login"
#: failures an address gets for one user name before the back-off starts (LoginThrottle.free_attempts)
FREE_ATTEMPTS = 5
#: the per-address ceiling (failures over all user names) the spraying test's server is started with
SPRAY_CEILING = 20


def client_from(server: AuthServer, address: str, auth: tuple[str, str] | None = None) -> httpx.Client:
    """An HTTP client whose connections leave from ``address`` (another loopback address = another client)."""
    return httpx.Client(
        base_url=server.url, auth=auth, timeout=30, transport=httpx.HTTPTransport(local_address=address)
    )


def assert_not_logged(server: AuthServer, *secrets: str) -> None:
    log = Path(server.log_path).read_text(errors="replace")
    for secret in secrets:
        assert secret not in log, f"a credential ({secret[:4]}...) appears in the server log"


def retry_after(response: httpx.Response) -> int:
    value = response.headers.get("retry-after", "")
    assert value.isdigit() and int(value) >= 1, f"429 without a usable Retry-After: {value!r}"
    return int(value)


def test_fifty_wrong_passwords_are_refused_while_other_clients_are_unaffected(
    auth_server: AuthServer,
) -> None:
    wrong = [f"guess-{i:02d}-not-it" for i in range(50)]
    statuses: list[int] = []
    bystander_ok: list[int] = []
    with (
        client_from(auth_server, "127.0.0.3") as attacker,
        client_from(auth_server, "127.0.0.2") as bystander,
    ):
        started = time.monotonic()
        for i, guess in enumerate(wrong):
            response = attacker.get(CURRENT_USER, auth=("reader", guess))
            statuses.append(response.status_code)
            if response.status_code == 429:
                retry_after(response)
                assert response.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
            if i % 10 == 9:  # meanwhile another client signs in normally...
                ok = bystander.get(CURRENT_USER, auth=("editor", PASSWORD))
                bystander_ok.append(ok.status_code)
                assert ok.json()["user"]["username"] == "editor"
        elapsed = time.monotonic() - started
        # ...and gets an ordinary 401 (not 429) for a wrong password of its own
        denied = bystander.get(CURRENT_USER, auth=("editor", "bystander-typo"))
        assert denied.status_code == 401
        assert denied.json()["error_code"] == "UNAUTHENTICATED"
        assert denied.headers["www-authenticate"].startswith("Basic")
        assert bystander.get(CURRENT_USER, auth=("editor", PASSWORD)).status_code == 200

    assert statuses[:FREE_ATTEMPTS] == [401] * FREE_ATTEMPTS, statuses
    assert 200 not in statuses
    refused = statuses.count(429)
    assert refused >= 40, f"only {refused} of 50 guesses were refused: {statuses}"
    assert set(statuses) == {401, 429}
    assert bystander_ok == [200] * 5
    # refused guesses are answered without running the password hash: fast for the server, useless to the guesser
    assert elapsed < 30, elapsed
    assert_not_logged(auth_server, PASSWORD, *wrong)


def test_throttle_covers_the_login_form_and_api_tokens(auth_server: AuthServer) -> None:
    with client_from(auth_server, "127.0.0.4") as attacker:
        for i in range(FREE_ATTEMPTS):
            assert (
                attacker.post(LOGIN, json={"username": "reader", "password": f"nope-{i}"}).status_code == 401
            )
        login = attacker.post(LOGIN, json={"username": "reader", "password": "nope-again"})
        assert login.status_code == 429
        assert "for this user" in login.json()["message"]
        retry_after(login)
        assert "set-cookie" not in login.headers
        basic = attacker.get(CURRENT_USER, auth=("reader", "nope-basic"))  # the same user over Basic
        assert basic.status_code == 429
        # bad API tokens count on their own (they carry no user name), and are throttled the same way
        statuses = [
            attacker.get(CURRENT_USER, headers={"Authorization": f"Bearer bh_{i}{'x' * 42}"}).status_code
            for i in range(FREE_ATTEMPTS + 1)
        ]
        assert statuses == [401] * FREE_ATTEMPTS + [429], statuses


def test_colleagues_at_the_same_address_keep_signing_in(auth_server: AuthServer) -> None:
    """One person guessing (or mistyping) behind an office NAT address does not lock out the office."""
    with client_from(auth_server, "127.0.0.9") as office:
        for i in range(FREE_ATTEMPTS + 3):
            office.get(CURRENT_USER, auth=("reader", f"forgot-it-{i}"))
        assert office.get(CURRENT_USER, auth=("reader", PASSWORD)).status_code == 429
        colleague = office.get(CURRENT_USER, auth=("editor", PASSWORD))
        assert colleague.status_code == 200 and colleague.json()["user"]["username"] == "editor"
        assert office.post(LOGIN, json={"username": "manager", "password": PASSWORD}).status_code == 200
        assert office.get(CURRENT_USER, auth=("editor", "a-typo-of-mine")).status_code == 401  # not 429


def test_spraying_many_user_names_from_one_address_is_throttled(tmp_path: Path) -> None:
    """The per-address ceiling: guesses spread over many user names (one each) slow the address down.
    Its own server with a lower ceiling (--login-failures-per-address), as each guess costs an Argon2 check."""
    proc, url, log_path = start_auth_server(
        tmp_path, extra_args=("--login-failures-per-address", str(SPRAY_CEILING))
    )
    server = AuthServer(url, str(log_path))
    try:
        with server.http(*ADMIN) as admin:
            made = admin.post(
                "/api/2.0/mlflow/users/create", json={"username": "editor", "password": PASSWORD}
            )
            assert made.status_code == 200, made.text
        with client_from(server, "127.0.0.10") as sprayer, client_from(server, "127.0.0.11") as other:
            statuses = [
                sprayer.get(CURRENT_USER, auth=(f"user-{i:03d}", "Summer2026!")).status_code
                for i in range(SPRAY_CEILING + 3)
            ]
            assert statuses[:SPRAY_CEILING] == [401] * SPRAY_CEILING
            assert statuses[SPRAY_CEILING:] == [429] * 3, statuses[SPRAY_CEILING - 2 :]
            blocked = sprayer.get(CURRENT_USER, auth=("editor", PASSWORD))  # even a right password waits now
            assert blocked.status_code == 429 and "from this address" in blocked.json()["message"]
            retry_after(blocked)
            assert other.get(CURRENT_USER, auth=("editor", PASSWORD)).status_code == 200  # elsewhere: fine
    finally:
        stop_server(proc)


def test_right_password_is_refused_until_the_back_off_has_passed(auth_server: AuthServer) -> None:
    with client_from(auth_server, "127.0.0.5") as attacker:
        for i in range(FREE_ATTEMPTS):
            assert attacker.get(CURRENT_USER, auth=("manager", f"wrong-{i}")).status_code == 401
        refused = attacker.get(CURRENT_USER, auth=("manager", PASSWORD))
        assert refused.status_code == 429, "the right password got through a throttled client"
        wait = retry_after(refused)
        assert attacker.post(LOGIN, json={"username": "manager", "password": PASSWORD}).status_code == 429
        time.sleep(wait + 0.2)
        accepted = attacker.get(CURRENT_USER, auth=("manager", PASSWORD))
        assert accepted.status_code == 200
        assert accepted.json()["user"]["username"] == "manager"
        # a success clears the client's record: its next typo is an ordinary 401 again
        assert attacker.get(CURRENT_USER, auth=("manager", "typo-after")).status_code == 401


def test_cached_credentials_do_not_bypass_the_throttle(auth_server: AuthServer) -> None:
    with client_from(auth_server, "127.0.0.6") as owner_machine:
        assert owner_machine.get(CURRENT_USER, auth=("owner", PASSWORD)).status_code == 200  # now cached
    with client_from(auth_server, "127.0.0.7") as attacker:
        for i in range(FREE_ATTEMPTS):
            assert attacker.get(CURRENT_USER, auth=("owner", f"wrong-{i}")).status_code == 401
        assert attacker.get(CURRENT_USER, auth=("owner", "still-wrong")).status_code == 429
        assert attacker.get(CURRENT_USER, auth=("owner", PASSWORD)).status_code == 429


def test_forwarded_for_from_an_untrusted_client_does_not_reset_the_throttle(auth_server: AuthServer) -> None:
    """Only the loopback proxy address 127.0.0.1 may name the client in X-Forwarded-For (uvicorn's default)."""
    with client_from(auth_server, "127.0.0.8") as attacker:
        for i in range(FREE_ATTEMPTS):
            assert attacker.get(CURRENT_USER, auth=("reader", f"wrong-{i}")).status_code == 401
        for n in range(5):
            spoofed = attacker.get(
                CURRENT_USER, auth=("reader", f"spoof-{n}"), headers={"X-Forwarded-For": f"203.0.113.{n + 1}"}
            )
            assert spoofed.status_code == 429


def test_unknown_user_and_wrong_password_take_the_same_time(auth_server: AuthServer) -> None:
    """Both run one Argon2 verification (against a dummy hash for an unknown user): no user enumeration."""
    unknown: list[float] = []
    wrong: list[float] = []
    for i in range(8):
        # two failures per address: never throttled, so every request really checks the credentials
        with client_from(auth_server, f"127.0.1.{i + 1}") as client:
            client.get("/health")  # connection set up outside the measurement
            pairs = [(unknown, (f"ghost-{i}", "some-password")), (wrong, ("reader", f"wrong-{i}"))]
            for samples, auth in pairs if i % 2 else pairs[::-1]:
                started = time.perf_counter()
                response = client.get(CURRENT_USER, auth=auth)
                samples.append(time.perf_counter() - started)
                assert response.status_code == 401
                assert response.json() == {
                    "error_code": "UNAUTHENTICATED",
                    "message": "You are not authenticated. Send HTTP Basic credentials, an API token "
                    "(Authorization: Bearer ...) or sign in.",
                }
    m_unknown, m_wrong = statistics.median(unknown), statistics.median(wrong)
    assert 1 / 3 < m_unknown / m_wrong < 3, (m_unknown, m_wrong)
    # and both paid for a real password hash (a cheap early exit would be far faster than Argon2id)
    assert min(m_unknown, m_wrong) > 0.005, (m_unknown, m_wrong)
