"""Re-running a project on a schedule or when new data appears (``bakehouse run ... --every / --on-new-data``).

A data location is a local file or directory, or an ``s3://bucket/prefix``; its *versions* are the files
under it (name, size, modification time, ETag). Every poll lists them; versions not trained on before
trigger a run. That run gets:

- the newest version's URI as the entry point's data parameter (``--data-param``, default ``data``) when
  the entry point declares it, and in ``BAKEHOUSE_TRIGGER_DATA``; every new version's URI, as a JSON list,
  in ``BAKEHOUSE_TRIGGER_NEW_DATA``;
- one dataset input per new version (name = file name, digest from size/mtime/ETag, source = its URI,
  context ``training``), so the run says exactly which data it learnt from;
- the tags ``bakehouse.trigger`` (``schedule`` or ``new-data``), ``bakehouse.trigger.source`` (the
  location), ``bakehouse.trigger.versions`` and ``bakehouse.trigger.detected`` (when it was seen, ms).

What has been trained on is read back from those tags when the loop starts, so a restarted trigger does not
retrain on old files (``--skip-existing`` also ignores files present at the first start). Runs happen one
at a time: a run that outlasts the interval is followed at once by the next.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from bakehouse.entities.run import DatasetInput
from bakehouse.errors import InvalidParameterError

logger = logging.getLogger(__name__)

TAG_TRIGGER = "bakehouse.trigger"
TAG_SOURCE = "bakehouse.trigger.source"
TAG_VERSIONS = "bakehouse.trigger.versions"
TAG_DETECTED = "bakehouse.trigger.detected"  # when the trigger saw the data (or the schedule came due), ms
ENV_DATA = "BAKEHOUSE_TRIGGER_DATA"
ENV_NEW_DATA = "BAKEHOUSE_TRIGGER_NEW_DATA"
CONTEXT_TAG = "mlflow.data.context"
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
#: files that are still being written, or not data at all
_IGNORED = re.compile(r"^\.|~$|\.(tmp|part|partial|crdownload|swp)$")


def parse_interval(text: str) -> float:
    """``"90"``, ``"30s"``, ``"5m"``, ``"1h"``, ``"1.5d"`` -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if not match or float(match.group(1)) <= 0:
        raise InvalidParameterError(
            f"Invalid interval {text!r}: use a number with s, m, h or d (e.g. 30m, 1h)"
        )
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True, order=True)
class DataVersion:
    """One file of a watched location, as it was when listed."""

    modified: float
    uri: str
    size: int
    etag: str = ""

    @property
    def digest(self) -> str:
        raw = f"{self.uri}|{self.size}|{self.modified:.6f}|{self.etag}".encode()
        return hashlib.sha256(raw).hexdigest()[:8]

    @property
    def key(self) -> str:
        return f"{self.digest}:{self.uri}"

    @property
    def name(self) -> str:
        return self.uri.rstrip("/").rsplit("/", 1)[-1]

    def dataset_input(self) -> DatasetInput:
        scheme = urlparse(self.uri).scheme
        profile = {"size": self.size, "modified": datetime.fromtimestamp(self.modified, UTC).isoformat()}
        return DatasetInput(
            name=self.name,
            digest=self.digest,
            source_type="s3" if scheme == "s3" else "local",
            source=json.dumps({"uri": self.uri}),
            profile=json.dumps(profile),
            tags={CONTEXT_TAG: "training"},
        )


class DataLocation(Protocol):
    uri: str

    def versions(self) -> list[DataVersion]:
        """Every file there now."""
        ...


@dataclass
class LocalLocation:
    uri: str

    def versions(self) -> list[DataVersion]:
        root = Path(self.uri.removeprefix("file://")).expanduser()
        if root.is_file():
            files: Iterable[Path] = [root]
        elif root.is_dir():
            files = (
                p
                for p in root.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
            )
        else:
            return []  # not there yet: nothing to train on
        out = []
        for path in files:
            if _IGNORED.search(path.name):
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:  # removed while listing
                continue
            out.append(DataVersion(stat.st_mtime, str(path.resolve()), stat.st_size))
        return sorted(out)


@dataclass
class S3Location:
    uri: str
    repository: Any = field(default=None, repr=False)

    def versions(self) -> list[DataVersion]:
        if self.repository is None:
            from bakehouse.store.artifacts.s3 import S3ArtifactRepository

            self.repository = S3ArtifactRepository(self.uri)
        repo = self.repository
        out = []
        paginator = repo.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=repo.bucket, Prefix=repo.prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.endswith("/") or _IGNORED.search(key.rsplit("/", 1)[-1]):
                    continue
                out.append(
                    DataVersion(
                        item["LastModified"].timestamp(),
                        f"s3://{repo.bucket}/{key}",
                        int(item["Size"]),
                        str(item.get("ETag", "")).strip('"'),
                    )
                )
        return sorted(out)


def data_location(uri: str) -> DataLocation:
    scheme = urlparse(uri).scheme
    if scheme == "s3":
        return S3Location(uri)
    if scheme in ("", "file"):
        return LocalLocation(uri if scheme else str(Path(uri).expanduser().resolve()))
    raise InvalidParameterError(f"--on-new-data watches a local path or an s3:// prefix, not {uri!r}")


