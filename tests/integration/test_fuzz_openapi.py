"""Schemathesis against the running server's own OpenAPI document (``/api/2.0/openapi.json``).

Every operation gets a few schema-valid and (where it takes input) a few schema-violating requests, plus a
few schema-valid ones whose strings and integers are swapped for hostile values (encoded dots, ``;`` path
parameters, NUL, backslashes, huge integers: :data:`HOSTILE_STRINGS`, :data:`HUGE_INTEGERS`); hypothesis,
derandomized so the suite is reproducible, bounded so the whole module stays well under two minutes. The
hostile mode also runs against a server on PostgreSQL, which refuses NUL in text where SQLite stores it.
Whatever the input,
the server must answer with a client error or success, never a 5xx (the one deliberate 501 aside), every
error must be MLflow's JSON error shape, and the server log must stay free of tracebacks.

Run twice: on a plain server (the handlers themselves), and on ``--auth`` as an ordinary user (the
permission guard in front of every handler), plus the user/permission/token endpoints as the admin.
The filter-string parser has its own hypothesis test in tests/unit/store/test_search.py.

If this finds a bug in code you cannot fix right away, list the operation in KNOWN_BUGS (it is then left
out here) and pin the bug with a direct ``xfail(strict=True)`` reproduction below, named in the reason.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode
from server_process import Server, start_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

OPENAPI = "/api/2.0/openapi.json"
#: examples per operation and generation mode (~95 operations; negative mode where there is input to break)
EXAMPLES = 3
#: operation label ("METHOD /path") -> the bug it hits; left out of the fuzz runs while the bug is open
KNOWN_BUGS: dict[str, str] = {}
#: deliberate 5xx answers: (operation path prefix, status, error_code)
DELIBERATE = [("/api/2.0/mlflow-artifacts/mpu/", 501, "NOT_IMPLEMENTED")]
ADMIN = ("admin", "fuzz-admin-password")
AUTH_PATHS = ("/mlflow/users/", "/permissions/", "/bakehouse/tokens/")


#: pieces of hostile strings: '..' in encodings decoded once, twice or thrice, path parameters, NUL, backslashes
HOSTILE_PIECES = [
    "..",
    ".",
    "/",
    "%2e",
    "%252e",
    "%25252e",
    "%2f",
    "%252f",
    ";",
    "..;",
    ";jsessionid=1",
    "\x00",
    "%00",
    "%2500",
    "\\",
    "%5c",
    "a",
    "0",
    "%",
]
HOSTILE_STRINGS = st.one_of(
    st.sampled_from(
        [
            "%25252e%25252e%25252f",
            "..;/..;/etc/passwd",
            "../../../../etc/passwd",
            "\x00",
            "a\x00b",
            "..\\..\\windows",
            "mlflow-artifacts:/%252e%252e/%252e%252e/etc",
            "http:///#/../../etc/",
            "s3://bucket/a/../../../etc",
            "9" * 30,
        ]
    ),
    st.lists(st.sampled_from(HOSTILE_PIECES), min_size=1, max_size=8).map("".join),
)
HUGE_INTEGERS = st.one_of(
    st.sampled_from([2**63, -(2**63) - 1, 2**64, 2**53, 2**31, -1, 10**30]),
    st.integers(min_value=2**63, max_value=10**40),
)


def _hostile_value(draw: Any, value: Any) -> Any:
    """``value`` with each string and integer leaf kept or swapped for a hostile one."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return draw(st.one_of(st.just(value), HOSTILE_STRINGS))
    if isinstance(value, int):
        return draw(st.one_of(st.just(value), HUGE_INTEGERS))
    if isinstance(value, list):
        return [_hostile_value(draw, item) for item in value]
    if isinstance(value, dict):
        return {key: _hostile_value(draw, item) for key, item in value.items()}
    return value


def make_hostile(case: Any, data: Any) -> bool:
    """Swap some of ``case``'s string and integer values for hostile ones (drawn from ``st.data()``, so the
    schema-valid case is drawn by ``@given`` as in the other modes); whether anything changed."""
    changed = False
    for attribute in ("body", "query", "path_parameters"):
        value = getattr(case, attribute, None)
        if isinstance(value, dict):
            hostile = _hostile_value(data.draw, value)
            changed = changed or hostile != value
            setattr(case, attribute, hostile)
    return changed


