"""The Kubernetes Job rendered from a user's template, checked field by field and against the client's model."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from bakehouse.projects.backends.kubernetes import (
    KubernetesBackendError,
    KubernetesConfig,
    container_command,
    dns_label,
    load_backend_config,
    render_job,
    run_env_vars,
    to_v1_job,
)

TEMPLATE = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: "{replaced with MLflow project name}"
  namespace: ml-jobs
  labels:
    team: vision
spec:
  ttlSecondsAfterFinished: 100
  backoffLimit: 0
  template:
    spec:
      containers:
      - name: "{replaced with MLflow project name}"
        image: "{replaced with URI of Docker image created during Project execution}"
        command: ["{replaced with MLflow Project entry point command}"]
        env:
        - name: EXISTING
          value: keep-me
        - name: MLFLOW_RUN_ID
          value: stale
        resources:
          limits:
            memory: 512Mi
          requests:
            memory: 256Mi
      restartPolicy: Never
"""


@pytest.fixture
def template_path(tmp_path: Path) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(TEMPLATE)
    return path


def test_render_job_field_by_field(template_path: Path) -> None:
    config = KubernetesConfig.from_dict({"kube-job-template-path": str(template_path), "image": "reg/iris:1"})
    env = run_env_vars("http://tracking:5000", "run123", "7")
    job = render_job(
        config.job_template,
        project_name="IrisProject",
        image="reg/iris:1",
        command=["python", "train.py", "--C", "0.1"],
        env_vars=env,
        now=datetime(2026, 1, 2, 3, 4, 5, 678901),
    )
    assert job["apiVersion"] == "batch/v1"
    assert job["kind"] == "Job"
    assert job["metadata"] == {
        "name": "irisproject-2026-01-02-03-04-05-678901",
        "namespace": "ml-jobs",
        "labels": {"team": "vision"},
    }
    assert job["spec"]["ttlSecondsAfterFinished"] == 100
    assert job["spec"]["backoffLimit"] == 0
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert len(pod["containers"]) == 1
    container = pod["containers"][0]
    assert container["name"] == "irisproject"
    assert container["image"] == "reg/iris:1"
    assert container["command"] == ["python", "train.py", "--C", "0.1"]
    assert container["resources"] == {"limits": {"memory": "512Mi"}, "requests": {"memory": "256Mi"}}
    assert container["env"] == [
        {"name": "EXISTING", "value": "keep-me"},
        {"name": "MLFLOW_TRACKING_URI", "value": "http://tracking:5000"},
        {"name": "MLFLOW_RUN_ID", "value": "run123"},
        {"name": "MLFLOW_EXPERIMENT_ID", "value": "7"},
        {"name": "BAKEHOUSE_TRACKING_URI", "value": "http://tracking:5000"},
        {"name": "BAKEHOUSE_RUN_ID", "value": "run123"},
        {"name": "BAKEHOUSE_EXPERIMENT_ID", "value": "7"},
    ]
    # the template itself is untouched, so it can be rendered again for the next run
    assert config.job_template["spec"]["template"]["spec"]["containers"][0]["image"].startswith("{replaced")
    # and the result is a valid V1Job for the official client, with nothing lost in translation
    body = to_v1_job(job)
    assert body.metadata.name == job["metadata"]["name"]
    assert body.spec.template.spec.containers[0].env[-1].value == "7"


def test_kube_tracking_uri_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBE_MLFLOW_TRACKING_URI", "http://in-cluster:5000")
    env = run_env_vars("sqlite:////tmp/x.db", "r", "0")
    assert env["MLFLOW_TRACKING_URI"] == env["BAKEHOUSE_TRACKING_URI"] == "http://in-cluster:5000"


def test_unknown_template_fields_are_refused(template_path: Path) -> None:
    config = KubernetesConfig.from_dict({"kube-job-template-path": str(template_path), "image": "i"})
    job = render_job(config.job_template, project_name="p", image="i", command=["x"], env_vars={})
    job["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(
        KubernetesBackendError, match=r"spec\.template\.spec\.containers\[0\]\.imagePullPolicyy"
    ):
        to_v1_job(job)


def test_names_and_commands() -> None:
    assert dns_label("Iris Project_v2") == "iris-project-v2"
    assert dns_label("---") == "project"
    assert len(dns_label("x" * 100)) == 63
    long_name = render_job(
        {"metadata": {}, "spec": {"template": {"spec": {"containers": [{}]}}}},
        project_name="y" * 80,
        image="i",
        command=["c"],
        env_vars={},
        now=datetime(2026, 1, 1),
    )["metadata"]["name"]
    assert len(long_name) <= 63 and long_name.endswith("-2026-01-01-00-00-00-000000")
    assert container_command("python train.py --C 0.1 --name 'a b'") == [
        "python",
        "train.py",
        "--C",
        "0.1",
        "--name",
        "a b",
    ]
    assert container_command("cd src && python t.py") == ["/bin/sh", "-c", "cd src && python t.py"]


def test_backend_config_errors(tmp_path: Path, template_path: Path) -> None:
    with pytest.raises(KubernetesBackendError, match="needs 'kube-job-template-path'"):
        KubernetesConfig.from_dict({})
    with pytest.raises(KubernetesBackendError, match="does not exist"):
        KubernetesConfig.from_dict({"kube-job-template-path": str(tmp_path / "none.yaml")})
    with pytest.raises(KubernetesBackendError, match="needs 'repository-uri'"):
        KubernetesConfig.from_dict({"kube-job-template-path": str(template_path)})
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: Pod\nspec: {}\n")
    with pytest.raises(KubernetesBackendError, match="kind must be Job.*containers must list"):
        KubernetesConfig.from_dict({"kube-job-template-path": str(bad), "image": "i"})
    cfg_file = tmp_path / "cfg.json"
    cfg_file.write_text(json.dumps({"kube-context": "ctx"}))
    assert load_backend_config(str(cfg_file)) == {"kube-context": "ctx"}
    assert load_backend_config('{"a": 1}') == {"a": 1}
    with pytest.raises(KubernetesBackendError, match="not valid JSON"):
        load_backend_config("{nope")
    with pytest.raises(KubernetesBackendError, match="does not exist"):
        load_backend_config(str(tmp_path / "missing.json"))
