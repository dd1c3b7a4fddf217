"""The models of runs, for the places a user looks for them (``runs list``, ``runs describe``,
``artifacts list``).

Since MLflow 3 a logged model is stored apart from its run's artifacts (``models:/m-<id>``, under the
experiment's ``models/`` folder), so a run whose only output is a model lists no artifacts at all. A run's
models are the logged models it produced (``source_run_id``) or recorded as its outputs; each comes with
the registered versions made from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bakehouse.client.client import Client
    from bakehouse.entities import LoggedModel, Run

#: search filters name at most this many runs at once (the SQL ``IN`` lists stay small)
_CHUNK = 100


@dataclass(frozen=True)
class RegisteredVersion:
    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


@dataclass(frozen=True)
class RunModel:
    """One logged model of a run."""

    model_id: str
    name: str
    status: str
    artifact_location: str
    registered: tuple[RegisteredVersion, ...] = field(default_factory=tuple)

    @property
    def uri(self) -> str:
        return f"models:/{self.model_id}"


def _quoted(values: Sequence[str]) -> str:
    return ", ".join("'" + v.replace("'", "\\'") + "'" for v in values)


def models_of_runs(client: Client, runs: Sequence[Run]) -> dict[str, list[RunModel]]:
    """``run_id -> its models`` (runs without models map to ``[]``), in a few searches for any number of runs."""
    by_run: dict[str, dict[str, LoggedModel]] = {r.info.run_id: {} for r in runs}
    experiment_ids = sorted({r.info.experiment_id for r in runs})
    run_ids = list(by_run)
    for start in range(0, len(run_ids), _CHUNK):
        chunk = run_ids[start : start + _CHUNK]
        token = None
        while True:
            page = client.search_logged_models(
                experiment_ids, f"source_run_id IN ({_quoted(chunk)})", max_results=1000, page_token=token
            )
            for model in page:
                if model.source_run_id in by_run:
                    by_run[model.source_run_id][model.model_id] = model
            token = page.token
            if not token:
                break
    for run in runs:  # models recorded as outputs but produced elsewhere (e.g. by a parent run)
        known = by_run[run.info.run_id]
        for output in run.outputs.model_outputs:
            if output.model_id not in known:
                known[output.model_id] = client.get_logged_model(output.model_id)
    versions = _registered_versions(client, run_ids)
    return {
        run_id: [
            RunModel(
                m.model_id,
                m.name,
                m.status,
                m.artifact_location,
                tuple(versions.get(m.model_id, ())) or tuple(versions.get((run_id, m.name), ())),
            )
            for m in sorted(models.values(), key=lambda m: (m.creation_timestamp, m.model_id))
        ]
        for run_id, models in by_run.items()
    }


def _registered_versions(client: Client, run_ids: Sequence[str]) -> dict[object, list[RegisteredVersion]]:
    """Registered versions of these runs, keyed by the logged model they came from (``model_id``), or by
    ``(run_id, artifact name)`` for versions registered from a ``runs:/<run>/<name>`` path."""
    found: dict[object, list[RegisteredVersion]] = {}
    for start in range(0, len(run_ids), _CHUNK):
        chunk = run_ids[start : start + _CHUNK]
        token = None
        while True:
            page = client.search_model_versions(
                f"run_id IN ({_quoted(chunk)})", max_results=1000, page_token=token
            )
            for mv in page:
                entry = RegisteredVersion(mv.name, str(mv.version))
                if mv.model_id:
                    found.setdefault(mv.model_id, []).append(entry)
                elif mv.run_id and mv.source:
                    found.setdefault((mv.run_id, mv.source.rstrip("/").rsplit("/", 1)[-1]), []).append(entry)
            token = page.token
            if not token:
                break
    return found
