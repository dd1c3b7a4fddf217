"""Artifacts on the local filesystem (plain paths and ``file://`` URIs).

Copies go through ``os.sendfile`` (kernel-side, no Python-level buffering); every write lands
in a hidden temporary file next to its destination and is renamed into place, so a crashed upload never
leaves a half file visible. Reads and listings resolve symlinks and refuse anything outside the root.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlparse
from urllib.request import url2pathname

from bakehouse.entities import FileInfo
from bakehouse.errors import InvalidParameterError, NotFoundError
from bakehouse.store.artifacts.base import (
    TEMP_PREFIX,
    ArtifactRepository,
    ChunkStream,
    ProgressCallback,
)
from bakehouse.store.artifacts.paths import (
    is_within_root,
    resolve_parent_under,
    resolve_under,
    safe_relative_path,
)


def local_path_from_uri(uri: str) -> Path:
    """``file:///abs/path`` or ``file:rel`` or a plain path → a filesystem path."""
    if uri.startswith("file:"):
        parsed = urlparse(uri)
        if parsed.netloc not in ("", "localhost"):
            raise InvalidParameterError(f"file:// URIs with a remote host are not supported: {uri!r}")
        return Path(url2pathname(parsed.path))
    return Path(uri)


def copy_file(source: Path | str, destination: Path | str) -> int:
    """Copy bytes kernel-side (``sendfile``) into a new file; fewer system calls than ``shutil.copyfile``."""
    with open(source, "rb") as src, open(destination, "xb") as dst:
        size = os.fstat(src.fileno()).st_size
        try:
            offset = 0
            while offset < size:
                sent = os.sendfile(dst.fileno(), src.fileno(), offset, size - offset)
                if sent == 0:
                    break
                offset += sent
            if offset == size:
                return size
            dst.seek(offset)
            src.seek(offset)
        except OSError:  # sendfile unsupported for this pair (some filesystems): plain copy
            dst.seek(0)
            dst.truncate()
            src.seek(0)
        shutil.copyfileobj(src, dst, 1024 * 1024)
        return dst.tell()


