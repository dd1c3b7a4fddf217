"""What the object-store repositories (S3, GCS, Azure) share: artifact paths as keys under a prefix, and
file windows for transfers split into parallel parts.

Object stores have no directories: ``dir/file.txt`` under ``s3://bucket/root`` is the key
``root/dir/file.txt``, and a directory is a key prefix ending in ``/``. :class:`KeyLayout` does that
mapping in one place. :class:`FileWindow` and :class:`OffsetWriter` let each part of a large file be read
or written by its own thread, reporting progress as bytes move. :class:`TranslatedErrors` turns a client
library's exceptions into Bakehouse errors that name the bucket or container.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bakehouse.errors import BakehouseError
from bakehouse.store.artifacts.base import TEMP_PREFIX, ProgressCallback


@dataclass(frozen=True)
class KeyLayout:
    """Artifact paths (validated, root-relative) <-> object keys under ``prefix`` (no leading/trailing /)."""

    prefix: str

    def key(self, path: str) -> str:
        if not path:
            return self.prefix
        return f"{self.prefix}/{path}" if self.prefix else path

    def dir_prefix(self, path: str) -> str:
        """The key prefix of everything below ``path`` (``""`` for the whole bucket)."""
        key = self.key(path)
        return f"{key}/" if key else ""

    def relative(self, key: str) -> str:
        """The artifact path of a key listed under the prefix."""
        return key[len(self.prefix) + 1 :] if self.prefix else key


def is_hidden_key(key: str) -> bool:
    """In-flight parts and temporary objects are never listed (their last segment starts with TEMP_PREFIX)."""
    return key.rstrip("/").rpartition("/")[2].startswith(TEMP_PREFIX)


def part_ranges(size: int, part_size: int) -> list[tuple[int, int]]:
    """``(offset, length)`` of each part of a ``size``-byte file cut in ``part_size`` pieces."""
    return [(offset, min(part_size, size - offset)) for offset in range(0, size, part_size)]


class TransferMeter:
    """Reports the bytes of one file to a progress callback, never more than its size in total.

    A client library that retries a part reads those bytes again; the cap keeps the bar honest.
    """

    def __init__(self, path: str, total: int, progress: ProgressCallback | None) -> None:
        self.path = path
        self.total = total
        self._progress = progress
        self._reported = 0
        self._lock = threading.Lock()
        if progress is not None:
            progress(path, 0, total)

    def advance(self, amount: int) -> None:
        if self._progress is None or amount <= 0:
            return
        with self._lock:
            amount = min(amount, self.total - self._reported)
            self._reported += amount
        if amount > 0:
            self._progress(self.path, amount, self.total)


class FileWindow(io.RawIOBase):
    """A read-only, seekable view of ``length`` bytes at ``offset`` of an open file, counting what is read.

    Client libraries upload "a file"; giving each part its own window lets parts go up in parallel from one
    file descriptor (``os.pread`` has no shared file position).
    """

    def __init__(self, fd: int, offset: int, length: int, meter: TransferMeter | None = None) -> None:
        super().__init__()
        self._fd = fd
        self._offset = offset
        self._length = length
        self._position = 0
        self._meter = meter

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._length}[whence]
        self._position = max(0, base + offset)
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        remaining = self._length - self._position
        if size is None or size < 0 or size > remaining:
            size = remaining
        if size <= 0:
            return b""
        data = os.pread(self._fd, size, self._offset + self._position)
        self._position += len(data)
        if self._meter is not None:
            self._meter.advance(len(data))
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class OffsetWriter(io.RawIOBase):
    """A write-only file object that lands its bytes at ``offset`` onwards of an open file (``os.pwrite``),
    so ranged downloads of one object can be written by parallel threads."""

    def __init__(self, fd: int, offset: int, meter: TransferMeter | None = None) -> None:
        super().__init__()
        self._fd = fd
        self._position = offset
        self._meter = meter

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data)
        written = 0
        while written < len(view):
            written += os.pwrite(self._fd, view[written:], self._position + written)
        self._position += written
        if self._meter is not None:
            self._meter.advance(written)
        return written


class TranslatedErrors:
    """Mixin of the GCS and Azure repositories: every library call goes through :meth:`_call`, so a failure
    reaches the user as one Bakehouse error (with the REST code of its kind) built by :meth:`_error`."""

    def _error(self, exc: Exception, operation: str, path: str) -> BakehouseError:
        raise NotImplementedError

    def _call(self, operation: str, path: str, func: Callable[[], Any]) -> Any:
        try:
            return func()
        except BakehouseError:
            raise
        except Exception as exc:  # the libraries' errors share no base worth importing eagerly
            raise self._error(exc, operation, path) from exc