@dataclass
class Findings:
    requests: int = 0
    hostile_requests: int = 0  # requests that carried at least one hostile value
    problems: dict[str, list[str]] = field(default_factory=dict)

    def add(self, label: str, problem: str) -> None:
        self.problems.setdefault(label, []).append(problem)

    def report(self) -> str:
        return "\n".join(
            f"{label}:\n    " + "\n    ".join(sorted(set(p))[:3]) for label, p in self.problems.items()
        )


def _acceptable(path: str, response: Any) -> str | None:
    """None if the answer is fine; otherwise what is wrong with it."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if status >= 500:
        code = body.get("error_code") if isinstance(body, dict) else None
        if any(path.startswith(p) and status == s and code == c for p, s, c in DELIBERATE):
            return None
        return f"HTTP {status}: {response.text[:300]}"
    if status >= 400 and not (
        isinstance(body, dict)
        and isinstance(body.get("error_code"), str)
        and isinstance(body.get("message"), str)
    ):
        return f"HTTP {status} without MLflow's JSON error body: {response.text[:200]}"
    return None


HOSTILE = "hostile"


def _checker(
    operation: Any, mode: Any, base_url: str, headers: dict[str, str], findings: Findings, session: Any
) -> Any:
    """The hypothesis test for one operation and mode. The hostile mode draws a schema-valid case like the
    positive one and swaps values inside the test (keeping hypothesis's stack as shallow as the other
    modes': its strategy descriptions parse source with ``ast`` and hit CPython's recursion checks)."""
    hostile_mode = mode == HOSTILE

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(case=operation.as_strategy(GenerationMode.POSITIVE if hostile_mode else mode), data=st.data())
    def check(case: Any, data: Any) -> None:
        findings.requests += 1
        if hostile_mode:
            findings.hostile_requests += make_hostile(case, data)
        try:
            response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        except Exception as exc:  # noqa: BLE001 - a dropped connection or a hang is a finding too
            findings.add(
                operation.label, f"{type(exc).__name__}: {exc}\n      {case.as_curl_command(headers)}"
            )
            return
        problem = _acceptable(operation.path, response)
        if problem:
            findings.add(operation.label, f"{problem}\n      {case.as_curl_command(headers)}")

    return check


def fuzz_operation(
    operation: Any,
    base_url: str,
    headers: dict[str, str],
    findings: Findings,
    negative: bool = True,
    modes: tuple[Any, ...] | None = None,
) -> None:
    """``modes``: GenerationMode values and/or HOSTILE; by default positive, negative (where the operation
    takes input and ``negative``) and hostile."""
    has_input = bool(operation.body) or bool(list(operation.query)) or bool(list(operation.path_parameters))
    if modes is None:
        modes = (
            (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
            if has_input and negative
            else (GenerationMode.POSITIVE,)
        )
        modes += (HOSTILE,) if has_input else ()
    session = requests.Session()
    for mode in modes:
        try:
            _checker(operation, mode, base_url, headers, findings, session)()
        except Unsatisfiable:
            continue  # e.g. no way to violate the schema of a path-only operation
    session.close()


def fuzz(
    server: Server,
    headers: dict[str, str],
    only: tuple[str, ...] = (),
    negative: bool = True,
    modes: tuple[Any, ...] | None = None,
) -> Findings:
    """Fuzz every operation (or those whose path contains one of ``only``); ``negative`` adds invalid inputs,
    ``modes`` chooses the generation modes outright (see :func:`fuzz_operation`)."""
    schema = schemathesis.openapi.from_url(server.url + OPENAPI, headers=headers, timeout=30)
    findings = Findings()
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label in KNOWN_BUGS:
            continue
        if only and not any(p in operation.path for p in only):
            continue
        fuzz_operation(operation, server.url, headers, findings, negative, modes)
    return findings


def log_size(server: Server) -> int:
    return server.log_path.stat().st_size


def assert_clean_log(server: Server, since: int) -> None:
    """No traceback in what the server logged since byte ``since`` (other tests may share the server)."""
    with open(server.log_path, "rb") as fh:
        fh.seek(since)
        log = fh.read().decode(errors="replace")
    for marker in ("Traceback", "Unhandled error", "Exception in ASGI application"):
        assert marker not in log, f"{marker!r} in the server log:\n{log[-5000:]}"


# -------------------------------------------------------------------------------------------- servers
@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("fuzz-plain"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fuzz_auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, str]]:
    """`--auth` with an ordinary user; yields (server, that user's API token, the admin's API token)."""
    server = start_server(
        tmp_path_factory.mktemp("fuzz-auth"),
        extra_args=["--auth"],
        env={"BAKEHOUSE_ADMIN_USERNAME": ADMIN[0], "BAKEHOUSE_ADMIN_PASSWORD": ADMIN[1]},
    )
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            made = http.post(
                "/api/2.0/mlflow/users/create",
                auth=ADMIN,
                json={"username": "fuzzer", "password": "fuzzer-password"},
            )
            assert made.status_code == 200, made.text
            tokens = [
                http.post("/api/2.0/bakehouse/tokens/create", auth=auth, json={"name": "fuzz"}).json()[
                    "token"
                ]
                for auth in (("fuzzer", "fuzzer-password"), ADMIN)
            ]
        yield server, tokens[0], tokens[1]
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------- tests
def test_openapi_document_covers_the_api(plain_server: Server) -> None:
    document = httpx.get(plain_server.url + OPENAPI, timeout=30).json()
    assert document["openapi"].startswith("3.")
    operations = {(m.upper(), p) for p, item in document["paths"].items() for m in item}
    assert ("POST", "/api/2.0/mlflow/runs/log-batch") in operations
    assert ("POST", "/api/2.0/mlflow/experiments/create") in operations
    assert len(operations) >= 80


def test_fuzz_plain_server(plain_server: Server) -> None:
    started, offset = time.monotonic(), log_size(plain_server)
    findings = fuzz(plain_server, {})
    assert findings.requests > 250
    assert findings.hostile_requests > 100, findings.hostile_requests
    assert not findings.problems, f"{len(findings.problems)} operations misbehave:\n{findings.report()}"
    assert_clean_log(plain_server, offset)
    assert time.monotonic() - started < 240


@pytest.mark.postgres
def test_fuzz_hostile_values_on_postgresql(tmp_path: Any, postgres_uri: str) -> None:
    """PostgreSQL refuses NUL in text and 64-bit overflow where SQLite stores or wraps them: every such
    value must be refused before it reaches the database, never answered with a 500."""
    server = start_server(tmp_path / "pg-server", backend_store_uri=postgres_uri)
    try:
        offset = log_size(server)
        findings = fuzz(server, {}, modes=(HOSTILE,))
        assert findings.hostile_requests > 100, findings.hostile_requests
        assert not findings.problems, f"{len(findings.problems)} operations misbehave:\n{findings.report()}"
        assert_clean_log(server, offset)
    finally:
        server.stop()


def test_fuzz_auth_server_as_user_and_admin(fuzz_auth_server: tuple[Server, str, str]) -> None:
    server, user_token, admin_token = fuzz_auth_server
    offset = log_size(server)
    # schema-violating input is refused before the permission guard runs (the plain run covers it), so the
    # ordinary user sends valid requests only; the admin fuzzes the auth endpoints both ways
    as_user = fuzz(server, {"Authorization": f"Bearer {user_token}"}, negative=False)
    as_admin = fuzz(server, {"Authorization": f"Bearer {admin_token}"}, only=AUTH_PATHS)
    assert as_user.requests > 200 and as_admin.requests > 30
    problems = {**as_user.problems, **{f"(admin) {k}": v for k, v in as_admin.problems.items()}}
    assert not problems, f"{len(problems)} operations misbehave:\n" + "\n".join(
        f"{label}: {sorted(set(p))[:3]}" for label, p in problems.items()
    )
    assert_clean_log(server, offset)


def test_overlong_artifact_path_component_is_a_client_error(plain_server: Server) -> None:
    name = "a" * 300
    calls = [
        ("GET", "/api/2.0/mlflow-artifacts/artifacts", {"path": name}, None),
        ("GET", f"/api/2.0/mlflow-artifacts/artifacts/0/{name}", None, None),
        ("PUT", f"/api/2.0/mlflow-artifacts/artifacts/0/{name}", None, b"data"),
        ("DELETE", f"/api/2.0/mlflow-artifacts/artifacts/0/{name}", None, None),
    ]
    with httpx.Client(base_url=plain_server.url, timeout=30) as http:
        statuses = {
            f"{method} {path[:45]}": http.request(method, path, params=params, content=body).status_code
            for method, path, params, body in calls
        }
    assert all(400 <= status < 500 for status in statuses.values()), statuses


# ------------------------------------------------------------------ hostile spellings vs the permission guard
@dataclass
class Secret:
    experiment_id: str
    run_id: str


@pytest.fixture(scope="module")
def secret(fuzz_auth_server: tuple[Server, str, str]) -> Secret:
    """An experiment with a run and an artifact that the user 'fuzzer' was explicitly denied (NO_PERMISSIONS)."""
    server, _, admin_token = fuzz_auth_server
    with httpx.Client(
        base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {admin_token}"}
    ) as admin:
        experiment_id = admin.post("/api/2.0/mlflow/experiments/create", json={"name": "secret"}).json()[
            "experiment_id"
        ]
        run_id = admin.post("/api/2.0/mlflow/runs/create", json={"experiment_id": experiment_id}).json()[
            "run"
        ]["info"]["run_id"]
        assert (
            admin.put(
                f"/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/secret.txt", content=b"TOP SECRET"
            ).status_code
            == 200
        )
        denied = admin.post(
            "/api/2.0/mlflow/experiments/permissions/create",
            json={"experiment_id": experiment_id, "username": "fuzzer", "permission": "NO_PERMISSIONS"},
        )
        assert denied.status_code == 200, denied.text
    return Secret(experiment_id, run_id)


def _request(server: Server, token: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as http:
        return http.request(method, path, **kwargs)


SPELLINGS = [
    # (id, method, path template, request kwargs (templated), known bug or None)
    ("get-experiment", "GET", "/api/2.0/mlflow/experiments/get", {"params": {"experiment_id": "{x}"}}, None),
    (
        "get-experiment-leading-zero",
        "GET",
        "/api/2.0/mlflow/experiments/get",
        {"params": {"experiment_id": "0{x}"}},
        "with a leading zero ('07')",
    ),
    (
        "get-experiment-space",
        "GET",
        "/api/2.0/mlflow/experiments/get",
        {"params": {"experiment_id": " {x}"}},
        "with a leading space",
    ),
    ("search-runs", "POST", "/api/2.0/mlflow/runs/search", {"json": {"experiment_ids": ["{x}"]}}, None),
    (
        "search-runs-leading-zero",
        "POST",
        "/api/2.0/mlflow/runs/search",
        {"json": {"experiment_ids": ["0{x}"]}},
        "with a leading zero in SearchRuns.experiment_ids",
    ),
    (
        "ui-keys-leading-zero",
        "GET",
        "/ajax-api/2.0/bakehouse/experiments/keys",
        {"params": {"experiment_ids": "0{x}"}},
        "with a leading zero in the UI helper's experiment_ids",
    ),
    ("get-run", "GET", "/api/2.0/mlflow/runs/get", {"params": {"run_id": "{r}"}}, None),
    ("artifact", "GET", "/api/2.0/mlflow-artifacts/artifacts/{x}/secret.txt", {}, None),
    # (httpx removes a literal "./" from URLs; "%2e" reaches the server, which decodes it to "./<id>/...")
    (
        "artifact-encoded-dot",
        "GET",
        "/api/2.0/mlflow-artifacts/artifacts/%2e/{x}/secret.txt",
        {},
        "as '%2e/<id>/...' (decoded to './<id>/...') in a proxied artifact path",
    ),
    (
        "list-artifacts-dot-segment",
        "GET",
        "/api/2.0/mlflow-artifacts/artifacts",
        {"params": {"path": "./{x}"}},
        "as './<id>' in the artifact list path",
    ),
    ("list-artifact-root", "GET", "/api/2.0/mlflow-artifacts/artifacts", {}, None),
    (
        "list-artifact-root-dot",
        "GET",
        "/api/2.0/mlflow-artifacts/artifacts",
        {"params": {"path": "."}},
        "as '.', the artifact root (an admin-only listing of every experiment's directory)",
    ),
]


def _fill(value: Any, secret: Secret) -> Any:
    if isinstance(value, str):
        return value.replace("{x}", secret.experiment_id).replace("{r}", secret.run_id)
    if isinstance(value, list):
        return [_fill(v, secret) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, secret) for k, v in value.items()}
    return value


@pytest.mark.parametrize(
    "method, path, kwargs",
    [
        pytest.param(
            method,
            path,
            kwargs,
            id=name,
        )
        for name, method, path, kwargs, bug in SPELLINGS
    ],
)
def test_denied_experiment_stays_denied_however_it_is_spelled(
    fuzz_auth_server: tuple[Server, str, str], secret: Secret, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    server, user_token, _ = fuzz_auth_server
    response = _request(server, user_token, method, _fill(path, secret), **_fill(kwargs, secret))
    leaked = (
        secret.run_id in response.text
        or "TOP SECRET" in response.text
        or "secret.txt" in response.text
        or '"name": "secret"' in response.text.replace('":"', '": "')
    )
    assert not leaked, f"{response.status_code}: {response.text[:300]}"
    assert response.status_code in (400, 403, 404), f"{response.status_code}: {response.text[:300]}"
