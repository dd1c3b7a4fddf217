"""``bakehouse models``: serve, predict, generate-dockerfile, build-docker, prepare-env.

The group is exported as ``models_group`` so other commands (register, list, ...) can be added to it with
``@models_group.command()`` from their own module. ``python -m bakehouse.cli.models`` runs it standalone.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import click

from bakehouse.cli.options import FullHelpGroup
from bakehouse.errors import BakehouseError

if TYPE_CHECKING:
    import socket

    from bakehouse.serving.app import ServingStarted
    from bakehouse.serving.sampling import SamplingConfig

P = ParamSpec("P")
R = TypeVar("R")

ENV_MANAGERS = ("local", "virtualenv", "uv")


def _friendly_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Print our errors as one clear line and exit 1 (tracebacks only with --debug on the main CLI)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except BakehouseError as e:
            raise click.ClickException(e.cli_message) from None

    return wrapper


@click.group("models", cls=FullHelpGroup, help="Serve, score and package MLflow-format models.")
def models_group() -> None:
    pass


_model_uri = click.option(
    "-m", "--model-uri", required=True, help="Model path or URI (runs:/, models:/, s3://, ...)."
)
_env_manager = click.option(
    "--env-manager",
    type=click.Choice(ENV_MANAGERS),
    default="local",
    show_default=True,
    help="local = this interpreter; virtualenv/uv = a cached venv built from the model's requirements.",
)
_allow_pickle = click.option(
    "--allow-pickle/--no-allow-pickle",
    default=None,
    help="Allow loading pickle/cloudpickle model files (they can run code). Off unless set here or by env.",
)


@models_group.command("serve")
@_model_uri
@click.option("-h", "--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "-p", "--port", default=5000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on."
)
@click.option("-w", "--workers", default=1, show_default=True, type=int, help="Worker processes.")
@click.option(
    "-t", "--timeout", default=None, type=float, help="Per-request timeout in seconds (default 60)."
)
@click.option(
    "--max-body-bytes", default=None, type=int, help="Largest accepted request body (default 100 MiB)."
)
@_env_manager
@_allow_pickle
@click.option(
    "--sample-inputs",
    is_flag=True,
    help="Record a share of the requests' inputs in the tracking store (for `bakehouse models drift`).",
)
@click.option(
    "--sample-rate",
    default=0.1,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True),
    help="With --sample-inputs: the share of requests kept.",
)
@click.option(
    "--sample-max-rows",
    default=10_000,
    show_default=True,
    type=click.IntRange(min=1),
    help="With --sample-inputs: rows kept in memory between two writes (more are dropped and counted).",
)
@click.option(
    "--sample-flush-interval",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0.1),
    help="With --sample-inputs: seconds between two writes to the tracking store.",
)
@_friendly_errors
def serve_command(
    model_uri: str,
    host: str,
    port: int,
    workers: int,
    timeout: float | None,
    max_body_bytes: int | None,
    env_manager: str,
    allow_pickle: bool | None,
    sample_inputs: bool = False,
    sample_rate: float = 0.1,
    sample_max_rows: int = 10_000,
    sample_flush_interval: float = 60.0,
) -> None:
    """Serve a model over HTTP (POST /invocations)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if env_manager != "local":
        from bakehouse.models.virtualenv import run_in_model_env

        args = [
            "serve",
            "-m",
            model_uri,
            "-h",
            host,
            "-p",
            str(port),
            "-w",
            str(workers),
            "--env-manager",
            "local",
        ]
        if timeout is not None:
            args += ["-t", str(timeout)]
        if max_body_bytes is not None:
            args += ["--max-body-bytes", str(max_body_bytes)]
        if allow_pickle:
            args.append("--allow-pickle")
        if sample_inputs:
            args += [
                "--sample-inputs",
                "--sample-rate",
                str(sample_rate),
                "--sample-max-rows",
                str(sample_max_rows),
            ]
            args += ["--sample-flush-interval", str(sample_flush_interval)]
        sys.exit(run_in_model_env(model_uri, env_manager, args, report=lambda m: click.echo(m, err=True)))
    from bakehouse.cli.ports import bind_port
    from bakehouse.serving.server import serve

    sock = bind_port(host, port)  # a busy port fails now, not after the model has loaded
    try:
        serve(
            model_uri,
            host=host,
            port=port,
            workers=workers,
            timeout=timeout,
            max_body_bytes=max_body_bytes,
            allow_pickle=allow_pickle,
            sock=sock,
            on_ready=announcer(sock, host),
            sampling=sampling_config(sample_inputs, sample_rate, sample_max_rows, sample_flush_interval),
        )
    finally:
        sock.close()


def announcer(sock: socket.socket, host: str) -> Callable[[ServingStarted], None]:
    """The line ``models serve`` prints when the model is loaded: what is served, which version, where."""
    from bakehouse.cli.ports import bound_url

    url = bound_url(sock, host, "")

    def announce(started: ServingStarted) -> None:
        version = f" version {started.version}" if started.version else ""
        following = " (following the alias)" if started.watching else ""
        workers = f", {started.workers} workers" if started.workers > 1 else ""
        click.echo(
            f"Serving {started.model_uri}{version}{following} on {url}{workers}: "
            f"POST {url}/invocations (Ctrl-C to stop)",
            err=True,
        )

    return announce


def sampling_config(
    enabled: bool, rate: float, max_rows: int, flush_interval: float
) -> SamplingConfig | None:
    """``--sample-*`` as a SamplingConfig, or None without ``--sample-inputs``."""
    if not enabled:
        return None
    from bakehouse.serving.sampling import SamplingConfig

    return SamplingConfig(rate=rate, max_rows=max_rows, flush_interval=flush_interval)


