"""The ``kubernetes`` backend: a ``batch/v1`` Job rendered from the user's template, as MLflow does.

From the template MLflow overwrites ``metadata.name`` (``<project>-<timestamp>``), the first container's
``name``, ``image`` and ``command``, and appends the run's variables to its ``env``; the namespace comes from
the template. Differences, on purpose: names are made valid DNS-1123 labels (MLflow passes ``IrisProject``
through and the API server refuses it), the command is a proper argv (MLflow quotes already-split tokens a
second time), and the Job is checked against the official client's ``V1Job`` model before it is sent.

Backend config (JSON): ``kube-job-template-path`` (required), ``kube-context``, ``repository-uri`` (where the
image built from ``docker_env`` is pushed), and Bakehouse extensions: ``image`` (a pre-built image that
already holds the project; skips the build), ``kube-config-path``, ``poll-interval`` seconds and ``wait``.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import shlex
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bakehouse import settings
from bakehouse.errors import InvalidParameterError

logger = logging.getLogger(__name__)

_SHELL_SYNTAX = re.compile(r"&&|\|\||[;|<>`$]")
_DNS_LABEL_MAX = 63
_CRON_NAME_MAX = 52  # the CronJob controller appends "-<11 digits>" to name each Job


class KubernetesBackendError(InvalidParameterError):
    """The backend config, the template or the cluster call is wrong."""


@dataclass(frozen=True)
class KubernetesConfig:
    job_template: dict[str, Any]
    kube_context: str | None = None
    repository_uri: str | None = None
    image: str | None = None
    kube_config_path: str | None = None
    poll_interval: float = 5.0
    wait: bool = True

    @classmethod
    def from_dict(cls, raw: dict[str, Any], base_dir: Path | None = None) -> KubernetesConfig:
        template_path = raw.get("kube-job-template-path")
        if not template_path:
            raise KubernetesBackendError("Kubernetes backend config needs 'kube-job-template-path'")
        path = Path(template_path).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.is_file():
            raise KubernetesBackendError(f"Kubernetes Job template {str(path)!r} does not exist")
        template = load_job_template(path)
        if not raw.get("image") and not raw.get("repository-uri"):
            raise KubernetesBackendError(
                "Kubernetes backend config needs 'repository-uri' (to push the project image) or 'image'"
            )
        return cls(
            job_template=template,
            kube_context=raw.get("kube-context"),
            repository_uri=raw.get("repository-uri"),
            image=raw.get("image"),
            kube_config_path=raw.get("kube-config-path"),
            poll_interval=float(raw.get("poll-interval", 5.0)),
            wait=bool(raw.get("wait", True)),
        )


def load_backend_config(value: str | None) -> dict[str, Any]:
    """``--backend-config``: a path to a JSON file, or inline JSON."""
    if not value:
        return {}
    text = value
    candidate = Path(value).expanduser()
    if not value.lstrip().startswith("{"):
        if not candidate.is_file():
            raise KubernetesBackendError(f"Backend config file {value!r} does not exist")
        text = candidate.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise KubernetesBackendError(f"Backend config is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise KubernetesBackendError("Backend config must be a JSON object")
    return data


def load_job_template(path: Path) -> dict[str, Any]:
    import yaml  # only when a Kubernetes run is requested

    try:
        template = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise KubernetesBackendError(f"Job template {path.name} is not valid YAML: {exc}") from None
    problems = []
    if not isinstance(template, dict):
        raise KubernetesBackendError(f"Job template {path.name} must be a YAML mapping")
    if template.get("kind") != "Job" or not str(template.get("apiVersion", "")).startswith("batch/"):
        problems.append("kind must be Job with apiVersion batch/v1")
    containers = (((template.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")
    if not isinstance(containers, list) or not containers or not isinstance(containers[0], dict):
        problems.append("spec.template.spec.containers must list at least one container")
    if problems:
        raise KubernetesBackendError(f"Job template {path.name} is invalid: " + "; ".join(problems))
    template.setdefault("metadata", {})
    return template


def dns_label(text: str, max_length: int = _DNS_LABEL_MAX) -> str:
    """``"Iris Project_v2"`` → ``"iris-project-v2"``: lowercase alphanumerics and dashes, trimmed."""
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    label = re.sub(r"-{2,}", "-", label)[:max_length].strip("-")
    return label or "project"


def container_command(command: str) -> list[str]:
    """An argv for the container: split when the command is plain, ``sh -c`` when it uses shell syntax."""
    if _SHELL_SYNTAX.search(command):
        return ["/bin/sh", "-c", command]
    return shlex.split(command)


def run_env_vars(tracking_uri: str, run_id: str, experiment_id: str) -> dict[str, str]:
    uri = settings.kube_tracking_uri() or tracking_uri
    return {
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_RUN_ID": run_id,
        "MLFLOW_EXPERIMENT_ID": experiment_id,
        "BAKEHOUSE_TRACKING_URI": uri,
        "BAKEHOUSE_RUN_ID": run_id,
        "BAKEHOUSE_EXPERIMENT_ID": experiment_id,
    }


def render_job(
    template: dict[str, Any],
    *,
    project_name: str,
    image: str,
    command: list[str],
    env_vars: dict[str, str],
    now: datetime | None = None,
) -> dict[str, Any]:
    """The Job to submit: a deep copy of ``template`` with MLflow's fields overwritten."""
    job = copy.deepcopy(template)
    stamp = (now or datetime.now()).strftime("%Y-%m-%d-%H-%M-%S-%f")
    base = dns_label(project_name, _DNS_LABEL_MAX - len(stamp) - 1)
    job.setdefault("metadata", {})["name"] = f"{base}-{stamp}"
    job["metadata"].setdefault("namespace", "default")
    container = job["spec"]["template"]["spec"]["containers"][0]
    container["name"] = dns_label(project_name)
    container["image"] = image
    container["command"] = list(command)
    env = [e for e in container.get("env") or [] if e.get("name") not in env_vars]
    container["env"] = env + [{"name": k, "value": v} for k, v in env_vars.items()]
    return job


