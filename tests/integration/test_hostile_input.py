"""Hostile input against a real ``bakehouse server``, one class at a time, on every route the class reaches.

Each class (encoded traversal, experiment locations, model version sources, page tokens, JSON types, CORS)
is sent over raw HTTP (no client-side URL normalisation) and must be answered with the exact status (400
INVALID_PARAMETER_VALUE, or 403 for CORS), with nothing stored. Around the requests, Linux inotify watches
the directories planted *outside* the artifact root: no process may open, read, write, create or delete
anything there (checking contents afterwards would only prove the "written" half), and no response may
carry the planted secrets.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self
from urllib.parse import quote

import pytest
from fs_watch import FileSystemWatch
from server_process import Server, start_server
from server_process import raw_http as _raw

pytestmark = pytest.mark.timeout(300)

CANARY = "PLANTED-OUTSIDE-THE-ROOT-7c1e"
SECRET = "PLANTED-SECRET-9d2a"
OTHER_ORIGIN = "http://ui.example:8080"


@dataclass
class Setup:
    server: Server
    zone: Path  # holds the artifact root and, beside it, the planted files
    root: Path
    experiment_id: str
    run_id: str
    model_id: str


def _json(server: Server, method: str, path: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    status, _, body = _raw(server, method, path, json.dumps(payload).encode())
    return status, json.loads(body or b"{}")


def _tree(directory: Path) -> dict[str, bytes | None]:
    """Every entry under ``directory``: file contents, None for directories and symlinks."""
    out: dict[str, bytes | None] = {}
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory).as_posix()
        out[rel] = None if path.is_dir() or path.is_symlink() else path.read_bytes()
    return out


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    base = tmp_path_factory.mktemp("hostile")
    zone = base / "zone"
    secrets = zone / "secrets"
    root = zone / "artifacts"
    secrets.mkdir(parents=True)
    root.mkdir()
    (zone / "outside.txt").write_text(CANARY)
    (secrets / "passwd.txt").write_text(SECRET)
    (root / "inside.txt").write_text("inside")
    os.symlink(secrets, root / "link-out")  # a symlink inside the root pointing out of it
    server = start_server(
        base / "server",
        artifacts_destination=str(root),
        extra_args=["--cors-allowed-origins", OTHER_ORIGIN],
    )
    try:
        status, body = _json(server, "POST", "/api/2.0/mlflow/experiments/create", {"name": "hostile"})
        assert status == 200, body
        experiment_id = body["experiment_id"]
        status, body = _json(server, "POST", "/api/2.0/mlflow/runs/create", {"experiment_id": experiment_id})
        assert status == 200, body
        run_id = body["run"]["info"]["run_id"]
        target = f"/api/2.0/mlflow-artifacts/artifacts/{experiment_id}/{run_id}/artifacts/model/MLmodel"
        status, _, _ = _raw(
            server, "PUT", target, b"flavors: {}", {"Content-Type": "application/octet-stream"}
        )
        assert status == 200
        status, body = _json(
            server, "POST", "/api/2.0/mlflow/logged-models", {"experiment_id": experiment_id, "name": "m"}
        )
        assert status == 200, body
        yield Setup(server, zone, root, experiment_id, run_id, body["model"]["info"]["model_id"])
    finally:
        server.stop()


class OutsideUntouched:
    """Watches the planted directories for the duration of a ``with`` block, then proves nothing happened
    outside the root: no file-system event there, no new entry in the root's parent, planted files intact,
    and no response that carried a planted secret."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.leaks: list[str] = []

    def __enter__(self) -> Self:
        zone = self.setup.zone
        self.before = {"zone": _tree(zone / "secrets"), "outside": (zone / "outside.txt").read_bytes()}
        self.watch = FileSystemWatch([zone, zone / "secrets"])
        return self

    def check(self, what: str, body: bytes) -> None:
        if CANARY.encode() in body or SECRET.encode() in body:
            self.leaks.append(what)

    def __exit__(self, *exc: object) -> None:
        # the artifact root is an entry of the zone directory: events on the root itself are inside it
        events = self.watch.events(ignore=frozenset({"artifacts"}))
        self.watch.close()
        if exc[0] is not None:
            return
        zone = self.setup.zone
        assert events == [], f"something touched files outside the artifact root: {events[:10]}"
        assert sorted(p.name for p in zone.iterdir()) == ["artifacts", "outside.txt", "secrets"]
        assert (zone / "outside.txt").read_bytes() == self.before["outside"] == CANARY.encode()
        assert _tree(zone / "secrets") == self.before["zone"]
        assert self.leaks == [], f"planted secrets were served by: {self.leaks[:5]}"


