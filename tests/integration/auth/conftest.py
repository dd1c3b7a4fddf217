"""A real `bakehouse server --auth` for the authentication tests, with users for every role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from auth_support import ADMIN, PASSWORD, ROLES, AuthServer, start_auth_server, stop_server


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    workdir = tmp_path_factory.mktemp("auth-server")
    proc, url, log_path = start_auth_server(workdir)
    server = AuthServer(url, str(log_path))
    with server.http(*ADMIN) as admin:
        for role in ROLES[1:]:
            response = admin.post(
                "/api/2.0/mlflow/users/create", json={"username": role, "password": PASSWORD}
            )
            assert response.status_code == 200, response.text
    yield server
    stop_server(proc)
