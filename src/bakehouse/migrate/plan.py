"""Compare a source with a destination and decide, object by object, what a migration writes.

The rules, the same for every kind of object:

- absent at the destination: created with its id (experiments by name under ``sync``);
- present and equal: left alone (a second migration writes nothing);
- present with changes the source made since (a run that finished, new tags, a version moved to
  Production, more metric points): updated to the source's values; what only the destination has (extra tags,
  extra points) is kept;
- present but a different object under the same id (another creation time or start time, another experiment,
  a param with another value, a name taken by another experiment): a conflict. Every conflict is collected
  before anything is written; one conflict stops the migration with nothing changed.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar

from bakehouse.entities.transfer import (
    Catalog,
    DatasetRecord,
    ExperimentRecord,
    InputRecord,
    LoggedModelRecord,
    MetricSummary,
    ModelVersionRecord,
    RegisteredModelRecord,
    RunRecord,
)
from bakehouse.store.transfer.state import DestinationState, StateQuery

DEFAULT_EXPERIMENT_ID = "0"
_ID_NAMESPACE = uuid.UUID("0d6c3b7e-8f7a-4c1e-b2a4-9e5d1f3a7c60")


T = TypeVar("T")


@dataclass
class Changes(Generic[T]):
    """What happens to one kind of object."""

    create: list[T] = field(default_factory=list)
    update: list[T] = field(default_factory=list)
    unchanged: int = 0


@dataclass
class Plan:
    experiments: Changes[ExperimentRecord] = field(default_factory=Changes)
    #: experiments that get a new id at the destination (sync): created one by one, ids mapped after
    new_named_experiments: list[ExperimentRecord] = field(default_factory=list)
    runs: Changes[RunRecord] = field(default_factory=Changes)
    datasets: Changes[DatasetRecord] = field(default_factory=Changes)
    inputs: Changes[InputRecord] = field(default_factory=Changes)
    logged_models: Changes[LoggedModelRecord] = field(default_factory=Changes)
    registered_models: Changes[RegisteredModelRecord] = field(default_factory=Changes)
    model_versions: Changes[ModelVersionRecord] = field(default_factory=Changes)
    conflicts: list[str] = field(default_factory=list)
    #: source experiment id -> destination experiment id (None: chosen when created)
    experiment_ids: dict[str, str | None] = field(default_factory=dict)
    #: destination experiment id -> its artifact location there (existing experiments)
    experiment_locations: dict[str, str | None] = field(default_factory=dict)


def state_query(catalog: Catalog) -> StateQuery:
    return StateQuery(
        experiment_ids=[e.experiment_id for e in catalog.experiments],
        experiment_names=[e.name for e in catalog.experiments],
        run_ids=[r.run_id for r in catalog.runs],
        logged_model_ids=[m.model_id for m in catalog.logged_models],
        registered_model_names=[m.name for m in catalog.registered_models],
    )


def same_value(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return a == b or (math.isnan(a) and math.isnan(b))


def summaries_match(source: MetricSummary, destination: MetricSummary | None) -> bool:
    """Whether the destination already holds the whole history the source summary describes."""
    if destination is None:
        return False
    if source.count is not None and destination.count is not None:
        return (
            source.count == destination.count
            and source.min_timestamp == destination.min_timestamp
            and source.max_timestamp == destination.max_timestamp
            and source.min_step == destination.min_step
            and source.max_step == destination.max_step
        )
    if source.latest is None or destination.latest is None:
        return False
    return source.latest[:2] == destination.latest[:2] and same_value(source.latest[2], destination.latest[2])


def _subset(wanted: dict[str, str], have: dict[str, str]) -> bool:
    return all(have.get(k) == v for k, v in wanted.items())


class Planner:
    def __init__(
        self, catalog: Catalog, state: DestinationState, keep_experiment_ids: bool, copy_artifacts: bool
    ):
        self.catalog = catalog
        self.state = state
        self.keep_experiment_ids = keep_experiment_ids
        self.copy_artifacts = copy_artifacts
        self.plan = Plan()

    def conflict(self, message: str) -> None:
        self.plan.conflicts.append(message)

    def build(self) -> Plan:
        self._experiments()
        self._runs()
        self._links()
        self._logged_models()
        self._registry()
        return self.plan

    # ------------------------------------------------------------------------------------ experiments
    def _experiments(self) -> None:
        plan, state = self.plan, self.state
        for e in self.catalog.experiments:
            named = state.experiment_names.get(e.name)
            if not self.keep_experiment_ids:
                if named is not None:
                    plan.experiment_ids[e.experiment_id] = named
                    plan.experiment_locations[named] = state.experiments[named].artifact_location
                    plan.experiments.unchanged += 1
                else:
                    plan.experiment_ids[e.experiment_id] = None
                    plan.new_named_experiments.append(e)
                continue
            plan.experiment_ids[e.experiment_id] = e.experiment_id
            existing = state.experiments.get(e.experiment_id)
            if named is not None and named != e.experiment_id:
                self.conflict(
                    f"experiment name {e.name!r} is experiment {e.experiment_id} in the source but experiment "
                    f"{named} at the destination"
                )
                continue
            if existing is None:
                plan.experiments.create.append(e)
                continue
            plan.experiment_locations[e.experiment_id] = existing.artifact_location
            if (
                e.experiment_id != DEFAULT_EXPERIMENT_ID
                and existing.creation_time is not None
                and e.creation_time is not None
                and existing.creation_time != e.creation_time
            ):
                self.conflict(
                    f"experiment {e.experiment_id} is {e.name!r} created at {e.creation_time} in the source but "
                    f"{existing.name!r} created at {existing.creation_time} at the destination"
                )
                continue
            desired = replace(e, artifact_location=existing.artifact_location, tags=dict(e.tags))
            same = (
                existing.name == desired.name
                and existing.lifecycle_stage == desired.lifecycle_stage
                and existing.creation_time == desired.creation_time
                and existing.last_update_time == desired.last_update_time
                and existing.deleted_time == desired.deleted_time
                and _subset(desired.tags, existing.tags)
            )
            if same:
                plan.experiments.unchanged += 1
            else:
                plan.experiments.update.append(desired)

    # ------------------------------------------------------------------------------------------- runs
    def _runs(self) -> None:
        plan, state = self.plan, self.state
        for r in self.catalog.runs:
            target_experiment = plan.experiment_ids.get(r.experiment_id, r.experiment_id)
            existing = state.runs.get(r.run_id)
            if existing is None:
                plan.runs.create.append(r)
                continue
            problems = []
            if target_experiment is not None and existing.experiment_id != target_experiment:
                problems.append(
                    f"is in experiment {existing.experiment_id} at the destination, {r.experiment_id} in the source"
                )
            if existing.start_time != r.start_time:
                problems.append(
                    f"started at {existing.start_time} at the destination, {r.start_time} in the source"
                )
            for key, value in r.params.items():
                if key in existing.params and existing.params[key] != value:
                    problems.append(
                        f"has param {key!r} = {_short(existing.params[key])} at the destination, "
                        f"{_short(value)} in the source"
                    )
            if problems:
                self.conflict(f"run {r.run_id} " + "; ".join(problems))
                continue
            desired = replace(
                r,
                experiment_id=existing.experiment_id,
                artifact_uri=existing.artifact_uri,
                params=dict(r.params),
                tags=dict(r.tags),
            )
            same = (
                existing.name == desired.name
                and existing.user_id == desired.user_id
                and existing.status == desired.status
                and existing.end_time == desired.end_time
                and existing.lifecycle_stage == desired.lifecycle_stage
                and existing.deleted_time == desired.deleted_time
                and _subset(desired.params, existing.params)
                and _subset(desired.tags, existing.tags)
            )
            if same:
                plan.runs.unchanged += 1
            else:
                plan.runs.update.append(desired)

    # ------------------------------------------------------------------------------ datasets and inputs
    def _links(self) -> None:
        plan, state = self.plan, self.state
        by_content = {(d.experiment_id, d.name, d.digest): d.dataset_id for d in state.datasets}
        taken_ids = {d.dataset_id for d in state.datasets}
        dataset_ids: dict[str, str] = {}
        for d in self.catalog.datasets:
            target_experiment = plan.experiment_ids.get(d.experiment_id, d.experiment_id)
            key = (target_experiment, d.name, d.digest)
            if target_experiment is not None and key in by_content:
                dataset_ids[d.dataset_id] = by_content[key]
                plan.datasets.unchanged += 1
                continue
            new_id = d.dataset_id
            if new_id in taken_ids:  # the id names another dataset there: a stable new one
                new_id = uuid.uuid5(_ID_NAMESPACE, f"dataset/{target_experiment}/{d.name}/{d.digest}").hex
            dataset_ids[d.dataset_id] = new_id
            taken_ids.add(new_id)
            plan.datasets.create.append(replace(d, dataset_id=new_id))
        run_ids = {r.run_id for r in self.catalog.runs}
        existing_links = {i.link for i in state.inputs}
        taken_inputs = {i.input_id for i in state.inputs}
        for i in self.catalog.inputs:
            owner = i.destination_id if i.destination_type == "RUN" else i.source_id
            if owner not in run_ids:
                continue
            source_id = (
                dataset_ids.get(i.source_id, i.source_id) if i.source_type == "DATASET" else i.source_id
            )
            if i.source_type == "DATASET" and i.source_id not in dataset_ids:
                continue  # a link to a dataset the source no longer has
            link = replace(i, source_id=source_id, tags=dict(i.tags))
            if link.link in existing_links:
                plan.inputs.unchanged += 1
                continue
            if link.input_id in taken_inputs:
                link.input_id = uuid.uuid5(_ID_NAMESPACE, "input/" + "/".join(link.link)).hex
            taken_inputs.add(link.input_id)
            existing_links.add(link.link)
            plan.inputs.create.append(link)

    # ---------------------------------------------------------------------------------- logged models
    def _logged_models(self) -> None:
        plan, state = self.plan, self.state
        for m in self.catalog.logged_models:
            target_experiment = plan.experiment_ids.get(m.experiment_id, m.experiment_id)
            existing = state.logged_models.get(m.model_id)
            if existing is None:
                plan.logged_models.create.append(m)
                continue
            problems = []
            if target_experiment is not None and existing.experiment_id != target_experiment:
                problems.append(f"is in experiment {existing.experiment_id} at the destination")
            if existing.name != m.name or existing.creation_timestamp != m.creation_timestamp:
                problems.append(
                    f"is {existing.name!r} created at {existing.creation_timestamp} at the destination, "
                    f"{m.name!r} created at {m.creation_timestamp} in the source"
                )
            for key, value in m.params.items():
                if key in existing.params and existing.params[key] != value:
                    problems.append(f"has param {key!r} = {_short(existing.params[key])} at the destination")
            if problems:
                self.conflict(f"logged model {m.model_id} " + "; ".join(problems))
                continue
            desired = replace(
                m, experiment_id=existing.experiment_id, artifact_location=existing.artifact_location
            )
            have_metrics = {_metric_key(p) for p in existing.metrics}
            same = (
                existing.status == desired.status
                and existing.status_message == desired.status_message
                and existing.last_updated_timestamp == desired.last_updated_timestamp
                and existing.lifecycle_stage == desired.lifecycle_stage
                and existing.model_type == desired.model_type
                and existing.source_run_id == desired.source_run_id
                and _subset(desired.tags, existing.tags)
                and _subset(desired.params, existing.params)
                and all(_metric_key(p) in have_metrics for p in desired.metrics)
            )
            if same:
                plan.logged_models.unchanged += 1
            else:
                plan.logged_models.update.append(desired)

    # --------------------------------------------------------------------------------------- registry
    def _registry(self) -> None:
        plan, state = self.plan, self.state
        for rm in self.catalog.registered_models:
            existing = state.registered_models.get(rm.name)
            if existing is None:
                plan.registered_models.create.append(rm)
                continue
            if existing.creation_time != rm.creation_time:
                self.conflict(
                    f"registered model {rm.name!r} was created at {rm.creation_time} in the source but at "
                    f"{existing.creation_time} at the destination (another model with the same name)"
                )
                continue
            same = (
                existing.description == rm.description
                and existing.last_updated_time == rm.last_updated_time
                and existing.next_version >= rm.next_version
                and _subset(rm.tags, existing.tags)
                and all(existing.aliases.get(a) == v for a, v in rm.aliases.items())
            )
            if same:
                plan.registered_models.unchanged += 1
            else:
                plan.registered_models.update.append(rm)
        conflicted = {c.split("'")[1] for c in plan.conflicts if c.startswith("registered model")}
        for mv in self.catalog.model_versions:
            if mv.name in conflicted:
                continue
            version_there = state.model_versions.get((mv.name, mv.version))
            if version_there is None:
                plan.model_versions.create.append(mv)
                continue
            if (version_there.creation_time, version_there.run_id) != (mv.creation_time, mv.run_id):
                self.conflict(
                    f"model version {mv.name!r} {mv.version} was created at {mv.creation_time} from run "
                    f"{mv.run_id} in the source but at {version_there.creation_time} from run {version_there.run_id} at "
                    "the destination"
                )
                continue
            same = (
                version_there.current_stage == mv.current_stage
                and version_there.description == mv.description
                and version_there.last_updated_time == mv.last_updated_time
                and version_there.status == mv.status
                and version_there.status_message == mv.status_message
                and version_there.run_link == mv.run_link
                and _subset(mv.tags, version_there.tags)
            )
            if same:
                plan.model_versions.unchanged += 1
            else:
                plan.model_versions.update.append(
                    replace(mv, source=version_there.source, storage_location=version_there.storage_location)
                )


def _metric_key(point: tuple[object, ...]) -> tuple[object, ...]:
    key, value, timestamp, step, run_id = point[:5]
    return (key, "nan" if isinstance(value, float) and math.isnan(value) else value, timestamp, step, run_id)


def _short(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:37] + "...")