def _assert_invalid(status: int, body: bytes, what: str) -> None:
    assert status == 400, f"{what}: HTTP {status} {body[:300]!r}"
    assert json.loads(body)["error_code"] == "INVALID_PARAMETER_VALUE", what


# --------------------------------------------------------------------------------- encoded traversal
#: artifact paths as the server sees them after its one URL decoding; each is '..', a path parameter,
#: a NUL or a backslash in some spelling. Sent both as spelled (when that is a valid URL) and quoted.
ENCODED_TRAVERSAL = [
    "%25252e%25252e%25252foutside.txt",  # triple-encoded '../'
    "%252e%252e/outside.txt",
    "%2e%2e/outside.txt",
    "a/%252e%252e/%252e%252e/outside.txt",
    "%2e%2e%252f%2e%2e%252foutside.txt",
    "..;/outside.txt",
    "a/..;/..;/outside.txt",
    "..;jsessionid=1/outside.txt",
    ".;/..;/outside.txt",
    ";/outside.txt",
    "..%3b/outside.txt",
    "%2e%2e%253b/outside.txt",
    "a\x00.txt",
    "a%00.txt",
    "%2500/x",
    "..%00/outside.txt",
    "..\\outside.txt",
    "a\\b.txt",
    "%5c..%5coutside.txt",
    "%255c..%255coutside.txt",
    "link-out/passwd.txt",  # through a symlink in the root that points out of it
]
_URL_SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/%;=")


def _spellings(path: str) -> list[str]:
    """The path quoted for a URL, and as spelled when that is itself a valid URL path."""
    quoted = quote(path, safe="/")
    return [quoted, path] if set(path) <= _URL_SAFE and path != quoted else [quoted]


def _traversal_requests(setup: Setup, path: str) -> Iterator[tuple[str, str, bytes | None]]:
    """Every artifact route, with ``path`` where that route takes a path. The symlink ``link-out`` exists at
    the proxy's root only, so those paths go to the root-level routes (elsewhere they are ordinary names)."""
    run, model = setup.run_id, setup.model_id
    octet = b"pwned"
    via_symlink = path.startswith("link-out")
    for wire in _spellings(path):
        yield "PUT", f"/api/2.0/mlflow-artifacts/artifacts/{wire}", octet
        yield "PUT", f"/ajax-api/2.0/mlflow-artifacts/artifacts/{wire}", octet  # the web UI's upload
        yield "GET", f"/api/2.0/mlflow-artifacts/artifacts/{wire}", None
        yield "GET", f"/ajax-api/2.0/mlflow-artifacts/artifacts/{wire}", None
        yield "DELETE", f"/api/2.0/mlflow-artifacts/artifacts/{wire}", None
        if not via_symlink:  # (a valid spelling there: multipart is refused with 501, storage untouched)
            yield "PUT", f"/api/2.0/mlflow-artifacts/artifacts/{setup.experiment_id}/{wire}", octet
            yield "POST", f"/api/2.0/mlflow-artifacts/mpu/create/{wire}", json.dumps({"path": "x"}).encode()
    query = quote(path, safe="")
    yield "GET", f"/api/2.0/mlflow-artifacts/artifacts?path={query}", None
    if via_symlink:
        return
    yield "GET", f"/api/2.0/mlflow/artifacts/list?run_id={run}&path={query}", None
    yield "GET", f"/ajax-api/2.0/mlflow/artifacts/list?run_id={run}&path={query}", None
    yield "GET", f"/get-artifact?run_uuid={run}&path={query}", None
    yield (
        "GET",
        f"/api/2.0/mlflow/logged-models/{model}/artifacts/directories?artifact_directory_path={query}",
        None,
    )
    yield (
        "GET",
        f"/ajax-api/2.0/mlflow/logged-models/{model}/artifacts/files?artifact_file_path={query}",
        None,
    )


