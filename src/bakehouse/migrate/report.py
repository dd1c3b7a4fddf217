"""The final report of a migration: per kind of object, what moved, and checksums of both sides.

A kind's checksum is a SHA-256 over a canonical form of its objects as they should be at the destination
(the source's content, with the destination's ids and artifact locations where those change). After the
writes, the same checksum is computed from what the destination holds: equal checksums show the content
arrived exactly. Metric histories are checked through their per-key summaries (points, first and last
timestamp and step, latest point), or point by point with ``verify="points"``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = (
    "experiments",
    "runs",
    "metrics",
    "datasets",
    "inputs",
    "logged_models",
    "registered_models",
    "model_versions",
    "artifacts",
)


@dataclass
class KindReport:
    kind: str
    source: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    expected: str = ""  # checksum of the source content as it should be at the destination
    found: str | None = None  # the same checksum computed from the destination (None: not verified)

    @property
    def verified(self) -> bool | None:
        return None if self.found is None else self.found == self.expected


@dataclass
class MigrationReport:
    source: str
    destination: str
    dry_run: bool
    artifacts: str  # "copy" | "reference"
    kinds: dict[str, KindReport] = field(default_factory=lambda: {k: KindReport(k) for k in KINDS})
    metric_points_written: int = 0
    artifact_files_copied: int = 0
    artifact_bytes_copied: int = 0
    conflicts: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def verified(self) -> bool:
        return all(k.verified is not False for k in self.kinds.values())

    @property
    def changed(self) -> bool:
        return any(k.created or k.updated for k in self.kinds.values()) or self.metric_points_written > 0

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["kinds"] = [{**asdict(k), "verified": k.verified} for k in self.kinds.values()]
        out["verified"] = self.verified
        return out


def _canonical(value: Any) -> Any:
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def checksum(items: Iterable[Any]) -> str:
    """Order-independent SHA-256 over the canonical JSON of ``items`` (first 16 hex digits)."""
    lines = sorted(json.dumps(_canonical(item), sort_keys=True, ensure_ascii=False) for item in items)
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode("utf-8", "surrogatepass") + b"\n")
    return digest.hexdigest()[:16]
