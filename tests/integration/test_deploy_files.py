"""The shipped deployment files, checked offline by the tools that read them.

- Kubernetes manifests: kubernetes-validate (PyPI) against the API schemas of several Kubernetes versions,
  strictly (an unknown field is an error), and the numbers that must add up.
- The compose file: `docker-compose config` (Debian's docker-compose; no Docker engine needed) resolves it with
  a sample .env; the proxy gets BAKEHOUSE_PUBLIC_HOST and the servers trust exactly the proxy's address.
- The Caddyfile: `caddy validate` and `caddy adapt` (Debian's Caddy).
- .dockerignore: Docker's own context filter (docker-py's ``exclude_paths``, installed with docker-compose)
  keeps the venv, git history and local databases out of the image.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from deployment_support import REPO, require_tool

DEPLOY = REPO / "deploy"
K8S_VERSIONS = ("1.27.0", "1.30.0", "1.37.0")
POSTGRES_DEFAULT_MAX_CONNECTIONS = 100


def _k8s_documents() -> dict[str, dict[str, Any]]:
    documents: dict[str, dict[str, Any]] = {}
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                documents[document["kind"]] = document
    return documents


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_kubernetes_manifests_validate_strictly(version: str) -> None:
    import kubernetes_validate

    documents = _k8s_documents()
    assert {"ConfigMap", "Deployment", "Service", "Ingress", "NetworkPolicy", "Job"} <= documents.keys()
    for document in documents.values():
        kubernetes_validate.validate(document, version, strict=True)  # raises on any schema violation
    broken = json.loads(json.dumps(documents["Deployment"]))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["pathx"] = "/ready"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, version, strict=True)


def test_kubernetes_layout_adds_up() -> None:
    documents = _k8s_documents()
    deployment, job, config = documents["Deployment"], documents["Job"], documents["ConfigMap"]["data"]
    pod = deployment["spec"]["template"]["spec"]
    server = pod["containers"][0]
    args = server["args"]
    env = {item["name"]: item for item in server["env"]}
    # the database URI (with its password) comes from the environment, never the command line
    assert not any(arg.startswith("--backend-store-uri") for arg in args)
    assert env["BAKEHOUSE_BACKEND_STORE_URI"]["valueFrom"]["secretKeyRef"]["key"] == "database-uri"
    assert env["BAKEHOUSE_SECRET_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "session-key"
    assert "--forwarded-allow-ips=$(FORWARDED_ALLOW_IPS)" in args and config["FORWARDED_ALLOW_IPS"]
    # probes: readiness on the dependencies, liveness on the process, neither with credentials
    assert server["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert server["livenessProbe"]["httpGet"]["path"] == "/health"
    # connections: every pod, including the one a rollout adds, within PostgreSQL's default limit
    pods = deployment["spec"]["replicas"] + deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
    per_pod = int(config["BAKEHOUSE_SQL_MAX_CONNECTIONS"])
    assert pods * per_pod + 1 < POSTGRES_DEFAULT_MAX_CONNECTIONS
    # the migration Job: a new one each time (re-run with a new image), same image as the servers
    assert "generateName" in job["metadata"] and "name" not in job["metadata"]
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    upgrade = job["spec"]["template"]["spec"]["containers"][0]
    assert upgrade["image"] == server["image"]
    assert upgrade["args"] == ["bakehouse", "db", "upgrade"]
    assert upgrade["env"][0]["name"] == "BAKEHOUSE_BACKEND_STORE_URI"
    # only the ingress (and the metrics scraper) may reach the pods whose forwarded headers are trusted
    policy = documents["NetworkPolicy"]
    assert policy["spec"]["podSelector"] == deployment["spec"]["selector"]


def _compose_config(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    compose = require_tool("docker-compose")
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in env.items()))
    return subprocess.run(
        [compose, "-f", str(DEPLOY / "docker-compose.yml"), "--env-file", str(env_file), "config"],
        check=False,
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)},
        timeout=120,
    )


SAMPLE_ENV = {
    "POSTGRES_PASSWORD": "db-secret-123",
    "BAKEHOUSE_ADMIN_PASSWORD": "admin-secret-123",
    "BAKEHOUSE_SECRET_KEY": "0" * 64,
    "BAKEHOUSE_S3_BUCKET": "ml-artifacts",
    "BAKEHOUSE_PUBLIC_HOST": "tracking.example.com",
}


def test_compose_file_resolves_and_trusts_exactly_its_proxy(tmp_path: Path) -> None:
    result = _compose_config(tmp_path, SAMPLE_ENV)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    proxy = services["proxy"]
    assert proxy["environment"]["BAKEHOUSE_PUBLIC_HOST"] == "tracking.example.com"
    proxy_address = proxy["networks"]["backend"]["ipv4_address"]
    upstreams = proxy["environment"]["BAKEHOUSE_UPSTREAMS"].split()
    servers = [name for name in services if name.startswith("bakehouse-")]
    assert sorted(f"{name}:5000" for name in servers) == sorted(upstreams)
    assert len(servers) >= 2
    for name in servers:
        service = services[name]
        command = service["command"]
        assert f"--forwarded-allow-ips={proxy_address}" in command
        assert "--auth" in command and "--workers=2" in command
        assert not any("db-secret-123" in part for part in command)  # not on the command line (ps)
        environment = service["environment"]
        assert "db-secret-123" in environment["BAKEHOUSE_BACKEND_STORE_URI"]
        assert environment["BAKEHOUSE_SECRET_KEY"] == "0" * 64  # the same on every server
        assert "/ready" in " ".join(service["healthcheck"]["test"])
    per_server = int(services[servers[0]]["environment"]["BAKEHOUSE_SQL_MAX_CONNECTIONS"])
    assert len(servers) * per_server + 1 < POSTGRES_DEFAULT_MAX_CONNECTIONS
    assert services["migrate"]["command"] == ["bakehouse", "db", "upgrade"]


def test_compose_file_refuses_to_start_without_its_secrets(tmp_path: Path) -> None:
    env = {k: v for k, v in SAMPLE_ENV.items() if k != "BAKEHOUSE_SECRET_KEY"}
    result = _compose_config(tmp_path, env)
    assert result.returncode != 0
    assert "BAKEHOUSE_SECRET_KEY" in result.stderr


def test_caddyfile_validates_with_health_checks_and_a_retry_window(tmp_path: Path) -> None:
    caddy = require_tool("caddy")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path),
        "BAKEHOUSE_UPSTREAMS": "bakehouse-1:5000 bakehouse-2:5000",
        "BAKEHOUSE_PUBLIC_HOST": "tracking.example.com",
    }
    validate = subprocess.run(
        [caddy, "validate", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert validate.returncode == 0, validate.stderr
    adapted = subprocess.run(
        [caddy, "adapt", "--config", str(DEPLOY / "Caddyfile")],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    server = json.loads(adapted.stdout)["apps"]["http"]["servers"]["srv0"]
    route = server["routes"][0]
    assert route["match"][0]["host"] == ["tracking.example.com"]
    handlers = [h for sub in route["handle"][0]["routes"] for h in sub["handle"]]
    proxy = next(h for h in handlers if h["handler"] == "reverse_proxy")
    assert [u["dial"] for u in proxy["upstreams"]] == ["bakehouse-1:5000", "bakehouse-2:5000"]
    assert proxy["health_checks"]["active"]["uri"] == "/health"
    assert proxy["health_checks"]["passive"]["fail_duration"] > 0
    assert proxy["load_balancing"]["try_duration"] >= 10 * 10**9  # nanoseconds
    assert proxy["flush_interval"] == -1


def test_dockerignore_keeps_environments_history_and_local_data_out_of_the_image(tmp_path: Path) -> None:
    docker_python = "/usr/bin/python3"  # Debian's docker-compose brings docker-py, Docker's context filter
    require_tool("docker-compose")
    context = tmp_path / "context"
    wanted = ["pyproject.toml", "README.md", "src/bakehouse/__init__.py", "deploy/Containerfile"]
    unwanted = [
        ".venv/lib/python3.11/site-packages/big.so",
        ".git/objects/ab/cdef",
        "bakehouse.db",
        "bakehouse.db-wal",
        "bakehouse-artifacts/0/run/model.pkl",
        "mlruns/0/meta.yaml",
        "src/bakehouse/__pycache__/x.cpython-311.pyc",
        "deploy/.env",
        "tests/test_x.py",
    ]
    for relative in wanted + unwanted:
        (context / relative).parent.mkdir(parents=True, exist_ok=True)
        (context / relative).write_text("x")
    (context / ".dockerignore").write_text((REPO / ".dockerignore").read_text())
    program = (
        "import sys, json\n"
        "from docker.utils.build import exclude_paths\n"
        "root = sys.argv[1]\n"
        "patterns = [l.strip() for l in open(root + '/.dockerignore') if l.strip() and not l.startswith('#')]\n"
        "print(json.dumps(sorted(exclude_paths(root, patterns, 'deploy/Containerfile'))))\n"
    )
    result = subprocess.run(
        [docker_python, "-c", program, str(context)], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    sent = set(json.loads(result.stdout))
    assert set(wanted) <= sent
    assert not sent & set(unwanted), sorted(sent & set(unwanted))
