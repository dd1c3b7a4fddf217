"""The artifact repository contract: six storage primitives, everything else written once on top.

A backend implements ``_upload_file``, ``_download_file``, ``_list_dir``, ``_delete``, ``_open_read`` and
``_write_stream``. The public primitives validate every path through :mod:`.paths` before calling them, so
no backend can forget it, and the MLflow-shaped operations (``log_artifact(s)``, ``list_artifacts``,
``download_artifacts``, ``delete_artifacts``) behave identically on every backend.

The streaming pair (:meth:`ArtifactRepository.open_read`, :meth:`ArtifactRepository.write_stream`) exists
for the server's artifact proxy: a 1 GB upload or download passes through in bounded memory.
"""

from __future__ import annotations

import logging
import os
import tempfile
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from functools import partial
from pathlib import Path
from typing import IO, Self

from bakehouse.entities import FileInfo
from bakehouse.errors import InvalidParameterError
from bakehouse.store.artifacts.paths import join_artifact_path, resolve_parent_under, safe_relative_path

logger = logging.getLogger(__name__)

#: ``progress(path, bytes_advanced, total_bytes)``: called with 0 when a file starts (so a bar can be
#: created with its total), then with each increment. A directory transfer also calls it with 0 for every
#: file before the first starts, so a display knows the whole task (10,000 small files, say) from the
#: outset. Must be thread-safe: parallel transfers share it.
ProgressCallback = Callable[[str, int, "int | None"], None]

#: Read/write granularity for streams: large enough for throughput, small enough to keep memory flat.
CHUNK_SIZE = 1024 * 1024
#: Deepest directory nesting a recursive walk follows (a guard against symlink loops).
MAX_WALK_DEPTH = 256
#: Prefix of in-flight temporary files; listings hide them so a crashed transfer never shows a half file.
TEMP_PREFIX = ".bakehouse-tmp-"


