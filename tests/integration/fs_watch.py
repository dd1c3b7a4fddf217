"""Proof that a process never touched a directory: Linux inotify, through ctypes (no extra package).

``FileSystemWatch(paths)`` records every open, read, write, create, delete, rename and metadata change on
the entries of the watched directories (inotify watches one level: watch each directory of interest), by
any process, until ``events()`` is called. Tests use it around hostile requests to show the server neither
read nor wrote files planted outside its artifact root; checking contents afterwards would only prove the
"wrote" half.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
from pathlib import Path
from typing import Self

IN_ACCESS = 0x001
IN_MODIFY = 0x002
IN_ATTRIB = 0x004
IN_CLOSE_WRITE = 0x008
IN_OPEN = 0x020
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_ISDIR = 0x40000000
IN_NONBLOCK = os.O_NONBLOCK
EVERYTHING = (
    IN_ACCESS
    | IN_MODIFY
    | IN_ATTRIB
    | IN_CLOSE_WRITE
    | IN_OPEN
    | IN_MOVED_FROM
    | IN_MOVED_TO
    | IN_CREATE
    | IN_DELETE
)
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len (then len bytes of NUL-padded name)
_NAMES = {
    IN_ACCESS: "read",
    IN_MODIFY: "write",
    IN_ATTRIB: "attributes",
    IN_CLOSE_WRITE: "closed after writing",
    IN_OPEN: "open",
    IN_MOVED_FROM: "moved away",
    IN_MOVED_TO: "moved in",
    IN_CREATE: "create",
    IN_DELETE: "delete",
}


class FileSystemWatch:
    def __init__(self, directories: list[Path]) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self._fd = libc.inotify_init1(IN_NONBLOCK)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        self._paths: dict[int, Path] = {}
        for directory in directories:
            wd = libc.inotify_add_watch(self._fd, os.fsencode(directory), EVERYTHING)
            if wd < 0:
                raise OSError(ctypes.get_errno(), f"inotify_add_watch({directory}) failed")
            self._paths[wd] = directory

    def events(self, ignore: frozenset[str] = frozenset()) -> list[str]:
        """Everything seen so far, as ``"<verb> <path>"``; entries named in ``ignore`` are left out."""
        seen: list[str] = []
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                return seen
            offset = 0
            while offset < len(data):
                wd, mask, _cookie, length = _HEADER.unpack_from(data, offset)
                name = data[offset + _HEADER.size : offset + _HEADER.size + length].rstrip(b"\0").decode()
                offset += _HEADER.size + length
                if name in ignore:
                    continue
                verbs = [verb for bit, verb in _NAMES.items() if mask & bit]
                seen.append(f"{'/'.join(verbs)} {self._paths.get(wd, '?')}/{name}")

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
