"""``bakehouse users`` and ``bakehouse permissions`` against real ``bakehouse server --auth`` processes.

Two servers share one database, as replicas do: the default permission given to one at start, or changed
later with ``bakehouse permissions default``, is what the other one applies too.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable

import httpx
import pytest
from deployment_support import BAKEHOUSE

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

ADMIN = ("admin", "admin-password-1")
ALICE = ("alice", "alice-password-1")


def cli(
    url: str, *args: str, stdin: str = "", user: tuple[str, str] = ADMIN
) -> subprocess.CompletedProcess[str]:
    env = {
        "BAKEHOUSE_TRACKING_URI": url,
        "BAKEHOUSE_TRACKING_USERNAME": user[0],
        "BAKEHOUSE_TRACKING_PASSWORD": user[1],
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        [BAKEHOUSE, *args],
        check=False,
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture
def replicas(bakehouse_server, tmp_path):
    database = f"sqlite:///{tmp_path / 'shared.db'}"
    artifacts = str(tmp_path / "artifacts")
    env = {"BAKEHOUSE_ADMIN_PASSWORD": ADMIN[1]}
    first = bakehouse_server(
        database, artifacts, extra_args=["--auth", "--auth-default-permission", "NO_PERMISSIONS"], env=env
    )
    second = bakehouse_server(database, artifacts, extra_args=["--auth"], env=env)
    return first.url, second.url


def _status(url: str, user: tuple[str, str], experiment_id: str) -> int:
    response = httpx.get(
        f"{url}/api/2.0/mlflow/experiments/get",
        params={"experiment_id": experiment_id},
        auth=user,
        timeout=30,
    )
    return response.status_code


def _eventually(check: Callable[[], bool], seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.3)
    return check()


def test_users_and_permissions_from_the_command_line(replicas) -> None:
    first, second = replicas
    ok(cli(first, "users", "create", ALICE[0], "--password-stdin", stdin=ALICE[1] + "\n"))
    ok(cli(first, "users", "create", "bob", "--admin", "--password-stdin", stdin="bob-password-1\n"))
    users = {u["username"]: u["is_admin"] for u in json.loads(ok(cli(second, "users", "list", "--json")))}
    assert users == {"admin": True, "alice": False, "bob": True}
    # a password is never an argument: without a terminal and without --password-stdin the CLI refuses
    refused = cli(first, "users", "create", "carol")
    assert refused.returncode != 0 and "--password-stdin" in refused.stderr
    ok(cli(first, "users", "set-admin", "bob", "false"))
    assert httpx.get(f"{first}/api/2.0/mlflow/users/list", auth=("bob", "bob-password-1")).status_code == 403

    experiment = httpx.post(
        f"{first}/api/2.0/mlflow/experiments/create", json={"name": "team-a"}, auth=ADMIN, timeout=30
    ).json()["experiment_id"]
    # the first server was started with NO_PERMISSIONS: the database holds it, so the second applies it too
    assert _status(first, ALICE, experiment) == 403
    assert _status(second, ALICE, experiment) == 403
    assert ok(cli(second, "permissions", "default")).strip() == "NO_PERMISSIONS"

    ok(cli(first, "permissions", "grant", "alice", "READ", "--experiment-name", "team-a"))
    assert _status(second, ALICE, experiment) == 200
    grants = json.loads(ok(cli(second, "permissions", "list", "alice", "--json")))
    assert grants == [{"resource_type": "experiment", "resource_id": experiment, "permission": "READ"}]
    mine = json.loads(ok(cli(first, "permissions", "list", "--json", user=ALICE)))
    assert mine == grants
    ok(cli(second, "permissions", "revoke", "alice", "--experiment-id", experiment))
    assert _status(first, ALICE, experiment) == 403

    # changing the default on one server reaches the other one without a restart
    changed = ok(cli(first, "permissions", "default", "READ"))
    assert "READ" in changed and "NO_PERMISSIONS" in changed
    assert _eventually(lambda: _status(second, ALICE, experiment) == 200)
    denied = cli(first, "permissions", "default", "EDIT", user=ALICE)
    assert denied.returncode == 1 and "administrator" in denied.stderr

    ok(cli(first, "users", "set-password", "alice", "--password-stdin", stdin="alice-password-2\n"))
    assert _eventually(lambda: _status(second, ("alice", "alice-password-2"), experiment) == 200)
    assert _status(first, ALICE, experiment) == 401  # the old one, on the server that changed it
    ok(cli(second, "users", "delete", "alice", "--yes"))
    gone = cli(first, "users", "delete", "alice", "--yes")
    assert gone.returncode == 1 and "not found" in gone.stderr.lower()
    users = {u["username"] for u in json.loads(ok(cli(first, "users", "list", "--json")))}
    assert users == {"admin", "bob"}


def test_users_command_needs_a_server(tmp_path) -> None:
    result = cli(f"sqlite:///{tmp_path / 'x.db'}", "users", "list")
    assert result.returncode == 2 and "tracking server" in result.stderr