@dataclass
class TriggeredRun:
    reason: str  # "schedule" | "new-data"
    new_versions: list[DataVersion]
    result: Any  # ProjectRunResult


@dataclass
class Trigger:
    """The loop behind ``--every`` / ``--on-new-data``: ``run`` calls ``launch(request)`` for each run."""

    request: Any  # ProjectRunRequest
    launch: Callable[[Any], Any]
    every: float | None = None
    location: DataLocation | None = None
    poll_interval: float = 60.0
    data_param: str | None = "data"
    skip_existing: bool = False
    max_runs: int | None = None
    once: bool = False
    on_run: Callable[[TriggeredRun], None] | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    seen: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.every is None and self.location is None:
            raise InvalidParameterError("A trigger needs --every or --on-new-data")
        if self.poll_interval <= 0:
            raise InvalidParameterError("--poll-interval must be positive")

    def remember_trained(self, client: Any, experiment_ids: list[str]) -> None:
        """What earlier triggered runs of this location trained on (their ``bakehouse.trigger.versions``)."""
        if self.location is None:
            return
        escaped = self.location.uri.replace("'", "\\'")
        runs = client.search_runs(experiment_ids, f"tags.`{TAG_SOURCE}` = '{escaped}'", max_results=50_000)
        for run in runs:
            self.seen.update(json.loads(run.data.tags.get(TAG_VERSIONS) or "[]"))
        if self.seen:
            logger.info("%d data versions of %s were trained on before", len(self.seen), self.location.uri)

    def _request_for(self, reason: str, new: list[DataVersion], everything: list[DataVersion]) -> Any:
        tags = {TAG_TRIGGER: reason, TAG_DETECTED: str(int(time.time() * 1000))}
        env: dict[str, str] = {}
        params = dict(self.request.parameters)
        if self.location is not None:
            tags[TAG_SOURCE] = self.location.uri
            tags[TAG_VERSIONS] = json.dumps([v.key for v in new])
            if everything:
                newest = max(everything)
                env[ENV_DATA] = newest.uri
                if self.data_param:
                    params[self.data_param] = newest.uri
            env[ENV_NEW_DATA] = json.dumps([v.uri for v in new])
        return replace(
            self.request,
            parameters=params,
            run_tags={**self.request.run_tags, **tags},
            run_inputs=[*self.request.run_inputs, *(v.dataset_input() for v in new)],
            run_env={**self.request.run_env, **env},
        )

    def check(
        self, now: float, next_scheduled: float | None
    ) -> tuple[str, list[DataVersion], list[DataVersion]] | None:
        """(reason, new versions, all versions) when a run is due now, else None."""
        everything = self.location.versions() if self.location is not None else []
        new = [v for v in everything if v.key not in self.seen]
        if new:
            return "new-data", new, everything
        if next_scheduled is not None and now >= next_scheduled:
            return "schedule", [], everything
        return None

    def run(self) -> list[TriggeredRun]:
        """Run until ``stop`` is set, ``max_runs`` runs happened, or (``once``) after one check."""
        done: list[TriggeredRun] = []
        next_scheduled = time.monotonic() if self.every is not None else None
        if self.skip_existing and self.location is not None:
            self.seen.update(v.key for v in self.location.versions())
        while not self.stop.is_set():
            due = self.check(time.monotonic(), next_scheduled)
            if due is not None:
                reason, new, everything = due
                logger.info(
                    "Trigger (%s): running %s", reason, ", ".join(v.uri for v in new) or "on schedule"
                )
                started = time.monotonic()
                result = self.launch(self._request_for(reason, new, everything))
                self.seen.update(v.key for v in new)
                if self.every is not None:
                    next_scheduled = started + self.every
                triggered = TriggeredRun(reason, new, result)
                done.append(triggered)
                if self.on_run is not None:
                    self.on_run(triggered)
                if self.max_runs is not None and len(done) >= self.max_runs:
                    break
                continue  # check again at once: data may have arrived during the run
            if self.once:
                break
            wait = self.poll_interval if self.location is not None else float("inf")
            if next_scheduled is not None:
                wait = min(wait, max(0.0, next_scheduled - time.monotonic()))
            self.stop.wait(wait)
        return done


def cron_schedule(seconds: float) -> str:
    """An interval as a Kubernetes CronJob schedule: whole minutes dividing an hour, hours dividing a day,
    or whole days (at midnight)."""
    if seconds < 60 or seconds % 60:
        raise InvalidParameterError(
            f"A CronJob runs at most once a minute and on whole minutes; {seconds:g} s cannot be scheduled"
        )
    minutes = int(seconds // 60)
    if minutes < 60 and 60 % minutes == 0:
        return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"
    if minutes % 60 == 0:
        hours = minutes // 60
        if hours < 24 and 24 % hours == 0:
            return "0 * * * *" if hours == 1 else f"0 */{hours} * * *"
        if hours % 24 == 0:
            days = hours // 24
            if days == 1:
                return "0 0 * * *"
            if days == 7:
                return "0 0 * * 0"
            if days < 28:
                return f"0 0 */{days} * *"
    raise InvalidParameterError(
        f"An interval of {minutes} minutes is not a CronJob schedule: use minutes that divide an hour, hours "
        "that divide a day, or whole days"
    )
