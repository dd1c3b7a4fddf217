"""The environment cache: one directory per spec hash, built once under a file lock.

A ``.bakehouse-env.json`` marker is written last, so an interrupted build (Ctrl-C, full disk) is detected
and redone instead of being reused half-finished. The lock makes parallel sweeps and concurrent
``bakehouse run`` invocations build a shared environment only once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bakehouse import settings

MARKER = ".bakehouse-env.json"


def spec_hash(fields: dict[str, Any]) -> str:
    payload = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]


def env_dir(kind: str, fields: dict[str, Any], root: Path | None = None) -> Path:
    return (root or settings.project_env_cache_dir()) / f"{kind}-{spec_hash(fields)}"


def is_complete(path: Path) -> bool:
    return (path / MARKER).is_file()


def read_marker(path: Path) -> dict[str, Any]:
    try:
        data = json.loads((path / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def mark_complete(path: Path, fields: dict[str, Any], seconds: float) -> None:
    record = {"spec": fields, "built_at": time.time(), "build_seconds": round(seconds, 3)}
    tmp = path / (MARKER + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path / MARKER)


def discard(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


@contextmanager
def build_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