def test_encoded_traversal_is_refused_on_every_artifact_route(setup: Setup) -> None:
    root_before = _tree(setup.root)
    sent = 0
    with OutsideUntouched(setup) as outside:
        for path in ENCODED_TRAVERSAL:
            for method, target, body in _traversal_requests(setup, path):
                headers = {"Content-Type": "application/octet-stream"} if method == "PUT" else None
                status, _, response = _raw(setup.server, method, target, body, headers)
                outside.check(f"{method} {target}", response)
                _assert_invalid(status, response, f"{method} {target}")
                sent += 1
    assert sent > 350
    assert _tree(setup.root) == root_before  # no literal '%252e%252e' or '..;' name was stored either
    # legitimate names, including ones with ';' and '%' in them, still work
    for name in ("a;b.txt", "100%25.txt", "a%2520b.txt"):
        target = f"/api/2.0/mlflow-artifacts/artifacts/{setup.experiment_id}/ok/{name}"
        status, _, _ = _raw(setup.server, "PUT", target, b"ok", {"Content-Type": "application/octet-stream"})
        assert status == 200, name
        assert _raw(setup.server, "GET", target)[2] == b"ok"


# ------------------------------------------------------------------------------ experiment locations
def _hostile_locations(setup: Setup) -> list[str]:
    zone, root = setup.zone, setup.root
    return [
        "mlflow-artifacts:/../../../../etc",
        "mlflow-artifacts:/%2e%2e/%2e%2e/etc",
        "mlflow-artifacts:/%252e%252e/%252e%252e/etc",
        "mlflow-artifacts:/a/..;/..;/etc",
        "mlflow-artifacts://evil.example/x",  # another server's proxy: clients would upload there
        "mlflow-artifacts:/x\x00y",
        "mlflow-artifacts:/x?y=1",
        "s3://bucket/a/../../../etc",
        "s3://bucket/a/%2e%2e/%2e%2e/etc",
        "s3://bucket/allowed-looking",  # outside the artifact root of a server that proxies artifacts
        "gs://bucket/x",
        "http:///#/../../etc/",
        "http://evil.example/x",
        "https://[::1/x",
        "file:///etc",
        f"file://{zone}/secrets",
        str(zone / "secrets"),
        f"{root}/../secrets",
        f"{root}/%2e%2e/secrets",
        f"{root}/link-out",  # inside the root by name, outside once the symlink is followed
        f"{root}/x\\..\\..\\secrets",
        f"{root}/x#frag",
        "relative/path",
        "\x00",
        "a" * 5000,
    ]


def _experiment_names(setup: Setup) -> set[str]:
    status, body = _json(setup.server, "POST", "/api/2.0/mlflow/experiments/search", {"max_results": 1000})
    assert status == 200
    return {e["name"] for e in body.get("experiments", [])}


def test_hostile_experiment_locations_are_refused(setup: Setup) -> None:
    with OutsideUntouched(setup) as outside:
        for i, location in enumerate(_hostile_locations(setup)):
            payload = {"name": f"located-{i}", "artifact_location": location}
            status, _, body = _raw(
                setup.server, "POST", "/api/2.0/mlflow/experiments/create", json.dumps(payload).encode()
            )
            outside.check(location, body)
            _assert_invalid(status, body, repr(location))
    assert not {n for n in _experiment_names(setup) if n.startswith("located-")}
    # locations inside the roots are still accepted, and a run there writes inside the root
    for name, location in [
        ("proxied-elsewhere", "mlflow-artifacts:/team-a/projects"),
        ("local-inside", str(setup.root / "team-b")),
    ]:
        status, body = _json(
            setup.server,
            "POST",
            "/api/2.0/mlflow/experiments/create",
            {"name": name, "artifact_location": location},
        )
        assert status == 200, body


# ---------------------------------------------------------------------------- model version sources
def _hostile_sources(setup: Setup) -> list[tuple[str, dict[str, str]]]:
    exp, run, model, port = setup.experiment_id, setup.run_id, setup.model_id, setup.server.port
    by_run = {"run_id": run}
    return [
        ("http:///#/../../../../../../etc/", by_run),
        ("http:///#/../../../../../../etc/", {}),
        (f"runs:/{run}/%252e%252e/%252e%252e/%252e%252e/%252e%252e/etc", by_run),
        (f"runs:/{run}/%2e%2e/%2e%2e/etc", by_run),
        (f"runs:/{run}/..;/..;/etc", by_run),
        (f"runs:/{run}/model#x", by_run),
        (f"runs:/{run}/model\x00", by_run),
        (f"mlflow-artifacts:/{exp}/{run}/artifacts/%252e%252e/%252e%252e/%252e%252e/0", by_run),
        (f"mlflow-artifacts:/{exp}/{run}/artifacts/..%3b/..%3b/x", by_run),
        ("mlflow-artifacts:/0/someone-elses-run/artifacts/model", by_run),  # outside the run's location
        (f"http://127.0.0.1:{port}/api/2.0/mlflow-artifacts/artifacts/0/other/model", by_run),
        (f"file://{setup.zone}/secrets", by_run),
        (str(setup.zone / "secrets"), by_run),
        (f"{setup.root}/{exp}/{run}/artifacts/../../../../secrets", by_run),
        ("s3://bucket/models/%2e%2e/%2e%2e/other", by_run),
        ("s3://bucket/models/x?versionId=1", by_run),
        (f"models:/{model}?x=1", {"model_id": model}),
        ("https://[::1/model", by_run),
    ]


