"""Static assets of the UI: read once, gzip once, serve with immutable caching.

Asset URLs carry a build id (``/static-files/<build>/js/app.js``) computed from the files' contents, so
browsers can cache them forever and a new release still takes effect immediately: ``index.html`` (never
cached) names the new build id, and every relative ES-module import inherits it.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import logging
import mimetypes
import threading
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
#: Served from the installed ``plotly`` package instead of being vendored twice.
PLOTLY_PATH = "vendor/plotly.min.js"

_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
_COMPRESSIBLE = (".js", ".mjs", ".css", ".html", ".svg", ".json")


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None
    content_type: str
    etag: str


class AssetCache:
    """Loads each asset on first use; thread-safe, bounded by the (small) static tree."""

    def __init__(self, root: Path = STATIC_DIR) -> None:
        self.root = root
        self._assets: dict[str, Asset] = {}
        self._lock = threading.Lock()
        self._build_id: str | None = None

    @property
    def build_id(self) -> str:
        """A short hash of every static file's name, size and mtime (cheap; no content reads)."""
        if self._build_id is None:
            digest = hashlib.sha256()
            for path in sorted(self.root.rglob("*")):
                if path.is_file():
                    stat = path.stat()
                    digest.update(f"{path.relative_to(self.root)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
            self._build_id = "b" + digest.hexdigest()[:12]
        return self._build_id

    def __len__(self) -> int:
        """How many assets are held in memory (at most the files of the static tree)."""
        return len(self._assets)

    def get(self, rel_path: str) -> Asset | None:
        with self._lock:
            if rel_path in self._assets:
                return self._assets[rel_path]
        asset = self._load(rel_path)
        if asset is not None:  # misses are not kept: any client can ask for endless made-up names
            with self._lock:
                self._assets[rel_path] = asset
        return asset

    def _load(self, rel_path: str) -> Asset | None:
        data = self._read(rel_path)
        if data is None:
            return None
        suffix = Path(rel_path).suffix.lower()
        content_type = _TYPES.get(suffix) or mimetypes.guess_type(rel_path)[0] or "application/octet-stream"
        gz = gzip.compress(data, compresslevel=9, mtime=0) if suffix in _COMPRESSIBLE else None
        etag = '"' + hashlib.sha256(data).hexdigest()[:20] + '"'
        return Asset(data, gz, content_type, etag)

    def _read(self, rel_path: str) -> bytes | None:
        if rel_path == PLOTLY_PATH:
            try:
                return (importlib.resources.files("plotly") / "package_data" / "plotly.min.js").read_bytes()
            except (ModuleNotFoundError, FileNotFoundError):
                logger.warning("plotly is not installed: charts are unavailable in the UI")
                return None
        # one spelling per file (no empty, "." or ".." segment, no leading "/"): ``js//app.js`` would
        # otherwise be another name, and another copy in memory, for the same file
        segments = rel_path.split("/")
        if any(s == "" or s.startswith(".") for s in segments):
            return None
        path = (self.root / rel_path).resolve()
        if not path.is_relative_to(self.root.resolve()) or not path.is_file():
            return None
        return path.read_bytes()