def render_cron_job(job: dict[str, Any], *, project_name: str, schedule: str) -> dict[str, Any]:
    """A ``batch/v1`` CronJob running ``job``'s spec on ``schedule`` (one run at a time: Forbid)."""
    name = dns_label(project_name, _CRON_NAME_MAX)
    metadata = {"name": name, "namespace": job["metadata"].get("namespace", "default")}
    if job["metadata"].get("labels"):
        metadata["labels"] = dict(job["metadata"]["labels"])
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata,
        "spec": {
            "schedule": schedule,
            "concurrencyPolicy": "Forbid",
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {"spec": copy.deepcopy(job["spec"])},
        },
    }


def to_v1_job(job: dict[str, Any], api_client: Any = None, kind: str = "V1Job") -> Any:
    """Validate through the official client's model: a field it does not know is an error, not dropped."""
    from kubernetes import client as k8s  # optional dependency (extra "kubernetes")

    api_client = api_client or k8s.ApiClient()
    body = api_client.deserialize(json.dumps(job), kind, "application/json")
    round_trip = api_client.sanitize_for_serialization(body)
    lost = _lost_fields(job, round_trip)
    if lost:
        raise KubernetesBackendError(
            f"Job template has fields the Kubernetes API does not know: {', '.join(lost)}"
        )
    return body


def _lost_fields(original: Any, round_trip: Any, prefix: str = "") -> list[str]:
    lost: list[str] = []
    if isinstance(original, dict):
        other = round_trip if isinstance(round_trip, dict) else {}
        for key, value in original.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in other:
                if value not in (None, {}, []):
                    lost.append(path)
            else:
                lost.extend(_lost_fields(value, other[key], path))
    elif isinstance(original, list) and isinstance(round_trip, list):
        for index, (a, b) in enumerate(zip(original, round_trip)):
            lost.extend(_lost_fields(a, b, f"{prefix}[{index}]"))
    return lost


def api_client_for(config: KubernetesConfig) -> Any:
    from kubernetes import client as k8s  # optional dependency
    from kubernetes import config as k8s_config
    from kubernetes.config.config_exception import ConfigException

    try:
        return k8s_config.new_client_from_config(
            config_file=config.kube_config_path, context=config.kube_context, persist_config=False
        )
    except (OSError, ConfigException) as first:
        logger.info("No usable kube config (%s); trying the in-cluster configuration", first)
        try:
            k8s_config.load_incluster_config()
        except ConfigException as second:
            raise KubernetesBackendError(
                f"No Kubernetes configuration: kube config failed ({first}); in-cluster config failed ({second})"
            ) from None
        return k8s.ApiClient()


@dataclass
class SubmittedJob:
    name: str
    namespace: str
    api_client: Any

    def status(self) -> str:
        """RUNNING until the Job reports a Complete (FINISHED) or Failed (FAILED) condition."""
        from kubernetes import client as k8s  # optional dependency

        job = k8s.BatchV1Api(self.api_client).read_namespaced_job_status(
            name=self.name, namespace=self.namespace
        )
        for condition in (job.status.conditions or []) if job.status else []:
            if condition.status == "True" and condition.type == "Complete":
                return "FINISHED"
            if condition.status == "True" and condition.type == "Failed":
                return "FAILED"
        return "RUNNING"

    def wait(self, poll_interval: float) -> str:
        while True:
            status = self.status()
            if status != "RUNNING":
                return status
            time.sleep(poll_interval)

    def cancel(self) -> None:
        from kubernetes import client as k8s  # optional dependency

        k8s.BatchV1Api(self.api_client).delete_namespaced_job(
            name=self.name, namespace=self.namespace, propagation_policy="Background"
        )