def _versions_of(setup: Setup, name: str) -> list[Any]:
    status, _, body = _raw(
        setup.server, "GET", "/api/2.0/mlflow/model-versions/search?filter=" + quote(f"name='{name}'")
    )
    assert status == 200, body
    return list(json.loads(body).get("model_versions", []))


def test_hostile_model_version_sources_are_refused(setup: Setup) -> None:
    status, body = _json(
        setup.server, "POST", "/api/2.0/mlflow/registered-models/create", {"name": "hostile"}
    )
    assert status == 200, body
    with OutsideUntouched(setup) as outside:
        for source, owner in _hostile_sources(setup):
            payload = {"name": "hostile", "source": source, **owner}
            status, _, response = _raw(
                setup.server, "POST", "/api/2.0/mlflow/model-versions/create", json.dumps(payload).encode()
            )
            outside.check(source, response)
            _assert_invalid(status, response, repr(source))
    assert _versions_of(setup, "hostile") == []
    exp, run = setup.experiment_id, setup.run_id
    for source, owner in [
        (f"runs:/{run}/model", {"run_id": run}),
        (f"mlflow-artifacts:/{exp}/{run}/artifacts/model", {"run_id": run}),
        (f"models:/{setup.model_id}", {"model_id": setup.model_id}),
    ]:
        status, body = _json(
            setup.server,
            "POST",
            "/api/2.0/mlflow/model-versions/create",
            {"name": "hostile", "source": source, **owner},
        )
        assert status == 200, (source, body)
    assert len(_versions_of(setup, "hostile")) == 3


# ------------------------------------------------------------------------------------------ page tokens
def _token(payload: Any) -> str:
    raw = payload if isinstance(payload, bytes) else json.dumps({"offset": payload}).encode()
    return base64.b64encode(raw).decode()


HOSTILE_TOKENS = [
    _token(10**22),
    _token(2**63),
    _token(2**64 + 5),
    _token(2**53),
    _token(-1),
    _token(1.5),
    _token(1e308),
    _token("9" * 5000),
    _token(True),
    _token(None),
    _token([1]),
    _token({"offset": 1}),
    _token(b"[" * 5000 + b"]" * 5000),
    _token(b"not json"),
    _token(b'{"offset": ' + b"9" * 5000 + b"}"),
    "!!not-base64!!",
    "eyJvZmZzZXQiOiA",
    "a" * 10_000,  # (GET requests carry it in the URL, which uvicorn caps at 16 KiB)
    "%00",
]


def _page_token_requests(setup: Setup, token: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    exp, run, q = setup.experiment_id, setup.run_id, quote(token, safe="")
    return [
        ("POST", "/api/2.0/mlflow/runs/search", {"experiment_ids": [exp], "page_token": token}),
        ("POST", "/api/2.0/mlflow/experiments/search", {"page_token": token}),
        (
            "GET",
            f"/api/2.0/mlflow/metrics/get-history?run_id={run}&metric_key=m&max_results=5&page_token={q}",
            None,
        ),
        ("GET", f"/api/2.0/mlflow/registered-models/search?page_token={q}", None),
        ("GET", f"/api/2.0/mlflow/model-versions/search?page_token={q}", None),
        ("POST", "/api/2.0/mlflow/logged-models/search", {"experiment_ids": [exp], "page_token": token}),
        ("GET", f"/ajax-api/2.0/bakehouse/runs/table?experiment_ids={exp}&page_token={q}", None),
        ("POST", "/api/3.0/mlflow/traces/search", {"experiment_ids": [exp], "page_token": token}),
        (
            "POST",
            "/api/3.0/mlflow/traces/search",
            {"locations": [_trace_location(exp)], "page_token": token},
        ),
    ]


def _trace_location(experiment_id: Any) -> dict[str, Any]:
    return {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}}


