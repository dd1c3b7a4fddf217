"""Copying artifacts between stores: only the files the destination lacks, with byte progress.

A file is copied when the destination has no file at its path, or one of another size; what only the
destination has is left alone. Each file appears at the destination whole or not at all (every repository
writes through a temporary name or a single object upload), so an interrupted copy leaves no half file and
the next run copies what is missing.
"""

from __future__ import annotations

import glob
import hashlib
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bakehouse.store.artifacts import ArtifactRepository
from bakehouse.store.artifacts.base import TEMP_PREFIX
from bakehouse.store.artifacts.local import LocalArtifactRepository, local_path_from_uri

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class ArtifactTree:
    """The artifacts of one run or logged model, on both sides."""

    owner: str  # "run <id>" / "model <id>", for messages
    source: ArtifactRepository
    destination: ArtifactRepository
    #: path -> size of every file at the source
    files: dict[str, int]
    #: path -> size of every file already at the destination
    present: dict[str, int]

    @property
    def missing(self) -> list[str]:
        return sorted(p for p, size in self.files.items() if self.present.get(p) != size)


#: URIs that name a place relative to a server: equal strings at two servers are two places
_SERVER_RELATIVE = ("mlflow-artifacts:", "runs:", "models:", "http:", "https:")


def same_place(source_uri: str, target_uri: str) -> bool:
    """Whether both ends name the very same files (nothing to copy): an absolute location, written alike."""
    return source_uri == target_uri and not source_uri.lower().startswith(_SERVER_RELATIVE)


def list_files(repository: ArtifactRepository) -> dict[str, int]:
    """path -> size of every file (an absent root is an empty tree)."""
    return {info.path: int(info.file_size or 0) for info in repository.walk("") if not info.is_dir}


def scan(owner: str, source: ArtifactRepository, destination: ArtifactRepository) -> ArtifactTree:
    files = list_files(source)
    present = list_files(destination) if files else {}
    return ArtifactTree(owner, source, destination, files, present)


def copy_missing(
    trees: list[ArtifactTree], on_bytes: Callable[[int], None], workers: int = 4
) -> tuple[int, int]:
    """Copy every missing file of every tree; returns (files, bytes) copied."""
    jobs = [(tree, path) for tree in trees for path in tree.missing]
    if not jobs:
        return 0, 0

    def copy(job: tuple[ArtifactTree, str]) -> int:
        tree, path = job
        size = tree.files[path]
        _remove_leftovers(tree.destination, path)
        if isinstance(tree.source, LocalArtifactRepository):
            local = Path(local_path_from_uri(tree.source.artifact_uri)) / path

            def progress(_path: str, advance: int, _total: int | None) -> None:
                if advance:
                    on_bytes(advance)

            tree.destination.upload_file(local, path, progress=progress)
        else:
            with tree.source.open_read(path) as stream:
                tree.destination.write_stream(path, _counted(stream, on_bytes))
        if size == 0:
            on_bytes(0)
        return size

    if workers <= 1 or len(jobs) == 1:
        total = sum(copy(job) for job in jobs)
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="migrate-artifacts") as pool:
            total = sum(pool.map(copy, jobs))
    return len(jobs), total


def _remove_leftovers(repository: ArtifactRepository, path: str) -> None:
    """A copy killed half-way (SIGKILL skips every cleanup) leaves its hidden temporary file next to the
    target: the file is being copied again now, so the leftover goes."""
    if not isinstance(repository, LocalArtifactRepository):
        return  # object stores show nothing of an unfinished upload
    target = Path(local_path_from_uri(repository.artifact_uri)) / path
    if target.parent.is_dir():
        for leftover in target.parent.glob(f"{TEMP_PREFIX}*-{glob.escape(target.name)}"):
            logger.info("removing %s, left by an interrupted copy", leftover)
            leftover.unlink(missing_ok=True)


def _counted(chunks: Iterator[bytes], on_bytes: Callable[[int], None]) -> Iterator[bytes]:
    for chunk in chunks:
        on_bytes(len(chunk))
        yield chunk


def content_digest(repository: ArtifactRepository, files: dict[str, int]) -> str:
    """SHA-256 over every file's path and bytes (deep verification)."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode() + b"\0")
        with repository.open_read(path) as stream:
            for chunk in stream:
                digest.update(chunk)
    return digest.hexdigest()