class LocalArtifactRepository(ArtifactRepository):
    """Artifacts stored below a directory (created on first write)."""

    #: local copies are system-call bound: a thread pool measured slower than one thread (tmpfs, 2 cores)
    max_workers = 1

    def __init__(self, artifact_uri: str) -> None:
        super().__init__(artifact_uri)
        self.root = local_path_from_uri(artifact_uri).absolute()
        self._real_root: str | None = None

    def check_reachable(self) -> None:
        """The root is a directory this process may write into (a missing or read-only mount fails)."""
        if not self.root.is_dir():
            raise OSError(f"artifact root {self.root} is not a directory")
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise PermissionError(f"artifact root {self.root} is not writable")

    def _real(self) -> str:
        """The root with symlinks resolved, cached once it exists (resolving it per file is measurable)."""
        if self._real_root is not None:
            return self._real_root
        real = os.path.realpath(self.root)
        if os.path.isdir(real):
            self._real_root = real
        return real

    def _read_path(self, path: str) -> Path:
        return resolve_under(self._real(), path, root_is_real=True)

    # ------------------------------------------------------------------ writes (temp file + rename)

    def _target_for_write(self, dest: str) -> Path:
        target = resolve_parent_under(self._real(), dest, root_is_real=True)
        if not os.path.isdir(target.parent):
            target.parent.mkdir(parents=True, exist_ok=True)
            # the directories were just created: check again in case one was swapped for a symlink meanwhile
            if not is_within_root(self._real(), target.parent, root_is_real=True):
                raise InvalidParameterError(
                    f"Invalid artifact path {dest!r}: it resolves outside the artifact root"
                )
        elif os.path.isdir(target) and not os.path.islink(target):
            raise InvalidParameterError(f"Cannot write artifact {dest!r}: a directory with that name exists")
        return target

    def _temp_next_to(self, target: Path) -> Path:
        return target.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex[:12]}-{target.name}"[:255])

    def _upload_file(self, local_path: Path, dest: str, progress: ProgressCallback | None) -> None:
        target = self._target_for_write(dest)
        if progress is not None:
            progress(dest, 0, local_path.stat().st_size)
        temp = self._temp_next_to(target)
        try:
            size = copy_file(local_path, temp)
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        if progress is not None:
            progress(dest, size, size)

    def _write_stream(self, path: str, chunks: Iterable[bytes]) -> int:
        written = 0
        with self.open_atomic(path) as out:
            for chunk in chunks:
                out.write(chunk)
                written += len(chunk)
        return written

    @contextlib.contextmanager
    def open_atomic(self, path: str) -> Iterator[BinaryIO]:
        """A new file for ``path``, written next to it under a hidden name: it takes the place of any previous
        version at once when the block ends, and disappears if the block raises (nothing changes then)."""
        rel = safe_relative_path(path)
        if rel == "":
            raise InvalidParameterError("An artifact path is required to write a file")
        target = self._target_for_write(rel)
        temp = self._temp_next_to(target)
        try:
            with open(temp, "xb") as out:
                yield out
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    # ------------------------------------------------------------------ reads

    def _existing_file(self, path: str) -> Path:
        source = self._read_path(path)
        if not source.is_file():
            raise NotFoundError(
                f"Artifact {path!r} does not exist (or is a directory) in {self.artifact_uri}"
            )
        return source

    def _download_file(self, src: str, local_path: Path, progress: ProgressCallback | None) -> None:
        source = self._existing_file(src)
        if progress is not None:
            progress(src, 0, source.stat().st_size)
        size = copy_file(source, local_path)
        if progress is not None:
            progress(src, size, size)

    def _open_read(self, path: str) -> ChunkStream:
        source = self._existing_file(path)
        fileobj = open(source, "rb")  # noqa: SIM115 - the returned stream owns and closes it
        return ChunkStream.from_file(fileobj, size=os.fstat(fileobj.fileno()).st_size)

    def _list_dir(self, path: str) -> list[FileInfo]:
        directory = self._read_path(path)
        if not directory.is_dir():
            return []
        real_root = self._real()
        infos = []
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.name.startswith(TEMP_PREFIX):
                    continue
                if entry.is_symlink() and not is_within_root(real_root, entry.path, root_is_real=True):
                    continue  # a link out of the root is neither listed nor readable
                rel = f"{path}/{entry.name}" if path else entry.name
                try:
                    if entry.is_dir():
                        infos.append(FileInfo(rel, True, None))
                    elif entry.is_file():
                        infos.append(FileInfo(rel, False, entry.stat().st_size))
                except FileNotFoundError:  # deleted while listing
                    continue
        return sorted(infos, key=lambda info: info.path)

    def _is_dir(self, path: str) -> bool:
        return self._read_path(path).is_dir()

    def _walk(self, path: str) -> Iterator[FileInfo]:
        """One ``os.walk`` (symlinked directories are not descended, so link loops cannot recurse)."""
        top = self._read_path(path)
        real_root = self._real()
        for dirpath, dirnames, filenames in os.walk(top):
            rel_dir = Path(dirpath).relative_to(top).as_posix()
            base = path if rel_dir == "." else (f"{path}/{rel_dir}" if path else rel_dir)
            for name in list(dirnames):
                full = os.path.join(dirpath, name)
                if name.startswith(TEMP_PREFIX) or (
                    os.path.islink(full) and not is_within_root(real_root, full, root_is_real=True)
                ):
                    dirnames.remove(name)
                    continue
                yield FileInfo(f"{base}/{name}" if base else name, True, None)
            for name in filenames:
                full = os.path.join(dirpath, name)
                if name.startswith(TEMP_PREFIX) or (
                    os.path.islink(full) and not is_within_root(real_root, full, root_is_real=True)
                ):
                    continue
                try:
                    size = os.stat(full).st_size
                except FileNotFoundError:
                    continue
                yield FileInfo(f"{base}/{name}" if base else name, False, size)

    # ------------------------------------------------------------------ delete

    def _delete(self, path: str) -> None:
        target = resolve_parent_under(self._real(), path, root_is_real=True)
        try:
            mode = os.lstat(target).st_mode
        except FileNotFoundError:
            return
        if stat.S_ISDIR(mode):
            shutil.rmtree(target)  # rmtree never follows symlinks inside the tree
        else:
            target.unlink()  # a file, or a symlink itself (never its target)