def _trace(trace_id: Any, experiment_id: Any) -> dict[str, Any]:
    """A StartTraceV3 body as MLflow's client sends it."""
    info = {
        "trace_id": trace_id,
        "trace_location": _trace_location(experiment_id),
        "request_time": "2025-01-01T00:00:00Z",
        "state": "OK",
    }
    return {"trace": {"trace_info": info}}


def test_malformed_or_out_of_range_page_tokens_are_400(setup: Setup) -> None:
    with OutsideUntouched(setup) as outside:
        for token in HOSTILE_TOKENS:
            for method, target, payload in _page_token_requests(setup, token):
                body = json.dumps(payload).encode() if payload is not None else None
                status, _, response = _raw(setup.server, method, target, body)
                outside.check(target, response)
                _assert_invalid(status, response, f"{method} {target[:80]} token={token[:40]}")
    # the largest offset a token may hold is still a valid (empty) page
    largest = _token(2**53 - 1)
    for method, target, payload in _page_token_requests(setup, largest):
        body = json.dumps(payload).encode() if payload is not None else None
        status, _, response = _raw(setup.server, method, target, body)
        assert status == 200, (target, response[:200])


# ------------------------------------------------------------------------------------------ JSON types
def _run_count(setup: Setup) -> int:
    status, body = _json(
        setup.server, "POST", "/api/2.0/mlflow/runs/search", {"experiment_ids": ["0", setup.experiment_id]}
    )
    assert status == 200
    return len(body.get("runs", []))


def _trace_ids(setup: Setup) -> list[str]:
    status, body = _json(
        setup.server,
        "POST",
        "/api/3.0/mlflow/traces/search",
        {"locations": [_trace_location(setup.experiment_id)]},
    )
    assert status == 200, body
    return [t["trace_id"] for t in body.get("traces", [])]


def test_numbers_where_the_protocol_has_strings_are_400(setup: Setup) -> None:
    exp_number, run = int(setup.experiment_id), setup.run_id
    requests = [
        ("/mlflow/runs/create", {"experiment_id": exp_number}),
        ("/mlflow/runs/create", {"experiment_id": 13}),
        ("/mlflow/runs/create", {}),  # MLflow: 400, never a run in experiment 0
        ("/mlflow/runs/create", {"experiment_id": ""}),
        ("/mlflow/runs/create", {"experiment_id": None}),
        ("/mlflow/runs/create", {"experiment_id": True}),
        ("/mlflow/runs/create", {"experiment_id": [setup.experiment_id]}),
        ("/mlflow/experiments/delete", {"experiment_id": exp_number}),
        ("/mlflow/experiments/restore", {"experiment_id": exp_number}),
        ("/mlflow/experiments/update", {"experiment_id": exp_number, "new_name": "renamed"}),
        ("/mlflow/experiments/set-experiment-tag", {"experiment_id": exp_number, "key": "k", "value": "v"}),
        ("/mlflow/runs/search", {"experiment_ids": [exp_number]}),
        ("/mlflow/runs/delete", {"run_id": 5}),
        ("/mlflow/runs/log-parameter", {"run_id": 5, "key": "k", "value": "v"}),
        ("/mlflow/runs/log-parameter", {"run_id": run, "key": "k", "value": 5}),
        ("/mlflow/runs/set-tag", {"run_id": run, "key": 7, "value": "v"}),
        ("/mlflow/logged-models", {"experiment_id": exp_number}),
        ("/mlflow/registered-models/create", {"name": 42}),
        ("/mlflow/model-versions/transition-stage", {"name": "hostile", "version": 1, "stage": "Staging"}),
        ("/mlflow/registered-models/alias", {"name": "hostile", "alias": "a", "version": 1}),
    ]
    exp = setup.experiment_id
    requests_v3 = [
        ("/mlflow/traces", _trace("tr-hostile-1", exp_number)),
        ("/mlflow/traces", _trace(17, exp)),
        ("/mlflow/traces", _trace("tr-hostile-\x00", exp)),
        ("/mlflow/traces", _trace("tr-hostile-2", [exp])),
        ("/mlflow/traces/search", {"locations": [_trace_location(exp_number)]}),
        ("/mlflow/traces/search", {"locations": [_trace_location(True)]}),
        ("/mlflow/traces/search", {"experiment_ids": [exp_number]}),
        ("/mlflow/traces/batchGetInfos", {"trace_ids": [5]}),
    ]
    runs_before = _run_count(setup)
    names_before = _experiment_names(setup)
    traces_before = _trace_ids(setup)
    with OutsideUntouched(setup) as outside:
        for path, payload in requests:
            status, _, body = _raw(setup.server, "POST", f"/api/2.0{path}", json.dumps(payload).encode())
            outside.check(path, body)
            _assert_invalid(status, body, f"{path} {payload}")
        for path, payload in requests_v3:
            status, _, body = _raw(setup.server, "POST", f"/api/3.0{path}", json.dumps(payload).encode())
            outside.check(path, body)
            _assert_invalid(status, body, f"{path} {payload}")
    assert _run_count(setup) == runs_before
    assert _experiment_names(setup) == names_before
    assert _trace_ids(setup) == traces_before == []
    status, _, raw = _raw(setup.server, "GET", f"/api/2.0/mlflow/runs/get?run_id={run}")
    assert status == 200 and not json.loads(raw)["run"]["data"].get("params")


