"""The kubernetes backend against a real HTTP endpoint speaking the Kubernetes batch/v1 API.

There is no cluster here, so a small local server plays the API server: the official ``kubernetes`` client
really connects, POSTs the Job and polls its status over HTTP. The test checks what arrived on the wire.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("kubernetes")
pytestmark = pytest.mark.timeout(120)

TEMPLATE = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: placeholder
  namespace: training
spec:
  backoffLimit: 1
  template:
    spec:
      containers:
      - name: placeholder
        image: placeholder
        resources:
          limits: {cpu: "1"}
      restartPolicy: Never
"""


class FakeApiServer:
    """Records requests; Jobs are stored as POSTed and report Complete once read back."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Any]] = []
        self.jobs: dict[str, dict[str, Any]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(("POST", self.path, body))
                server.jobs[body["metadata"]["name"]] = body
                self._reply(201, body)

            def do_GET(self) -> None:
                server.requests.append(("GET", self.path, None))
                name = self.path.split("/jobs/")[1].split("/")[0]
                job = dict(server.jobs[name])
                job["status"] = {
                    "startTime": "2026-01-01T00:00:00Z",
                    "succeeded": 1,
                    "conditions": [{"type": "Complete", "status": "True"}],
                }
                self._reply(200, job)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
            f"clusters:\n- name: test\n  cluster:\n    server: {self.url}\n"
            "users:\n- name: tester\n  user:\n    token: secret-token\n"
            "contexts:\n- name: test\n  context:\n    cluster: test\n    user: tester\n"
        )
        return path


@pytest.fixture
def api_server() -> Iterator[FakeApiServer]:
    server = FakeApiServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def docker_project(tmp_path: Path, new_project: Callable[..., Path]) -> Path:
    return new_project(
        tmp_path / "k8s",
        """\
        name: IrisProject
        docker_env:
          image: python:3.11-slim
        entry_points:
          main:
            parameters:
              C: {type: float, default: 1.0}
            command: "python train.py --C {C}"
        """,
    )


def test_job_submitted_over_http_and_run_finished(
    api_server: FakeApiServer, docker_project: Path, tmp_path: Path, client: Any, tracking_uri: str
) -> None:
    from kubernetes.client import ApiClient

    from bakehouse.projects.backends.kubernetes import to_v1_job
    from bakehouse.projects.runner import ProjectRunRequest, run_project

    (tmp_path / "job.yaml").write_text(TEMPLATE)
    config = {
        "kube-job-template-path": str(tmp_path / "job.yaml"),
        "kube-config-path": str(api_server.kubeconfig(tmp_path / "kubeconfig")),
        "kube-context": "test",
        "image": "registry.example.com/iris@sha256:abc",
        "poll-interval": 0.05,
    }
    result = run_project(
        ProjectRunRequest(
            uri=str(docker_project),
            parameters={"C": "0.5"},
            backend="kubernetes",
            backend_config=config,
            tracking_uri=tracking_uri,
        ),
        client=client,
    )
    assert result.status == "FINISHED"
    method, path, body = api_server.requests[0]
    assert (method, path) == ("POST", "/apis/batch/v1/namespaces/training/jobs")
    # what went over the wire is exactly the rendered Job, as the official client serializes a V1Job
    assert body == ApiClient().sanitize_for_serialization(to_v1_job(result.job))
    assert body == result.job
    assert body["metadata"]["name"].startswith("irisproject-")
    assert body["metadata"]["namespace"] == "training"
    assert body["spec"]["backoffLimit"] == 1
    container = body["spec"]["template"]["spec"]["containers"][0]
    assert container["name"] == "irisproject"
    assert container["image"] == "registry.example.com/iris@sha256:abc"
    assert container["command"] == ["python", "train.py", "--C", "0.5"]
    assert container["resources"] == {"limits": {"cpu": "1"}}
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["MLFLOW_RUN_ID"] == env["BAKEHOUSE_RUN_ID"] == result.run_id
    assert env["MLFLOW_EXPERIMENT_ID"] == "0"
    assert env["MLFLOW_TRACKING_URI"] == tracking_uri
    status_path = f"/apis/batch/v1/namespaces/training/jobs/{body['metadata']['name']}/status"
    assert ("GET", status_path, None) in api_server.requests

    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"C": "0.5"}
    assert run.data.tags["mlflow.project.backend"] == "kubernetes"
    assert run.data.tags["mlflow.project.env"] == "docker"
    assert run.data.tags["bakehouse.kubernetes.job"] == f"training/{body['metadata']['name']}"


def test_cluster_unreachable_marks_run_failed(
    docker_project: Path, tmp_path: Path, client: Any, tracking_uri: str
) -> None:
    from bakehouse.projects.backends.kubernetes import KubernetesBackendError
    from bakehouse.projects.runner import ProjectRunRequest, run_project

    (tmp_path / "job.yaml").write_text(TEMPLATE)
    server = FakeApiServer()  # never started: nothing listens on its port once closed
    kubeconfig = server.kubeconfig(tmp_path / "kubeconfig")
    server.httpd.server_close()
    config = {
        "kube-job-template-path": str(tmp_path / "job.yaml"),
        "kube-config-path": str(kubeconfig),
        "image": "img:1",
    }
    with pytest.raises(KubernetesBackendError, match="Could not reach the Kubernetes API"):
        run_project(
            ProjectRunRequest(
                uri=str(docker_project),
                backend="kubernetes",
                backend_config=config,
                tracking_uri=tracking_uri,
            ),
            client=client,
        )
    [run] = client.search_runs(["0"])
    assert run.info.status == "FAILED"


def test_cli_dry_run_prints_the_job(
    run_cli: Callable[..., Any], runs: Callable[[], list[Any]], docker_project: Path, tmp_path: Path
) -> None:
    (tmp_path / "job.yaml").write_text(TEMPLATE)
    (tmp_path / "cfg.json").write_text(
        json.dumps(
            {
                "kube-job-template-path": str(tmp_path / "job.yaml"),
                "repository-uri": "registry.example.com/iris",
            }
        )
    )
    result = run_cli(
        str(docker_project),
        "-b",
        "kubernetes",
        "--backend-config",
        str(tmp_path / "cfg.json"),
        "-P",
        "C=2",
        "--dry-run",
    )
    assert result.returncode == 0, result.output
    job = json.loads(result.stdout)
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "train.py", "--C", "2"]
    assert container["image"].startswith("registry.example.com/iris:")
    assert {"name": "MLFLOW_RUN_ID", "value": "<run-id>"} in container["env"]
    assert runs() == []


def test_a_schedule_is_submitted_as_a_cronjob(
    api_server: FakeApiServer, docker_project: Path, tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    """``--every`` with the kubernetes backend: one CronJob POSTed, no run created here (each firing makes one)."""
    (tmp_path / "job.yaml").write_text(TEMPLATE)
    config = {
        "kube-job-template-path": str(tmp_path / "job.yaml"),
        "kube-config-path": str(api_server.kubeconfig(tmp_path / "kubeconfig")),
        "kube-context": "test",
        "image": "registry.example.com/iris@sha256:abc",
    }
    result = run_cli(
        str(docker_project),
        "--backend",
        "kubernetes",
        "--backend-config",
        json.dumps(config),
        "--every",
        "6h",
    )
    assert result.returncode == 0, result.output
    ((method, path, body),) = api_server.requests
    assert (method, path) == ("POST", "/apis/batch/v1/namespaces/training/cronjobs")
    assert body["kind"] == "CronJob" and body["spec"]["schedule"] == "0 */6 * * *"
    assert body["metadata"]["name"] == "irisproject"
    container = body["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["bakehouse", "run", ".", "-e", "main", "--env-manager", "local"]
    assert container["resources"] == {"limits": {"cpu": "1"}}
    assert "CronJob training/irisproject runs on schedule '0 */6 * * *'" in result.output