def submit_job(job: dict[str, Any], config: KubernetesConfig) -> SubmittedJob:
    from kubernetes import client as k8s  # optional dependency
    from kubernetes.client.exceptions import ApiException

    api_client = api_client_for(config)
    body = to_v1_job(job, api_client)
    namespace = job["metadata"]["namespace"]
    try:
        k8s.BatchV1Api(api_client).create_namespaced_job(namespace=namespace, body=body)
    except ApiException as exc:
        raise KubernetesBackendError(
            f"Kubernetes refused the Job ({exc.status} {exc.reason}): {exc.body}"
        ) from None
    except Exception as exc:  # noqa: BLE001 - connection errors from urllib3 have many types
        raise KubernetesBackendError(f"Could not reach the Kubernetes API: {exc}") from None
    logger.info("Submitted Job %s/%s", namespace, job["metadata"]["name"])
    return SubmittedJob(name=job["metadata"]["name"], namespace=namespace, api_client=api_client)


def submit_cron_job(cron: dict[str, Any], config: KubernetesConfig) -> str:
    """Create the CronJob, or replace the one of the same name (re-scheduling a project updates it)."""
    from kubernetes import client as k8s  # optional dependency
    from kubernetes.client.exceptions import ApiException

    api_client = api_client_for(config)
    body = to_v1_job(cron, api_client, kind="V1CronJob")
    namespace, name = cron["metadata"]["namespace"], cron["metadata"]["name"]
    batch = k8s.BatchV1Api(api_client)
    try:
        try:
            batch.create_namespaced_cron_job(namespace=namespace, body=body)
        except ApiException as exc:
            if exc.status != 409:
                raise
            batch.replace_namespaced_cron_job(name=name, namespace=namespace, body=body)
    except ApiException as exc:
        raise KubernetesBackendError(
            f"Kubernetes refused the CronJob ({exc.status} {exc.reason}): {exc.body}"
        ) from None
    except Exception as exc:  # noqa: BLE001 - connection errors from urllib3 have many types
        raise KubernetesBackendError(f"Could not reach the Kubernetes API: {exc}") from None
    logger.info("Scheduled CronJob %s/%s (%s)", namespace, name, cron["spec"]["schedule"])
    return f"{namespace}/{name}"


def project_image(config: KubernetesConfig, project_dir: Path, base_image: str, dry_run: bool) -> str:
    """The image the Job runs: ``image`` from the config, or one built from ``docker_env`` and pushed."""
    if config.image:
        return config.image
    from bakehouse.projects.environments.cache import spec_hash

    files = sorted(
        str(p.relative_to(project_dir)) + str(p.stat().st_mtime_ns)
        for p in project_dir.rglob("*")
        if p.is_file() and ".git" not in p.parts
    )
    tag = f"{config.repository_uri}:{spec_hash({'base': base_image, 'files': files})[:12]}"
    if dry_run:
        return tag
    return build_and_push(project_dir, base_image, tag)


def build_and_push(project_dir: Path, base_image: str, tag: str) -> str:
    """``FROM docker_env.image`` + the project at ``/mlflow/projects/code``; returns ``repo@digest``."""
    import subprocess
    import tempfile

    from bakehouse.projects.environments.docker import check_docker_engine

    check_docker_engine()
    with tempfile.TemporaryDirectory(prefix="bakehouse-image-") as tmp:
        dockerfile = Path(tmp) / "Dockerfile"
        dockerfile.write_text(
            f"FROM {base_image}\nCOPY . /mlflow/projects/code/\nWORKDIR /mlflow/projects/code/\n",
            encoding="utf-8",
        )
        for argv in (
            ["docker", "build", "-f", str(dockerfile), "-t", tag, str(project_dir)],
            ["docker", "push", tag],
        ):
            result = subprocess.run(argv, check=False, capture_output=True, text=True)
            if result.returncode != 0:
                raise KubernetesBackendError(f"{' '.join(argv[:2])} failed: {result.stderr.strip()[-500:]}")
        digest = subprocess.run(
            ["docker", "inspect", "--format", "{{index .RepoDigests 0}}", tag],
            check=False,
            capture_output=True,
            text=True,
        )
    return digest.stdout.strip() or tag