# ------------------------------------------------------------------------------------------------ CORS
def test_cors_is_granted_to_the_own_origin_and_named_origins_only(setup: Setup) -> None:
    server = setup.server
    own = f"http://127.0.0.1:{server.port}"
    for origin in (
        "http://localhost:1",
        f"http://localhost:{server.port + 1}",
        f"http://127.0.0.1:{server.port + 1}",
        "http://[::1]:3000",
        f"https://127.0.0.1:{server.port}.evil.example",
        "null",
    ):
        credentialed = {"Origin": origin, "Authorization": "Basic " + base64.b64encode(b"a:b").decode()}
        status, headers, _ = _raw(
            server, "GET", "/api/2.0/mlflow/experiments/search?max_results=1", None, credentialed
        )
        assert status == 200 and "access-control-allow-origin" not in headers, origin
        assert "access-control-allow-credentials" not in headers
        preflight = {**credentialed, "Access-Control-Request-Method": "POST"}
        status, headers, _ = _raw(server, "OPTIONS", "/api/2.0/mlflow/experiments/create", None, preflight)
        assert status == 403 and "access-control-allow-origin" not in headers, origin
        name = f"cors-{origin}"
        status, headers, _ = _raw(
            server,
            "POST",
            "/api/2.0/mlflow/experiments/create",
            json.dumps({"name": name}).encode(),
            credentialed,
        )
        assert status == 403 and "access-control-allow-origin" not in headers, origin
        assert name not in _experiment_names(setup)
    for origin in (own, OTHER_ORIGIN):
        status, headers, _ = _raw(
            server,
            "OPTIONS",
            "/api/2.0/mlflow/experiments/create",
            None,
            {"Origin": origin, "Access-Control-Request-Method": "POST"},
        )
        assert status == 204 and headers["access-control-allow-origin"] == origin
        status, headers, _ = _raw(
            server,
            "POST",
            "/api/2.0/mlflow/experiments/create",
            json.dumps({"name": f"ok-{origin}"}).encode(),
            {"Origin": origin},
        )
        assert status == 200 and headers["access-control-allow-origin"] == origin


def test_the_outside_check_can_fail(setup: Setup) -> None:
    """The proof above is only worth something if it notices a read outside the root: here is one."""
    touched = pytest.raises(AssertionError, match="something touched files outside the artifact root")
    with touched, OutsideUntouched(setup):
        (setup.zone / "secrets" / "passwd.txt").read_bytes()
    served = pytest.raises(AssertionError, match="planted secrets were served")
    with served, OutsideUntouched(setup) as outside:
        outside.check("a leaky route", f"...{SECRET}...".encode())


