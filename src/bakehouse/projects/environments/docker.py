"""``docker_env`` projects: render the ``docker run`` command and check that an engine is there.

The project directory is mounted at MLflow's path (``/mlflow/projects/code``) rather than baked into a new
image, so no build is needed; a local SQLite tracking database and local artifact root are mounted at the
same paths inside the container, so the child logs to the same place. Run-specific variables are passed as
``-e NAME`` (no value): docker copies them from the environment of the ``docker`` process itself, which is
why the command can be rendered before the run exists.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlparse

from bakehouse.projects.environments.base import BuildProgress, EnvironmentError_, PreparedEnvironment
from bakehouse.projects.spec import DockerEnv

CONTAINER_PROJECT_DIR = "/mlflow/projects/code"
#: passed through by name; the values are set on the docker process by the runner
RUN_VARIABLES = (
    "BAKEHOUSE_RUN_ID",
    "MLFLOW_RUN_ID",
    "BAKEHOUSE_TRACKING_URI",
    "MLFLOW_TRACKING_URI",
    "BAKEHOUSE_EXPERIMENT_ID",
    "MLFLOW_EXPERIMENT_ID",
)


def local_store_path(uri: str | None) -> Path | None:
    """The file behind a local ``sqlite:///`` / ``file://`` / plain-path URI, else None."""
    if not uri:
        return None
    parsed = urlparse(uri)
    if parsed.scheme == "sqlite" and parsed.path not in ("", "/", "/:memory:"):
        return Path(parsed.path[1:] if parsed.path.startswith("//") else parsed.path)
    if parsed.scheme in ("", "file") and not parsed.netloc:
        return Path(parsed.path)
    return None


class DockerEnvironment:
    name = "docker"

    def __init__(
        self,
        project_dir: Path,
        docker_env: DockerEnv,
        *,
        tracking_uri: str | None,
        artifact_root: str | None = None,
        host_env: dict[str, str] | None = None,
        docker_args: dict[str, str | bool] | None = None,
    ) -> None:
        self.project_dir = project_dir
        self.docker_env = docker_env
        self.tracking_uri = tracking_uri
        self.artifact_root = artifact_root
        self.host_env = host_env or {}
        self.docker_args = docker_args or {}

    def command(self) -> list[str]:
        """``docker run ... IMAGE`` — the shell command is appended by :meth:`PreparedEnvironment.argv`."""
        argv = ["docker", "run", "--rm"]
        for arg, arg_value in self.docker_args.items():
            flag = ("-" if len(arg) == 1 else "--") + arg
            argv += [flag] if arg_value is True else [flag, str(arg_value)]
        argv += ["-v", f"{self.project_dir}:{CONTAINER_PROJECT_DIR}", "-w", CONTAINER_PROJECT_DIR]
        mounted: set[str] = set()
        for uri in (self.tracking_uri, self.artifact_root):
            path = local_store_path(uri)
            if path is not None:
                directory = str(path.parent if uri and uri.startswith("sqlite") else path)
                if directory not in mounted:
                    mounted.add(directory)
                    argv += ["-v", f"{directory}:{directory}"]
        for volume in self.docker_env.volumes:
            argv += ["-v", volume]
        for name in RUN_VARIABLES:
            argv += ["-e", name]
        for name, value in self.docker_env.environment:
            if value is None:
                if name not in self.host_env:
                    raise EnvironmentError_(
                        f"The project's docker_env copies the environment variable {name}, but it is not set here"
                    )
                argv += ["-e", name]
            else:
                argv += ["-e", f"{name}={value}"]
        argv.append(self.docker_env.image)
        return argv

    def describe(self) -> str:
        return "docker: " + " ".join(self.command()) + " bash -c <command>"

    def prepare(self, progress: BuildProgress) -> PreparedEnvironment:
        wrapper = self.command()
        check_docker_engine()
        return PreparedEnvironment(manager=self.name, wrapper=tuple(wrapper), cached=True)


def check_docker_engine() -> None:
    docker = shutil.which("docker")
    if docker is None:
        raise EnvironmentError_("This project uses docker_env, but the docker command is not installed")
    try:
        result = subprocess.run(
            [docker, "info", "--format", "{{.ServerVersion}}"],
            check=False,
            capture_output=True,
            text=True,
            timeout=20,
        )
    except subprocess.TimeoutExpired:
        raise EnvironmentError_(
            "This project uses docker_env, but the Docker engine did not answer"
        ) from None
    if result.returncode != 0:
        reason = (result.stderr or result.stdout).strip().splitlines()
        raise EnvironmentError_(
            "This project uses docker_env, but no Docker engine is running"
            + (f": {reason[-1]}" if reason else "")
            + ". Start Docker, or use --dry-run to see the docker command."
        )