@models_group.command("predict")
@_model_uri
@click.option("-i", "--input-path", default=None, help="Input file (default: stdin).")
@click.option("-o", "--output-path", default=None, help="Output file (default: stdout).")
@click.option(
    "-t",
    "--content-type",
    type=click.Choice(["json", "csv"]),
    default="json",
    show_default=True,
    help="Format of the input: a serving JSON payload or a CSV table.",
)
@click.option("--batch-size", default=10_000, show_default=True, type=int, help="Rows per predict call.")
@click.option("--no-progress", is_flag=True, help="Never show the progress bar.")
@click.option(
    "--spark",
    "use_spark",
    is_flag=True,
    help="Score a Parquet file or directory on Spark (spark_udf); -o names the Parquet directory to write, "
    "with a `prediction` column added. Needs bakehouse[spark] and Java.",
)
@click.option(
    "--spark-master", default="local[*]", show_default=True, help="Spark master URL (with --spark)."
)
@click.option(
    "--result-type",
    default=None,
    help="Spark type of the predictions (with --spark), e.g. double, long, array<double>; default: from "
    "the model's output schema.",
)
@_env_manager
@_allow_pickle
@_friendly_errors
def predict_command(
    model_uri: str,
    input_path: str | None,
    output_path: str | None,
    content_type: str,
    batch_size: int,
    no_progress: bool,
    use_spark: bool,
    spark_master: str,
    result_type: str | None,
    env_manager: str,
    allow_pickle: bool | None,
) -> None:
    """Score a JSON (serving payload) or CSV file with a model; prints {"predictions": ...}.

    With --spark: score a Parquet dataset on Spark and write a Parquet directory."""
    if use_spark:
        if not input_path or not output_path:
            raise click.UsageError("--spark needs --input-path (Parquet) and --output-path (a new directory)")
        if env_manager != "local":
            raise click.UsageError("--spark scores in the current environment: use --env-manager local")
        from bakehouse.pyfunc import load_model_from_dir
        from bakehouse.pyfunc.spark import score_parquet

        rows = score_parquet(
            load_model_from_dir,
            model_uri,
            input_path,
            output_path,
            master=spark_master,
            result_type=result_type,
            allow_pickle=allow_pickle,
        )
        click.echo(f"Scored {rows} rows into {output_path}", err=True)
        return
    if env_manager != "local":
        from bakehouse.models.virtualenv import run_in_model_env

        args = [
            "predict",
            "-m",
            model_uri,
            "-t",
            content_type,
            "--batch-size",
            str(batch_size),
            "--env-manager",
            "local",
        ]
        if input_path:
            args += ["-i", str(Path(input_path).resolve())]
        if output_path:
            args += ["-o", str(Path(output_path).resolve())]
        if no_progress:
            args.append("--no-progress")
        if allow_pickle:
            args.append("--allow-pickle")
        sys.exit(run_in_model_env(model_uri, env_manager, args, report=lambda m: click.echo(m, err=True)))
    from bakehouse.models.batch import predict_file

    payload = predict_file(
        model_uri,
        input_path,
        output_path,
        content_type,
        batch_size=batch_size,
        progress=not no_progress,
        allow_pickle=allow_pickle,
    )
    if payload is not None:
        click.echo(payload.decode("utf-8"))


@models_group.command("generate-dockerfile")
@click.option(
    "-m", "--model-uri", default=None, help="Model to copy into the image (else mount it at /opt/ml/model)."
)
@click.option(
    "-d",
    "--output-directory",
    default="bakehouse-dockerfile",
    show_default=True,
    help="Directory to write the Dockerfile (and the model) into.",
)
@click.option("--base-image", default=None, help="Base image (default python:<this Python's X.Y>-slim).")
@click.option("--bakehouse-spec", default=None, help="pip spec used to install Bakehouse in the image.")
@_friendly_errors
def generate_dockerfile_command(
    model_uri: str | None, output_directory: str, base_image: str | None, bakehouse_spec: str | None
) -> None:
    """Write a slim Dockerfile (serving on 8080) and the model next to it."""
    from bakehouse.serving.docker import generate_dockerfile

    path = generate_dockerfile(
        output_directory, model_uri, base_image=base_image, bakehouse_spec=bakehouse_spec
    )
    click.echo(f"Wrote {path}")


@models_group.command("build-docker")
@click.option(
    "-m", "--model-uri", default=None, help="Model to copy into the image (else mount it at /opt/ml/model)."
)
@click.option("-n", "--name", default="bakehouse-model", show_default=True, help="Image name.")
@click.option("--base-image", default=None, help="Base image (default python:<this Python's X.Y>-slim).")
@click.option("--bakehouse-spec", default=None, help="pip spec used to install Bakehouse in the image.")
@_friendly_errors
def build_docker_command(
    model_uri: str | None, name: str, base_image: str | None, bakehouse_spec: str | None
) -> None:
    """Build a Docker image serving the model on port 8080 (needs a Docker engine)."""
    from bakehouse.serving.docker import build_docker

    build_docker(
        name,
        model_uri,
        base_image=base_image,
        bakehouse_spec=bakehouse_spec,
        report=lambda m: click.echo(m, err=True),
    )


@models_group.command("prepare-env")
@_model_uri
@click.option(
    "--env-manager",
    type=click.Choice(["virtualenv", "uv"]),
    default="uv",
    show_default=True,
    help="Tool that builds the environment.",
)
@_friendly_errors
def prepare_env_command(model_uri: str, env_manager: str) -> None:
    """Build (or reuse) the model's virtualenv, cached by a hash of its requirements; prints its path."""
    from bakehouse.models.virtualenv import prepare_env

    env = prepare_env(model_uri, env_manager, report=lambda m: click.echo(m, err=True))
    click.echo(str(env))


if __name__ == "__main__":
    models_group()
