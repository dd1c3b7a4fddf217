"""``bakehouse artifacts``: list, download and upload run artifacts, with progress bars (files and bytes)."""

from __future__ import annotations

import contextlib
import inspect
import posixpath
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bakehouse.cli import output
from bakehouse.cli.options import FullHelpGroup, json_option, make_client, tracking_uri_option

if TYPE_CHECKING:
    from bakehouse.client.client import Client

#: Files at least this big get their own progress bar.
PROGRESS_THRESHOLD_BYTES = 1024 * 1024

ProgressCallback = Callable[[str, int, "int | None"], None]


@click.group("artifacts", cls=FullHelpGroup)
def artifacts_group() -> None:
    """List, download and upload run artifacts."""


@artifacts_group.command("list")
@click.option("--run-id", "-r", required=True, help="The run that holds the artifacts.")
@click.option("--artifact-path", "-a", default=None, help="Directory inside the run's artifacts.")
@tracking_uri_option
@json_option
def list_artifacts(run_id: str, artifact_path: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """List the direct children of an artifact directory (at the top, also the run's logged models)."""
    from bakehouse.cli.runs import model_to_dict, print_models
    from bakehouse.client.run_models import models_of_runs

    client = make_client(tracking_uri)
    infos = client.list_artifacts(run_id, artifact_path)
    models = [] if artifact_path else models_of_runs(client, [client.get_run(run_id)])[run_id]
    if as_json:
        output.print_json(
            {
                "root_uri": None,
                "files": [output.to_jsonable(i) for i in infos],
                "models": [model_to_dict(m) for m in models],
            }
        )
        return
    output.print_table(
        ("Path", "Type", "Size"),
        (
            (i.path, "dir" if i.is_dir else "file", "" if i.is_dir else output.human_size(i.file_size))
            for i in infos
        ),
        title=f"Artifacts of run {run_id}" + (f" under {artifact_path}" if artifact_path else ""),
        empty="No artifacts." + (" Its logged models are stored apart from them:" if models else ""),
    )
    if models:
        print_models(models, run_id)


@artifacts_group.command("download")
@click.option("--run-id", "-r", default=None, help="Run whose artifacts to download.")
@click.option(
    "--artifact-path", "-a", default="", help="File or directory inside the run (default: everything)."
)
@click.option(
    "--artifact-uri", "-u", default=None, help="Or a full URI: runs:/<id>/path, s3://..., models:/..."
)
@click.option(
    "--dst-path",
    "-d",
    default=None,
    type=click.Path(file_okay=False),
    help="Local directory to download into (default: a new temporary directory).",
)
@tracking_uri_option
def download(
    run_id: str | None,
    artifact_path: str,
    artifact_uri: str | None,
    dst_path: str | None,
    tracking_uri: str | None,
) -> None:
    """Download artifacts and print the local path."""
    if (run_id is None) == (artifact_uri is None):
        raise click.UsageError("Give exactly one of --run-id or --artifact-uri.")
    if dst_path is not None:
        Path(dst_path).mkdir(parents=True, exist_ok=True)
    client = make_client(tracking_uri)
    with transfer_progress("Downloading") as progress:
        if artifact_uri is not None:
            root, _, leaf = artifact_uri.rstrip("/").rpartition("/")
            if not root or root.endswith(":"):
                root, leaf = artifact_uri, ""
            repo = repository_for_uri(root, client)
            local = call_with_progress(repo.download_artifacts, progress, leaf, dst_path=dst_path)
        else:
            repo = repository_for_run(client, run_id or "")
            local = call_with_progress(repo.download_artifacts, progress, artifact_path, dst_path=dst_path)
    click.echo(local)


@artifacts_group.command("log-artifact")
@click.option(
    "--local-file",
    "-l",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The file to upload.",
)
@click.option("--run-id", "-r", required=True, help="The run that holds the artifacts.")
@click.option("--artifact-path", "-a", default=None, help="Directory inside the run's artifacts.")
@tracking_uri_option
def log_artifact(local_file: str, run_id: str, artifact_path: str | None, tracking_uri: str | None) -> None:
    """Upload one local file to a run's artifacts."""
    client = make_client(tracking_uri)
    repo = repository_for_run(client, run_id)
    with transfer_progress("Uploading") as progress:
        call_with_progress(repo.log_artifact, progress, local_file, artifact_path)
    dest = posixpath.join(artifact_path or "", Path(local_file).name)
    output.success(f"Logged {local_file} to run {run_id} as {dest}")


@artifacts_group.command("log-artifacts")
@click.option(
    "--local-dir",
    "-l",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="The directory whose contents to upload.",
)
@click.option("--run-id", "-r", required=True, help="The run that holds the artifacts.")
@click.option("--artifact-path", "-a", default=None, help="Directory inside the run's artifacts.")
@tracking_uri_option
def log_artifacts(local_dir: str, run_id: str, artifact_path: str | None, tracking_uri: str | None) -> None:
    """Upload a local directory's contents to a run's artifacts."""
    client = make_client(tracking_uri)
    repo = repository_for_run(client, run_id)
    with transfer_progress("Uploading") as progress:
        call_with_progress(repo.log_artifacts, progress, local_dir, artifact_path)
    output.success(
        f"Logged {local_dir} to run {run_id}" + (f" under {artifact_path}" if artifact_path else "")
    )


# ------------------------------------------------------------------------------------------ plumbing


def repository_for_run(client: Client, run_id: str) -> Any:
    """The run's artifact repository (so transfers can report progress)."""
    run = client.get_run(run_id)  # raises NotFoundError for an unknown run: a clear message
    return repository_for_uri(run.info.artifact_uri, client)


def repository_for_uri(uri: str, client: Client) -> Any:
    """The artifact repository for ``uri``, resolved the way the client does (server proxy included)."""
    factory = getattr(client, "artifact_repository", None)
    if factory is not None:
        return factory(uri)
    from bakehouse.store.artifacts import get_artifact_repository

    return get_artifact_repository(uri, tracking_uri=client.tracking_uri)


def call_with_progress(
    method: Callable[..., Any], progress: ProgressCallback, *args: Any, **kwargs: Any
) -> Any:
    """Pass the progress callback when the repository method takes one (a plug-in's may not)."""
    parameters = inspect.signature(method).parameters.values()
    if any(p.name == "progress" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return method(*args, progress=progress, **kwargs)
    return method(*args, **kwargs)


@contextlib.contextmanager
def transfer_progress(verb: str) -> Iterator[ProgressCallback]:
    """A thread-safe progress callback for transfers, drawn on stderr: one bar per big file and an overall
    bar of bytes and files done (a directory of 10,000 small files shows its count going up)."""
    from bakehouse.store.artifacts.progress import RichTransferProgress

    with RichTransferProgress(
        verb,
        min_bar_bytes=PROGRESS_THRESHOLD_BYTES,
        console=output.console(stderr=True),
        transient=True,
    ) as progress:
        yield progress