class ChunkStream:
    """An artifact opened for reading: iterate it for ``bytes`` chunks; ``size`` when the store knows it.

    It is opened eagerly, so a missing artifact raises :class:`~bakehouse.errors.NotFoundError` from
    ``open_read`` itself (before a server starts its response), and it closes itself when exhausted.
    """

    def __init__(self, chunks: Iterator[bytes], close: Callable[[], None], size: int | None = None) -> None:
        self._chunks = chunks
        self._close = close
        self._closed = False
        self.size = size

    @classmethod
    def from_file(
        cls, fileobj: IO[bytes], size: int | None = None, chunk_size: int = CHUNK_SIZE
    ) -> ChunkStream:
        def chunks() -> Iterator[bytes]:
            while True:
                chunk = fileobj.read(chunk_size)
                if not chunk:
                    return
                yield chunk

        return cls(chunks(), fileobj.close, size)

    def __iter__(self) -> ChunkStream:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._chunks)
        except BaseException:
            self.close()
            raise

    def read_all(self) -> bytes:
        """Everything, for small artifacts (tests, ``load_text``)."""
        try:
            return b"".join(self)
        finally:
            self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class ArtifactRepository(ABC):
    """Artifacts under one root URI; every path argument is relative to that root (``"dir/file.txt"``)."""

    #: parallel transfers used by ``log_artifacts`` and directory downloads
    max_workers: int = 8
    #: whether the constructor takes ``tracking_uri=`` (used by :func:`get_artifact_repository`)
    accepts_tracking_uri: bool = False

    def __init__(self, artifact_uri: str) -> None:
        self.artifact_uri = artifact_uri

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.artifact_uri!r})"

    def close(self) -> None:
        """Release connections (HTTP pools); the repository stays usable and reconnects on demand."""

    def check_reachable(self) -> None:
        """Raise unless the storage behind the root answers (a server's readiness probe); one cheap call."""
        self._list_dir("")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ primitives a backend implements

    @abstractmethod
    def _upload_file(self, local_path: Path, dest: str, progress: ProgressCallback | None) -> None:
        """Store the local file at ``dest`` (validated, non-empty), replacing what is there."""

    @abstractmethod
    def _download_file(self, src: str, local_path: Path, progress: ProgressCallback | None) -> None:
        """Write the artifact ``src`` to ``local_path``; NotFoundError if it is not a file."""

    @abstractmethod
    def _list_dir(self, path: str) -> list[FileInfo]:
        """Direct children of ``path`` with root-relative paths; ``[]`` for a file or a missing path."""

    @abstractmethod
    def _delete(self, path: str) -> None:
        """Remove the file or the whole tree at ``path`` (``""`` = everything); missing is not an error."""

    @abstractmethod
    def _open_read(self, path: str) -> ChunkStream:
        """Open the artifact for streaming; NotFoundError if it is not a file."""

    @abstractmethod
    def _write_stream(self, path: str, chunks: Iterable[bytes]) -> int:
        """Store the chunks at ``path`` without holding them all in memory; returns the byte count."""

    def _is_dir(self, path: str) -> bool:
        """Whether ``path`` is a directory; object stores only know non-empty ones."""
        return path == "" or bool(self._list_dir(path))

    def _walk(self, path: str) -> Iterator[FileInfo]:
        """Every file and directory below ``path`` (root-relative paths); backends may do it in one call."""
        pending: list[tuple[str, int]] = [(path, 0)]
        while pending:
            directory, depth = pending.pop()
            if depth > MAX_WALK_DEPTH:
                raise InvalidParameterError(f"Artifact directory {directory!r} is nested too deeply")
            for info in self._list_dir(directory):
                yield info
                if info.is_dir:
                    pending.append((info.path, depth + 1))

    # ------------------------------------------------------------------ public primitives (validated)

    def upload_file(
        self, local_path: str | os.PathLike[str], dest_path: str, progress: ProgressCallback | None = None
    ) -> None:
        """Store one local file at ``dest_path`` (relative to the root), replacing any existing file."""
        dest = safe_relative_path(dest_path)
        if dest == "":
            raise InvalidParameterError("An artifact destination path is required to upload a file")
        local = Path(local_path)
        if not local.is_file():
            raise InvalidParameterError(f"Local file {str(local)!r} does not exist or is not a file")
        self._upload_file(local, dest, progress)

    def download_file(
        self, src_path: str, local_path: str | os.PathLike[str], progress: ProgressCallback | None = None
    ) -> None:
        """Download one file; ``local_path`` appears atomically (never half-written)."""
        src = safe_relative_path(src_path)
        if src == "":
            raise InvalidParameterError("An artifact path is required to download a file")
        self._download_atomically(src, Path(local_path), progress)

    def list_dir(self, path: str | None = None) -> list[FileInfo]:
        """Direct children of ``path``, root-relative and sorted; ``[]`` for a file or a missing path."""
        return sorted(self._list_dir(safe_relative_path(path)), key=lambda info: info.path)

    def walk(self, path: str | None = None) -> Iterator[FileInfo]:
        """Every file and directory below ``path`` (root-relative paths, files with their sizes)."""
        return self._walk(safe_relative_path(path))

    def delete(self, path: str | None = None) -> None:
        """Remove a file or a tree (``None``/``""`` = everything); a missing path is not an error."""
        self._delete(safe_relative_path(path))

    def open_read(self, path: str) -> ChunkStream:
        """Open a file for streaming (NotFoundError right away if missing); iterate it, then close it."""
        rel = safe_relative_path(path)
        if rel == "":
            raise InvalidParameterError("An artifact path is required to read a file")
        return self._open_read(rel)

    def write_stream(self, path: str, chunks: Iterable[bytes]) -> int:
        """Store an iterable of byte chunks at ``path`` in bounded memory; returns the bytes written.

        The previous version (if any) stays visible until the new one is complete; if ``chunks`` raises,
        nothing changes.
        """
        rel = safe_relative_path(path)
        if rel == "":
            raise InvalidParameterError("An artifact path is required to write a file")
        return self._write_stream(rel, chunks)

    # ------------------------------------------------------------------ MLflow-shaped operations

    def log_artifact(
        self,
        local_file: str | os.PathLike[str],
        artifact_path: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        """Upload one file to ``<artifact_path>/<its file name>``."""
        local = Path(local_file)
        self.upload_file(local, join_artifact_path(artifact_path, local.name), progress)

    def log_artifacts(
        self,
        local_dir: str | os.PathLike[str],
        artifact_path: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        """Upload a directory tree under ``artifact_path`` (files in parallel on remote stores)."""
        root = Path(local_dir)
        if not root.is_dir():
            raise InvalidParameterError(f"Local directory {str(root)!r} does not exist or is not a directory")
        base = safe_relative_path(artifact_path)
        jobs: list[tuple[Path, str]] = []
        for dirpath, _dirnames, filenames in os.walk(root):
            rel_dir = Path(dirpath).relative_to(root).as_posix()
            for name in sorted(filenames):
                rel = name if rel_dir == "." else f"{rel_dir}/{name}"
                jobs.append((Path(dirpath) / name, join_artifact_path(base, rel)))
        if progress is not None:  # every file up front: a progress display knows the whole task at once
            for local, dest in jobs:
                progress(dest, 0, local.stat().st_size)
        self._run_parallel([partial(self._upload_file, local, dest, progress) for local, dest in jobs])

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """Direct children of ``path``, paths relative to the root; ``[]`` for a file or a missing path."""
        return self.list_dir(path)

    def download_artifacts(
        self,
        artifact_path: str | None = None,
        dst_path: str | os.PathLike[str] | None = None,
        progress: ProgressCallback | None = None,
    ) -> str:
        """Download a file or a whole directory into ``dst_path`` (a new temp dir if None).

        Returns the local path of the downloaded artifact, i.e. ``<dst_path>/<artifact_path>``.
        """
        rel = safe_relative_path(artifact_path)
        if dst_path is None:
            dst = Path(tempfile.mkdtemp(prefix="bakehouse-artifacts-"))
        else:
            dst = Path(dst_path)
            if dst.exists() and not dst.is_dir():
                raise InvalidParameterError(f"Download destination {str(dst)!r} is not a directory")
            dst.mkdir(parents=True, exist_ok=True)
        real_dst = os.path.realpath(dst)
        if not self._is_dir(rel):
            target = resolve_parent_under(real_dst, rel, root_is_real=True)
            self._download_atomically(rel, target, progress)
            return str(target)
        prefix = f"{rel}/" if rel else ""
        out = resolve_parent_under(real_dst, rel, root_is_real=True)
        out.mkdir(parents=True, exist_ok=True)
        jobs: list[Callable[[], None]] = []
        announced: list[tuple[str, int | None]] = []
        for info in self._walk(rel):
            path = safe_relative_path(info.path)
            if not path.startswith(prefix):
                raise InvalidParameterError(f"Artifact listing returned {info.path!r} outside {rel!r}")
            local = resolve_parent_under(real_dst, path, root_is_real=True)
            if info.is_dir:
                local.mkdir(parents=True, exist_ok=True)
            else:
                jobs.append(partial(self._download_atomically, path, local, progress))
                announced.append((path, info.file_size))
        if progress is not None:  # every file up front, as log_artifacts does
            for path, size in announced:
                progress(path, 0, size)
        self._run_parallel(jobs)
        return str(out)

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        """Delete a file or a tree (everything under the root when ``artifact_path`` is None)."""
        self.delete(artifact_path)

    # ------------------------------------------------------------------ shared machinery

    def _download_atomically(self, src: str, target: Path, progress: ProgressCallback | None) -> None:
        if not os.path.isdir(target.parent):
            target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex[:12]}-{target.name}"[:255])
        try:
            self._download_file(src, temp, progress)
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def _run_parallel(self, jobs: Sequence[Callable[[], None]]) -> None:
        """Run transfer jobs on a small pool; the first failure cancels the rest and is raised."""
        if len(jobs) <= 1 or self.max_workers <= 1:
            for job in jobs:
                job()
            return
        with ThreadPoolExecutor(
            max_workers=min(self.max_workers, len(jobs)), thread_name_prefix="artifacts"
        ) as pool:
            futures: list[Future[None]] = [pool.submit(job) for job in jobs]
            _done, not_done = wait(futures, return_when=FIRST_EXCEPTION)
            for future in not_done:
                future.cancel()
            for future in futures:
                error = future.exception() if future.done() and not future.cancelled() else None
                if error is not None:
                    raise error
