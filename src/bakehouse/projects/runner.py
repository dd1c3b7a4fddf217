"""``bakehouse run``: fetch a project, validate everything, build its environment, then run it.

The order is the point. Every check that can fail cheaply (URI, MLproject, entry point, parameter types,
sweep values, backend config, environment tools) runs before a run is created, and the environment is
built before the run starts too, so a mistake never leaves a RUNNING run behind and the run's duration is
the training, not ``pip install``. Then the run is created with MLflow's system tags, its parameters
logged, and its id handed to the child (``BAKEHOUSE_RUN_ID`` / ``MLFLOW_RUN_ID``) so the child's
``start_run()`` attaches to it. Exit 0 → FINISHED, anything else → FAILED, Ctrl-C → KILLED after the
child's whole process group is stopped.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bakehouse import plugins, settings
from bakehouse.errors import InvalidParameterError
from bakehouse.projects import sweep as sweeps
from bakehouse.projects.backends import local as local_backend
from bakehouse.projects.environments import (
    BuildProgress,
    NullProgress,
    PreparedEnvironment,
    resolve_environment,
)
from bakehouse.projects.fetch import FetchedProject, fetch_project
from bakehouse.projects.parameters import ParameterValidationError, ResolvedParameters, resolve_parameters
from bakehouse.projects.spec import ENV_DOCKER, EntryPoint, ProjectSpec, load_project

logger = logging.getLogger(__name__)

TAG_SOURCE_NAME = "mlflow.source.name"
TAG_SOURCE_TYPE = "mlflow.source.type"
TAG_ENTRY_POINT = "mlflow.project.entryPoint"
TAG_GIT_COMMIT = "mlflow.source.git.commit"
TAG_GIT_REPO_URL = "mlflow.source.git.repoURL"
TAG_GIT_BRANCH = "mlflow.source.git.branch"
TAG_PROJECT_ENV = "mlflow.project.env"
TAG_PROJECT_BACKEND = "mlflow.project.backend"
TAG_PARENT_RUN_ID = "mlflow.parentRunId"
TAG_USER = "mlflow.user"
TAG_SWEEP = "bakehouse.sweep"
TAG_K8S_JOB = "bakehouse.kubernetes.job"
BUILTIN_BACKENDS = ("local", "kubernetes")

#: variables the child must not inherit from us: they would point it at another run or experiment
_RUN_VARIABLES = tuple(
    prefix + name
    for prefix in ("BAKEHOUSE_", "MLFLOW_")
    for name in ("RUN_ID", "EXPERIMENT_ID", "EXPERIMENT_NAME", "TRACKING_URI")
)


@dataclass
class ProjectRunRequest:
    """Everything ``bakehouse run`` was asked to do."""

    uri: str
    entry_point: str = "main"
    version: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    experiment_name: str | None = None
    experiment_id: str | None = None
    run_name: str | None = None
    env_manager: str | None = None
    backend: str = "local"
    backend_config: dict[str, Any] = field(default_factory=dict)
    sweeps: list[str] = field(default_factory=list)
    parallel: int = 1
    build_env_only: bool = False
    dry_run: bool = False
    storage_dir: Path | None = None
    tracking_uri: str | None = None
    #: refuse a Python the environment asks for that is not installed (default: the nearest one, said once)
    strict_python: bool = False

    #: added by triggers: tags for the run, dataset inputs to record on it, variables for the child
    run_tags: dict[str, str] = field(default_factory=dict)
    run_inputs: list[Any] = field(default_factory=list)
    run_env: dict[str, str] = field(default_factory=dict)


#: ``bridge(tracking_uri, artifact_root)``: a context manager serving a local store over HTTP for the run's
#: processes, yielding an object with ``url`` and ``token`` (the CLI passes
#: ``bakehouse.server.bridge.serve_local_store``; this layer cannot import the server)
LocalStoreBridge = Callable[[str, str], AbstractContextManager[Any]]


@dataclass
class ProjectRunResult:
    """What happened: the run (or the sweep's parent run) and, for sweeps, its children."""

    run_id: str | None = None
    experiment_id: str | None = None
    status: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    command: str | None = None
    children: list[ProjectRunResult] = field(default_factory=list)
    environment: PreparedEnvironment | None = None
    plan: list[str] = field(default_factory=list)
    job: dict[str, Any] | None = None

    @property
    def succeeded(self) -> bool:
        return self.status in (None, "FINISHED", "RUNNING") and all(c.succeeded for c in self.children)


@dataclass
class _Prepared:
    """The validated plan, before anything has run."""

    fetched: FetchedProject
    project: ProjectSpec
    entry_point: EntryPoint
    #: one per run: the base parameters, or one per sweep combination
    runs: list[tuple[dict[str, str], ResolvedParameters]]
    sweep_axes: list[sweeps.SweepAxis]


def run_project(
    request: ProjectRunRequest,
    progress: BuildProgress | None = None,
    client: Any = None,
    bridge: LocalStoreBridge | None = None,
) -> ProjectRunResult:
    """Run a project as described by ``request``; raises ``BakehouseError`` subclasses for user mistakes.

    ``bridge``: with a local tracking store (SQLite, PostgreSQL, MySQL), serve it for the run's processes so
    that the official ``mlflow`` client there logs to it too (``MLFLOW_TRACKING_URI``); Bakehouse's client
    in the child uses the store directly either way.
    """
    progress = progress or NullProgress()
    if request.parallel < 1:
        raise InvalidParameterError("--parallel must be at least 1")
    if request.experiment_id and request.experiment_name:
        raise InvalidParameterError("Give --experiment-id or --experiment-name, not both")
    if request.backend not in BUILTIN_BACKENDS:
        registered = request.backend in plugins.project_backends
        raise InvalidParameterError(
            f"{'Backend' if registered else 'Unknown backend'} {request.backend!r} "
            f"{'cannot run projects yet' if registered else 'is not available'} (use one of: {', '.join(BUILTIN_BACKENDS)})"
        )
    own_storage = request.storage_dir is None
    storage_dir = request.storage_dir or Path(tempfile.mkdtemp(prefix="bakehouse-run-"))
    fetched = fetch_project(request.uri, request.version)
    try:
        plan = _prepare(request, fetched, storage_dir)
        if request.backend == "kubernetes":
            return _run_kubernetes(request, plan, client)
        return _run_local(request, plan, progress, client, bridge)
    finally:
        fetched.cleanup()
        if own_storage:
            shutil.rmtree(storage_dir, ignore_errors=True)


# -- validation --------------------------------------------------------------------------------------------
def _prepare(request: ProjectRunRequest, fetched: FetchedProject, storage_dir: Path) -> _Prepared:
    project = load_project(fetched.directory)
    entry_point = project.get_entry_point(request.entry_point)
    axes = sweeps.parse_sweeps(request.sweeps)
    combinations = sweeps.grid(axes) or [{}]
    runs = []
    for combination in combinations:
        params = {**request.parameters, **combination}
        try:
            resolved = resolve_parameters(
                entry_point,
                params,
                project_dir=project.directory,
                storage_dir=storage_dir,
                download=not request.dry_run,
            )
        except ParameterValidationError as exc:
            if combination:
                where = f"Sweep combination {sweeps.describe(combination)}: "
                raise ParameterValidationError([where + problem for problem in exc.problems]) from None
            raise
        runs.append((combination, resolved))
    return _Prepared(fetched, project, entry_point, runs, axes)


# -- tracking ----------------------------------------------------------------------------------------------
def _client(request: ProjectRunRequest, client: Any) -> Any:
    if client is not None:
        return client
    from bakehouse.client.client import Client

    return Client(tracking_uri=request.tracking_uri)


def absolute_tracking_uri(uri: str) -> str:
    """The child runs in the project directory, so a relative SQLite path must be made absolute first."""
    parsed = urlparse(uri)
    if parsed.scheme == "sqlite" and parsed.path.startswith("/") and not parsed.path.startswith("//"):
        path = parsed.path[1:]
        if path and path != ":memory:" and not Path(path).is_absolute():
            return "sqlite:///" + str(Path(path).resolve())
    return uri


def _planned_tracking_uri(request: ProjectRunRequest) -> str:
    """The tracking URI the run will use, known without opening the store (for docker mounts, dry runs)."""
    from bakehouse.client.stores import resolve_tracking_uri

    return absolute_tracking_uri(resolve_tracking_uri(request.tracking_uri))


def _experiment_id(request: ProjectRunRequest, client: Any) -> str:
    if request.experiment_id:
        return str(client.get_experiment(request.experiment_id).experiment_id)
    name = request.experiment_name or settings.experiment_name_from_env()
    if name:
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            return str(experiment.experiment_id)
        logger.info("Experiment %r does not exist; creating it", name)
        return str(client.create_experiment(name))
    return settings.experiment_id_from_env() or "0"


def _source_tags(plan: _Prepared, request: ProjectRunRequest, env_name: str) -> dict[str, str]:
    fetched = plan.fetched
    tags = {
        TAG_USER: settings.current_user(),
        TAG_SOURCE_NAME: fetched.source_name,
        TAG_SOURCE_TYPE: "PROJECT",
        TAG_ENTRY_POINT: request.entry_point,
        TAG_PROJECT_ENV: env_name,
        TAG_PROJECT_BACKEND: request.backend,
    }
    if fetched.git_commit:
        tags[TAG_GIT_COMMIT] = fetched.git_commit
    if fetched.git_repo_url:
        tags[TAG_GIT_REPO_URL] = fetched.git_repo_url
    if fetched.git_branch:
        tags[TAG_GIT_BRANCH] = fetched.git_branch
    return tags


def _create_run(
    client: Any,
    experiment_id: str,
    name: str | None,
    tags: dict[str, str],
    params: dict[str, str],
    inputs: list[Any] | None = None,
) -> str:
    run = client.create_run(experiment_id, run_name=name, tags=tags)
    run_id = str(run.info.run_id)
    try:
        for key, value in params.items():
            client.log_param(run_id, key, value)
        if inputs:
            client.log_inputs(run_id, inputs)
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    return run_id


def child_environment(
    prepared: PreparedEnvironment,
    tracking_uri: str,
    run_id: str,
    experiment_id: str,
    mlflow_server: Any = None,
) -> dict[str, str]:
    """The child's variables: the run, the experiment and the store; ``mlflow_server`` (``url``, ``token``)
    is where the official mlflow client goes instead of a local store it cannot open."""
    env = {k: v for k, v in os.environ.items() if k not in _RUN_VARIABLES}
    env = prepared.child_env(env)
    for prefix in ("BAKEHOUSE_", "MLFLOW_"):
        env[prefix + "RUN_ID"] = run_id
        env[prefix + "TRACKING_URI"] = tracking_uri
        env[prefix + "EXPERIMENT_ID"] = experiment_id
    if mlflow_server is not None:
        env["MLFLOW_TRACKING_URI"] = mlflow_server.url
        env["MLFLOW_TRACKING_TOKEN"] = mlflow_server.token
        env["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"  # its "View run at" URL ends with the run
        for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_REGISTRY_URI"):
            env.pop(name, None)
    return env


def _serves_local_store(bridge: LocalStoreBridge | None, tracking_uri: str, project: ProjectSpec) -> bool:
    """A store the official client cannot open itself, and a child that can reach this machine's loopback."""
    scheme = urlparse(tracking_uri).scheme.split("+", 1)[0]
    return bridge is not None and scheme not in ("http", "https") and project.env_type != ENV_DOCKER


# -- local backend -----------------------------------------------------------------------------------------
def _run_local(
    request: ProjectRunRequest,
    plan: _Prepared,
    progress: BuildProgress,
    client: Any,
    bridge: LocalStoreBridge | None = None,
) -> ProjectRunResult:
    artifact_root = settings.artifact_root_from_env() or settings.default_artifact_root()
    environment = resolve_environment(
        plan.project,
        request.env_manager,
        tracking_uri=_planned_tracking_uri(request),
        artifact_root=artifact_root,
        host_env=dict(os.environ),
        strict_python=request.strict_python,
    )
    if request.dry_run:
        lines = [f"environment: {environment.describe()}", f"directory: {plan.project.directory}"]
        for combination, resolved in plan.runs:
            prefix = f"[{sweeps.describe(combination)}] " if combination else ""
            lines.append(f"{prefix}command: {resolved.command}")
        return ProjectRunResult(plan=lines, command=plan.runs[0][1].command)
    prepared = environment.prepare(progress)
    if request.build_env_only:
        return ProjectRunResult(environment=prepared, plan=[f"environment: {environment.describe()}"])
    client = _client(request, client)
    tracking_uri = absolute_tracking_uri(str(client.tracking_uri))
    experiment_id = _experiment_id(request, client)
    tags = _source_tags(plan, request, prepared.manager)
    served = (
        bridge(tracking_uri, artifact_root)
        if bridge is not None and _serves_local_store(bridge, tracking_uri, plan.project)
        else nullcontext(None)
    )
    with served as mlflow_server:
        target = _ChildTracking(tracking_uri, mlflow_server)
        if plan.sweep_axes:
            return _run_sweep(request, plan, prepared, client, target, experiment_id, tags)
        _, resolved = plan.runs[0]
        run_id = _create_run(
            client,
            experiment_id,
            request.run_name,
            {**tags, **request.run_tags},
            resolved.logged,
            request.run_inputs,
        )
        if request.run_env:
            prepared = dataclasses.replace(prepared, env_vars={**prepared.env_vars, **request.run_env})
        status = _execute(client, run_id, experiment_id, target, prepared, plan, resolved, label=None)
    return ProjectRunResult(
        run_id=run_id,
        experiment_id=experiment_id,
        status=status,
        params=resolved.logged,
        command=resolved.command,
        environment=prepared,
    )


@dataclass(frozen=True)
class _ChildTracking:
    """The store the run's processes log to, and the server standing in for it for the mlflow client."""

    tracking_uri: str
    mlflow_server: Any = None


def _execute(
    client: Any,
    run_id: str,
    experiment_id: str,
    tracking: _ChildTracking,
    prepared: PreparedEnvironment,
    plan: _Prepared,
    resolved: ResolvedParameters,
    label: str | None,
    supervisor: _Supervisor | None = None,
) -> str:
    """Run one command to completion and record its status; Ctrl-C kills the child group and re-raises."""
    env = child_environment(prepared, tracking.tracking_uri, run_id, experiment_id, tracking.mlflow_server)
    argv = prepared.argv(resolved.command)
    logger.info("=== Running command '%s' in run with ID '%s' ===", resolved.command, run_id)
    try:
        child = local_backend.start_process(argv, plan.project.directory, env, label)
    except OSError as exc:
        client.set_terminated(run_id, "FAILED")
        raise InvalidParameterError(f"Could not start {argv[0]!r}: {exc}") from None
    try:
        if supervisor is not None and not supervisor.adopt(child):
            child.terminate()
            client.set_terminated(run_id, "KILLED")
            return "KILLED"
        code = child.wait()
    except BaseException:
        child.terminate()
        client.set_terminated(run_id, "KILLED")
        logger.info("=== Run (ID '%s') killed ===", run_id)
        raise
    finally:
        if supervisor is not None:
            supervisor.release(child)
    if supervisor is not None and supervisor.interrupted.is_set():
        status = "KILLED"
    else:
        status = "FINISHED" if code == 0 else "FAILED"
    client.set_terminated(run_id, status)
    if status == "FINISHED":
        logger.info("=== Run (ID '%s') succeeded ===", run_id)
    else:
        logger.info("=== Run (ID '%s') %s (exit code %s) ===", run_id, status.lower(), code)
    return status


class _Supervisor:
    """Tracks a sweep's running children so that Ctrl-C can stop them all."""

    def __init__(self) -> None:
        self.interrupted = threading.Event()
        self._lock = threading.Lock()
        self._children: set[local_backend.ChildProcess] = set()

    def adopt(self, child: local_backend.ChildProcess) -> bool:
        with self._lock:
            if self.interrupted.is_set():
                return False
            self._children.add(child)
            return True

    def release(self, child: local_backend.ChildProcess) -> None:
        with self._lock:
            self._children.discard(child)

    def stop_all(self) -> None:
        with self._lock:
            self.interrupted.set()
            children = list(self._children)
        for child in children:
            child.terminate()


def _run_sweep(
    request: ProjectRunRequest,
    plan: _Prepared,
    prepared: PreparedEnvironment,
    client: Any,
    tracking: _ChildTracking,
    experiment_id: str,
    tags: dict[str, str],
) -> ProjectRunResult:
    swept = {axis.name for axis in plan.sweep_axes}
    shared = {k: v for k, v in plan.runs[0][1].logged.items() if k not in swept}
    parent_tags = {**tags, TAG_SWEEP: json.dumps({a.name: list(a.values) for a in plan.sweep_axes})}
    parent_name = request.run_name or f"sweep-{request.entry_point}"
    parent_id = _create_run(client, experiment_id, parent_name, parent_tags, shared)
    supervisor = _Supervisor()
    width = len(str(len(plan.runs)))
    results: list[ProjectRunResult | None] = [None] * len(plan.runs)

    def run_one(index: int) -> None:
        combination, resolved = plan.runs[index]
        if supervisor.interrupted.is_set():
            return
        child_tags = {**tags, TAG_PARENT_RUN_ID: parent_id}
        name = f"{parent_name}-{index + 1:0{width}d}"
        run_id = _create_run(client, experiment_id, name, child_tags, resolved.logged)
        result = ProjectRunResult(
            run_id=run_id,
            experiment_id=experiment_id,
            status="RUNNING",
            params=resolved.logged,
            command=resolved.command,
        )
        results[index] = result
        label = sweeps.describe(combination) if request.parallel > 1 else None
        try:
            result.status = _execute(
                client, run_id, experiment_id, tracking, prepared, plan, resolved, label, supervisor
            )
        except Exception:
            client.set_terminated(run_id, "FAILED")
            result.status = "FAILED"
            raise

    executor = ThreadPoolExecutor(max_workers=request.parallel, thread_name_prefix="sweep")
    futures: list[Future[None]] = [executor.submit(run_one, i) for i in range(len(plan.runs))]
    try:
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.25, return_when=FIRST_EXCEPTION)
            for future in done:
                error = future.exception()
                if error is not None:
                    logger.error("A sweep run failed: %s", error)
    except BaseException:
        supervisor.stop_all()
        executor.shutdown(wait=True, cancel_futures=True)
        client.set_terminated(parent_id, "KILLED")
        raise
    executor.shutdown(wait=True)
    children = [r for r in results if r is not None]
    status = (
        "FINISHED"
        if len(children) == len(plan.runs) and all(c.status == "FINISHED" for c in children)
        else "FAILED"
    )
    client.set_terminated(parent_id, status)
    return ProjectRunResult(
        run_id=parent_id,
        experiment_id=experiment_id,
        status=status,
        params=shared,
        children=children,
        environment=prepared,
    )


# -- kubernetes backend ------------------------------------------------------------------------------------
def _run_kubernetes(request: ProjectRunRequest, plan: _Prepared, client: Any) -> ProjectRunResult:
    from bakehouse.projects.backends import kubernetes as k8s

    if plan.sweep_axes:
        raise InvalidParameterError("Sweeps run on the local backend only")
    config = k8s.KubernetesConfig.from_dict(request.backend_config)
    project = plan.project
    if project.env_type != ENV_DOCKER and not config.image:
        raise InvalidParameterError(
            "The kubernetes backend needs a project with docker_env, or an 'image' in the backend config"
        )
    if request.env_manager not in (None, "local"):
        raise InvalidParameterError(
            "The kubernetes backend runs the project's image; --env-manager does not apply"
        )
    base_image = project.docker_env.image if project.docker_env else ""
    _, resolved = plan.runs[0]
    command = k8s.container_command(resolved.command)
    if request.dry_run:
        image = k8s.project_image(config, project.directory, base_image, dry_run=True)
        tracking_uri = _planned_tracking_uri(request)
        job = k8s.render_job(
            config.job_template,
            project_name=project.display_name,
            image=image,
            command=command,
            env_vars=k8s.run_env_vars(tracking_uri, "<run-id>", "<experiment-id>"),
        )
        k8s.to_v1_job(job)  # the same model check as a real submission
        return ProjectRunResult(job=job, command=resolved.command, plan=[json.dumps(job, indent=2)])
    image = k8s.project_image(config, project.directory, base_image, dry_run=False)
    client = _client(request, client)
    tracking_uri = absolute_tracking_uri(str(client.tracking_uri))
    experiment_id = _experiment_id(request, client)
    tags = _source_tags(plan, request, "docker")
    run_id = _create_run(client, experiment_id, request.run_name, tags, resolved.logged)
    job = k8s.render_job(
        config.job_template,
        project_name=project.display_name,
        image=image,
        command=command,
        env_vars=k8s.run_env_vars(tracking_uri, run_id, experiment_id),
    )
    try:
        submitted = k8s.submit_job(job, config)
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_tag(run_id, TAG_K8S_JOB, f"{submitted.namespace}/{submitted.name}")
    result = ProjectRunResult(
        run_id=run_id,
        experiment_id=experiment_id,
        status="RUNNING",
        params=resolved.logged,
        command=resolved.command,
        job=job,
    )
    if not config.wait:
        return result
    try:
        result.status = submitted.wait(config.poll_interval)
    except KeyboardInterrupt:
        submitted.cancel()
        client.set_terminated(run_id, "KILLED")
        raise
    client.set_terminated(run_id, result.status)
    return result


def schedule_on_kubernetes(
    request: ProjectRunRequest,
    schedule: str,
    trigger_args: list[str],
    client: Any = None,
    filled_by_trigger: dict[str, str] | None = None,
) -> ProjectRunResult:
    """``--every`` / ``--on-new-data`` with ``--backend kubernetes``: a CronJob instead of a local loop.

    Each firing runs ``bakehouse run . -e <entry point> -P ... --env-manager local`` (plus
    ``--on-new-data <location> --once`` when watching data) in the project image, so the image needs
    Bakehouse installed; the run is created inside the pod, in the experiment resolved here.
    ``filled_by_trigger`` stands in, for validation only, for parameters each firing fills (the data).
    """
    from bakehouse.projects.backends import kubernetes as k8s

    fetched = fetch_project(request.uri, request.version)
    try:
        with tempfile.TemporaryDirectory(prefix="bakehouse-cron-") as storage:
            # validation only: remote ``path`` parameters are downloaded by each run, not now
            checked = {**request.parameters, **(filled_by_trigger or {})}
            plan = _prepare(
                dataclasses.replace(request, parameters=checked, dry_run=True), fetched, Path(storage)
            )
        config = k8s.KubernetesConfig.from_dict(request.backend_config)
        project = plan.project
        if project.env_type != ENV_DOCKER and not config.image:
            raise InvalidParameterError(
                "The kubernetes backend needs a project with docker_env, or an 'image' in the backend config"
            )
        base_image = project.docker_env.image if project.docker_env else ""
        image = k8s.project_image(config, project.directory, base_image, dry_run=request.dry_run)
        tracking_uri = _planned_tracking_uri(request)
        experiment_id = (
            "<experiment-id>" if request.dry_run else _experiment_id(request, _client(request, client))
        )
        argv = ["bakehouse", "run", ".", "-e", request.entry_point, "--env-manager", "local"]
        for key, value in request.parameters.items():
            argv += ["-P", f"{key}={value}"]
        argv += trigger_args
        env_vars = {
            k: v
            for k, v in k8s.run_env_vars(tracking_uri, "", experiment_id).items()
            if not k.endswith("RUN_ID")
        }
        job = k8s.render_job(
            config.job_template,
            project_name=project.display_name,
            image=image,
            command=argv,
            env_vars=env_vars,
        )
        cron = k8s.render_cron_job(job, project_name=project.display_name, schedule=schedule)
        k8s.to_v1_job(cron, kind="V1CronJob")  # the same model check as a real submission
        if request.dry_run:
            return ProjectRunResult(job=cron, plan=[json.dumps(cron, indent=2)])
        where = k8s.submit_cron_job(cron, config)
        return ProjectRunResult(job=cron, plan=[f"CronJob {where} runs on schedule {schedule!r}"])
    finally:
        fetched.cleanup()