# ---------------------------------------------------------------------- every field of every endpoint
def _example(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """A schema-valid value with every optional property present (so every field can be made hostile)."""
    if "$ref" in schema:
        return _example(defs[schema["$ref"].rsplit("/", 1)[1]], defs)
    if "anyOf" in schema:
        options = [o for o in schema["anyOf"] if o.get("type") != "null"]
        return _example(options[0], defs)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {name: _example(sub, defs) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [_example(schema.get("items", {}), defs)]
    return {"string": "x", "integer": 1, "number": 1.0, "boolean": False}.get(str(kind), "x")


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path, value


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replaced(value[path[0]], path[1:], new)
    return copy


def _sweep_ids(server: Server) -> dict[str, Any]:
    """Real entities for the sweep, so that writes get past their lookups to the hostile value itself."""
    tag = os.urandom(4).hex()
    status, body = _json(server, "POST", "/api/2.0/mlflow/experiments/create", {"name": f"sweep-{tag}"})
    assert status == 200, body
    experiment_id = body["experiment_id"]
    status, body = _json(server, "POST", "/api/2.0/mlflow/runs/create", {"experiment_id": experiment_id})
    assert status == 200, body
    run_id = body["run"]["info"]["run_id"]
    status, body = _json(server, "POST", "/api/2.0/mlflow/logged-models", {"experiment_id": experiment_id})
    assert status == 200, body
    model_id = body["model"]["info"]["model_id"]
    name = f"sweep-model-{tag}"
    assert _json(server, "POST", "/api/2.0/mlflow/registered-models/create", {"name": name})[0] == 200
    status, body = _json(
        server,
        "POST",
        "/api/2.0/mlflow/model-versions/create",
        {"name": name, "source": f"runs:/{run_id}/model", "run_id": run_id},
    )
    assert status == 200, body
    trace_id = f"tr-{os.urandom(16).hex()}"
    status, body = _json(server, "POST", "/api/3.0/mlflow/traces", _trace(trace_id, experiment_id))
    assert status == 200, body
    return {
        "trace_id": trace_id,
        "request_id": trace_id,
        "trace_ids": [trace_id],
        "locations": [_trace_location(experiment_id)],
        "run_id": run_id,
        "run_uuid": run_id,
        "run_ids": [run_id],
        "source_run_id": run_id,
        "experiment_id": experiment_id,
        "experiment_ids": [experiment_id],
        "model_id": model_id,
        "name": name,
        "version": "1",
    }


def _field_sweep(server: Server) -> list[str]:
    """Every JSON endpoint, its ids filled with real entities, with each string field in turn set to hostile
    strings and each integer field to huge integers; returns what misbehaved (5xx, or a 4xx without MLflow's
    error body). Deleting endpoints go last, so the entities live through the rest."""
    from bakehouse.wire.endpoints import all_endpoints

    ids = _sweep_ids(server)
    endpoints = [e for e in all_endpoints() if not e.raw and e.request is not None]
    endpoints.sort(key=lambda e: e.name.startswith("Delete"))
    problems = []
    for endpoint in endpoints:
        model = endpoint.request_model()
        assert model is not None, endpoint.name
        schema = model.model_json_schema()
        example = _example(schema, schema.get("$defs", {}))
        body = {key: ids.get(key, value) for key, value in example.items()}
        path = f"/api/{endpoint.version}" + re.sub(
            r"\{([^}:]+)[^}]*\}", lambda m: str(ids.get(m.group(1), "x")), endpoint.path
        )
        for leaf, original in _leaves(body):
            if isinstance(original, bool):
                continue
            hostile = (
                ["a\x00b", "%25252e%25252e%25252f", "..;/x", "a\\b"]
                if isinstance(original, str)
                else [2**64, -(2**63) - 1, 10**40]
                if isinstance(original, int)
                else []
            )
            for value in hostile:
                variant = _replaced(body, leaf, value)
                if endpoint.method == "GET":
                    flat = [
                        (k, item)
                        for k, v in variant.items()
                        for item in (v if isinstance(v, list) else [v])
                        if not isinstance(item, (dict, list))
                    ]
                    target = path + "?" + "&".join(f"{k}={quote(str(v), safe='')}" for k, v in flat)
                    status, _, response = _raw(server, "GET", target)
                else:
                    status, _, response = _raw(server, endpoint.method, path, json.dumps(variant).encode())
                if status >= 500 and not (status == 501 and b"NOT_IMPLEMENTED" in response):
                    problems.append(f"{endpoint.name} {leaf}={value!r}: HTTP {status} {response[:150]!r}")
                elif status >= 400 and b'"error_code"' not in response:
                    problems.append(f"{endpoint.name} {leaf}={value!r}: HTTP {status} without an error body")
    return problems


def _hostile_trace_documents(experiment_id: str) -> list[dict[str, Any]]:
    """StartTraceV3 bodies with a hostile value inside the trace document (which the field sweep, seeing
    only the ``trace`` object, does not reach)."""
    out = []
    for key, value in [
        ("trace_id", "tr-\x00"),
        ("trace_id", "x" * 5000),
        ("execution_duration", "99999999999999999999s"),
        ("execution_duration", "-5s"),
        ("request_time", 2**64),
        ("request_time", "9999999-01-01T00:00:00Z"),
        ("request_preview", "..;/\x00"),
        ("response_preview", "a\x00b"),
        ("client_request_id", "%25252e%25252e\x00"),
        ("tags", {"k": "v\x00"}),
        ("tags", {"k\x00": "v"}),
        ("trace_metadata", {"k": "\x00"}),
        ("state", "OK\x00"),
    ]:
        body = _trace(f"tr-{os.urandom(16).hex()}", experiment_id)
        body["trace"]["trace_info"][key] = value
        out.append(body)
    return out


def _hostile_otlp_spans() -> list[dict[str, Any]]:
    """OTLP/JSON spans with a hostile name, span type or time (each kept in a column of its own)."""
    out = []
    for key, value in [
        ("name", "root\x00"),
        ("attributes", [{"key": "mlflow.spanType", "value": {"stringValue": "LLM\x00"}}]),
        ("startTimeUnixNano", str(2**64 - 1)),
        ("endTimeUnixNano", str(2**63)),
    ]:
        span = {
            "traceId": os.urandom(16).hex(),
            "spanId": os.urandom(8).hex(),
            "name": "root",
            "startTimeUnixNano": "1700000000000000000",
            "endTimeUnixNano": "1700000000500000000",
            key: value,
        }
        out.append(span)
    return out


def _trace_document_problems(server: Server, experiment_id: str) -> list[str]:
    problems = []
    for body in _hostile_trace_documents(experiment_id):
        status, _, response = _raw(server, "POST", "/api/3.0/mlflow/traces", json.dumps(body).encode())
        if status != 400 or b"INVALID_PARAMETER_VALUE" not in response:
            problems.append(f"{body['trace']['trace_info']}: HTTP {status} {response[:150]!r}")
    for span in _hostile_otlp_spans():
        export = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
        headers = {"Content-Type": "application/json", "x-mlflow-experiment-id": experiment_id}
        status, _, response = _raw(server, "POST", "/v1/traces", json.dumps(export).encode(), headers)
        if status != 400 or b"INVALID_PARAMETER_VALUE" not in response:
            problems.append(f"OTLP span {span}: HTTP {status} {response[:150]!r}")
    status, body = _json(
        server, "POST", "/api/3.0/mlflow/traces/search", {"locations": [_trace_location(experiment_id)]}
    )
    if status != 200 or body.get("traces"):
        problems.append(f"traces were stored: {status} {str(body)[:200]}")
    return problems


def test_hostile_values_inside_trace_documents_are_400(setup: Setup) -> None:
    status, body = _json(setup.server, "POST", "/api/2.0/mlflow/experiments/create", {"name": "traces-x"})
    assert status == 200, body
    with OutsideUntouched(setup) as outside:
        problems = _trace_document_problems(setup.server, body["experiment_id"])
        outside.check("trace documents", b"")
    assert problems == [], "\n".join(problems)


def test_hostile_value_in_every_field_of_every_endpoint(setup: Setup) -> None:
    offset = setup.server.log_path.stat().st_size
    with OutsideUntouched(setup) as outside:
        problems = _field_sweep(setup.server)
        outside.check("field sweep", b"")
    assert problems == [], "\n".join(problems[:20])
    assert "Traceback" not in setup.server.log_path.read_text(errors="replace")[offset:]


@pytest.mark.postgres
def test_hostile_value_in_every_field_on_postgresql(tmp_path: Path, postgres_uri: str) -> None:
    """PostgreSQL refuses NUL in text and integers beyond 64 bits, where SQLite stores them: each such value
    must be refused before it reaches the database."""
    server = start_server(tmp_path / "pg-server", backend_store_uri=postgres_uri)
    try:
        status, body = _json(server, "POST", "/api/2.0/mlflow/experiments/create", {"name": "pg-traces"})
        assert status == 200, body
        problems = _field_sweep(server) + _trace_document_problems(server, body["experiment_id"])
        assert problems == [], "\n".join(problems[:20])
        assert "Traceback" not in server.log()
    finally:
        server.stop()
