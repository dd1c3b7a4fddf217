"""The migration itself: read the source, compare, write what is missing or changed, copy artifacts, verify.

The order of writes makes an interrupted migration (even a SIGKILL) safe to run again: experiments, then runs
together with their metric points (one transaction per batch of runs on a database), then dataset links,
logged models, the registry and the artifacts. Every write is idempotent, and the next run compares again, so
it writes exactly what the first one did not get to: the result equals an uninterrupted migration.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from bakehouse.entities.transfer import (
    Catalog,
    LoggedModelRecord,
    MetricPoint,
    MetricSummary,
    ModelVersionRecord,
    RunRecord,
    TransferBatch,
)
from bakehouse.migrate import artifacts as art
from bakehouse.migrate.destinations.base import Destination
from bakehouse.migrate.errors import MigrationConflictError
from bakehouse.migrate.plan import Plan, Planner, state_query, summaries_match
from bakehouse.migrate.report import MigrationReport, checksum
from bakehouse.migrate.sources.base import Source
from bakehouse.store.tracking.sql.connection import append_to_uri
from bakehouse.store.transfer.state import DestinationState, StateQuery

logger = logging.getLogger(__name__)

#: progress task names
OBJECTS, POINTS, BYTES = "objects", "metric points", "bytes"
_UNKNOWN_COUNT = 1000  # a server source cannot count a history before reading it


class Progress(Protocol):
    """How a migration reports progress (the CLI draws rich bars; the library never prints)."""

    def stage(self, text: str) -> None: ...

    def start(self, task: str, total: int) -> None: ...

    def advance(self, task: str, amount: int = 1) -> None: ...


class SilentProgress:
    """No bars: stages go to the log."""

    def stage(self, text: str) -> None:
        logger.info("%s", text)

    def start(self, task: str, total: int) -> None:
        return None

    def advance(self, task: str, amount: int = 1) -> None:
        return None


@dataclass
class MigrationOptions:
    #: "copy" the artifacts into the destination's store, or "reference" them where they are
    artifacts: str = "copy"
    dry_run: bool = False
    #: "summary" (counts and bounds of every history), "points" (every point and artifact byte) or "none"
    verify: str = "summary"
    #: match experiments by name and let the destination choose ids (``bakehouse sync``)
    experiments_by_name: bool = False
    include_registry: bool = True
    #: metric points per write transaction
    batch_points: int = 250_000


@dataclass
class _Work:
    """Everything decided before the first write."""

    catalog: Catalog
    state: DestinationState
    plan: Plan
    source_summaries: dict[str, dict[str, MetricSummary]]
    #: run id -> keys whose history the destination lacks (all of them for a new run)
    needs_points: dict[str, set[str]]


class Migration:
    def __init__(
        self,
        source: Source,
        destination: Destination,
        options: MigrationOptions,
        progress: Progress | None = None,
    ) -> None:
        self.source = source
        self.destination = destination
        self.options = options
        self.progress: Progress = progress or SilentProgress()
        self.copy = options.artifacts == "copy"
        self.report = MigrationReport(
            source.description, destination.description, options.dry_run, options.artifacts
        )
        self.experiment_ids: dict[str, str] = {}
        self.locations: dict[str, str | None] = {}
        self.runs: dict[str, RunRecord] = {}
        self.models: dict[str, LoggedModelRecord] = {}
        self.versions: list[ModelVersionRecord] = []
        self.trees: list[art.ArtifactTree] = []
        self.catalog = Catalog()

    # ----------------------------------------------------------------------------------------- driver
    def run(self) -> MigrationReport:
        started = time.monotonic()
        work = self._prepare()
        self.catalog = work.catalog
        self._count(work)
        if work.plan.conflicts:
            self.report.conflicts = list(work.plan.conflicts)
            raise MigrationConflictError(work.plan.conflicts)
        self._resolve_targets(work, dry=self.options.dry_run)
        if self.copy:
            self._scan_artifacts()
        if not self.options.dry_run:
            self._write(work)
            if self.options.verify != "none":
                self._verify(work)
        self.report.seconds = time.monotonic() - started
        return self.report

    # ---------------------------------------------------------------------------------------- prepare
    def _prepare(self) -> _Work:
        progress = self.progress
        progress.stage(f"Reading {self.source.description}")
        catalog = self.source.catalog()
        if not self.options.include_registry:
            catalog.registered_models, catalog.model_versions = [], []
        progress.stage(f"Comparing with {self.destination.description}")
        state = self.destination.state(state_query(catalog))
        plan = Planner(catalog, state, not self.options.experiments_by_name, self.copy).build()
        progress.stage("Counting metric points")
        run_ids = [r.run_id for r in catalog.runs]
        summaries = self.source.metric_summaries(run_ids)
        needs: dict[str, set[str]] = {}
        for run_id in run_ids:
            have = state.metric_summaries.get(run_id, {})
            keys = {
                k
                for k, summary in summaries.get(run_id, {}).items()
                if not summaries_match(summary, have.get(k))
            }
            if keys:
                needs[run_id] = keys
        return _Work(catalog, state, plan, summaries, needs)

    def _count(self, work: _Work) -> None:
        kinds, plan, catalog = self.report.kinds, work.plan, work.catalog
        for name, changes, total in (
            ("experiments", plan.experiments, len(catalog.experiments)),
            ("runs", plan.runs, len(catalog.runs)),
            ("datasets", plan.datasets, len(catalog.datasets)),
            ("inputs", plan.inputs, len(catalog.inputs)),
            ("logged_models", plan.logged_models, len(catalog.logged_models)),
            ("registered_models", plan.registered_models, len(catalog.registered_models)),
            ("model_versions", plan.model_versions, len(catalog.model_versions)),
        ):
            kinds[name].source = total
            kinds[name].created = len(changes.create)
            kinds[name].updated = len(changes.update)
            kinds[name].unchanged = changes.unchanged
        kinds["experiments"].created += len(plan.new_named_experiments)
        histories = sum(len(keys) for keys in work.source_summaries.values())
        copied = sum(len(keys) for keys in work.needs_points.values())
        fresh = sum(
            1
            for run_id, keys in work.needs_points.items()
            for k in keys
            if k not in work.state.metric_summaries.get(run_id, {})
        )
        kinds["metrics"].source = histories
        kinds["metrics"].created = fresh
        kinds["metrics"].updated = copied - fresh
        kinds["metrics"].unchanged = histories - copied

    # ---------------------------------------------------------------------------- destination targets
    def _resolve_targets(self, work: _Work, dry: bool) -> None:
        """The destination's experiment ids and artifact locations for everything (new experiments of a
        sync get their ids when created, so a dry run shows them as "new")."""
        plan, state = work.plan, work.state
        self.locations.update(plan.experiment_locations)
        for source_id, target in plan.experiment_ids.items():
            if target is not None:
                self.experiment_ids[source_id] = target
        for e in plan.experiments.create:
            self.locations[e.experiment_id] = (
                self.destination.experiment_location(e.experiment_id) if self.copy else e.artifact_location
            )
        if not dry:
            self._create_named_experiments(plan)
        for r in work.catalog.runs:
            existing = state.runs.get(r.run_id)
            if existing is not None:
                self.runs[r.run_id] = replace(
                    r, experiment_id=existing.experiment_id, artifact_uri=existing.artifact_uri
                )
                continue
            experiment = self.experiment_ids.get(r.experiment_id, "new")
            uri = r.artifact_uri
            if self.copy:
                uri = append_to_uri(self._location(experiment), r.run_id, "artifacts")
            self.runs[r.run_id] = replace(r, experiment_id=experiment, artifact_uri=uri)
        for m in work.catalog.logged_models:
            existing_model = state.logged_models.get(m.model_id)
            if existing_model is not None:
                self.models[m.model_id] = replace(
                    m,
                    experiment_id=existing_model.experiment_id,
                    artifact_location=existing_model.artifact_location,
                )
                continue
            experiment = self.experiment_ids.get(m.experiment_id, "new")
            location = m.artifact_location
            if self.copy:
                location = append_to_uri(self._location(experiment), "models", m.model_id, "artifacts")
            self.models[m.model_id] = replace(m, experiment_id=experiment, artifact_location=location)
        moved = self._moved_locations(work)
        for v in work.catalog.model_versions:
            existing_version = state.model_versions.get((v.name, v.version))
            if existing_version is not None:
                self.versions.append(
                    replace(
                        v, source=existing_version.source, storage_location=existing_version.storage_location
                    )
                )
            else:
                self.versions.append(
                    replace(
                        v,
                        source=_relocate(v.source, moved),
                        storage_location=_relocate(v.storage_location, moved),
                    )
                )

    def _location(self, experiment_id: str) -> str:
        location = self.locations.get(experiment_id)
        return location if location else self.destination.experiment_location(experiment_id)

    def _create_named_experiments(self, plan: Plan) -> None:
        for e in plan.new_named_experiments:
            record = replace(
                e, artifact_location=None if self.copy else e.artifact_location, tags=dict(e.tags)
            )
            new_id = self.destination.write(TransferBatch(new_experiments=[record]))[0]
            self.experiment_ids[e.experiment_id] = new_id
            self.locations[new_id] = None if self.copy else e.artifact_location

    def _moved_locations(self, work: _Work) -> dict[str, str]:
        """source artifact location -> destination one, for model versions whose source names a path."""
        moved: dict[str, str] = {}
        if not self.copy:
            return moved
        for r in work.catalog.runs:
            target = self.runs[r.run_id].artifact_uri
            if r.artifact_uri and target and r.artifact_uri != target:
                moved[r.artifact_uri] = target
        for m in work.catalog.logged_models:
            target = self.models[m.model_id].artifact_location
            if m.artifact_location and target != m.artifact_location:
                moved[m.artifact_location] = target
        return moved

    def _scan_artifacts(self) -> None:
        self.progress.stage("Listing artifacts")
        pairs: list[tuple[str, str | None, str | None]] = [
            (f"run {r.run_id}", r.artifact_uri, self.runs[r.run_id].artifact_uri) for r in self.catalog.runs
        ]
        pairs += [
            (f"logged model {m.model_id}", m.artifact_location, self.models[m.model_id].artifact_location)
            for m in self.catalog.logged_models
        ]
        for owner, source_uri, target_uri in pairs:
            if not source_uri or not target_uri or art.same_place(source_uri, target_uri):
                continue
            self.trees.append(
                art.scan(
                    owner,
                    self.source.artifact_repository(source_uri),
                    self.destination.artifact_repository(target_uri),
                )
            )
        kind = self.report.kinds["artifacts"]
        kind.source = sum(len(t.files) for t in self.trees)
        kind.created = sum(len(t.missing) for t in self.trees)
        kind.unchanged = kind.source - kind.created

    # ------------------------------------------------------------------------------------------ write
    def _write(self, work: _Work) -> None:
        plan, progress = work.plan, self.progress
        objects = (
            len(plan.experiments.create)
            + len(plan.experiments.update)
            + len(
                {
                    *(r.run_id for r in plan.runs.create),
                    *(r.run_id for r in plan.runs.update),
                    *work.needs_points,
                }
            )
            + len(plan.datasets.create)
            + len(plan.inputs.create)
            + len(plan.logged_models.create)
            + len(plan.logged_models.update)
            + len(plan.registered_models.create)
            + len(plan.registered_models.update)
            + len(plan.model_versions.create)
            + len(plan.model_versions.update)
        )
        progress.start(OBJECTS, objects)
        progress.stage("Writing experiments")
        experiments = [
            replace(e, artifact_location=self.locations.get(e.experiment_id)) for e in plan.experiments.create
        ]
        experiments += plan.experiments.update
        if experiments:
            self.destination.write(TransferBatch(experiments=experiments))
            progress.advance(OBJECTS, len(experiments))
        progress.stage("Writing runs and metric histories")
        self._write_runs(work)
        progress.stage("Writing datasets and inputs")
        datasets = [
            replace(d, experiment_id=self.experiment_ids.get(d.experiment_id, d.experiment_id))
            for d in plan.datasets.create
        ]
        if datasets or plan.inputs.create:
            self.destination.write(TransferBatch(datasets=datasets, inputs=plan.inputs.create))
            progress.advance(OBJECTS, len(datasets) + len(plan.inputs.create))
        models = [self.models[m.model_id] for m in (*plan.logged_models.create, *plan.logged_models.update)]
        if models:
            progress.stage("Writing logged models")
            self.destination.write(TransferBatch(logged_models=models))
            progress.advance(OBJECTS, len(models))
        changed_versions = {
            (v.name, v.version) for v in (*plan.model_versions.create, *plan.model_versions.update)
        }
        versions = [v for v in self.versions if (v.name, v.version) in changed_versions]
        registered = [*plan.registered_models.create, *plan.registered_models.update]
        if registered or versions:
            progress.stage("Writing the model registry")
            self.destination.write(TransferBatch(registered_models=registered, model_versions=versions))
            progress.advance(OBJECTS, len(registered) + len(versions))
        if self.trees:
            self._copy_artifacts()

    def _write_runs(self, work: _Work) -> None:
        plan = work.plan
        changed = {r.run_id for r in (*plan.runs.create, *plan.runs.update)}
        order = [r.run_id for r in work.catalog.runs if r.run_id in changed or r.run_id in work.needs_points]
        total_points = sum(
            (work.source_summaries[run_id][key].count or _UNKNOWN_COUNT)
            for run_id, keys in work.needs_points.items()
            for key in keys
        )
        self.progress.start(POINTS, total_points)
        batch: list[str] = []
        weight = 0
        for run_id in order:
            batch.append(run_id)
            weight += (
                sum(
                    work.source_summaries[run_id][key].count or _UNKNOWN_COUNT
                    for key in work.needs_points.get(run_id, ())
                )
                + 1
            )
            if (
                weight >= min(self.options.batch_points, self.destination.max_batch_points)
                or len(batch) >= 500
            ):
                self._write_run_batch(batch, changed, work.needs_points)
                batch, weight = [], 0
        if batch:
            self._write_run_batch(batch, changed, work.needs_points)

    def _write_run_batch(self, run_ids: Sequence[str], changed: set[str], needs: dict[str, set[str]]) -> None:
        records = [self.runs[run_id] for run_id in run_ids if run_id in changed]
        wanted = [run_id for run_id in run_ids if run_id in needs]
        points: dict[str, list[MetricPoint]] = {}
        if wanted:
            for run_id, run_points in self.source.metric_points(wanted):
                keys = needs[run_id]
                points[run_id] = (
                    run_points
                    if len(keys) == len({p[0] for p in run_points})
                    else [p for p in run_points if p[0] in keys]
                )
        self.destination.write(TransferBatch(runs=records, metrics=points))
        written = sum(len(p) for p in points.values())
        self.report.metric_points_written += written
        self.progress.advance(POINTS, written)
        self.progress.advance(OBJECTS, len(run_ids))

    def _copy_artifacts(self) -> None:
        kind = self.report.kinds["artifacts"]
        self.progress.stage(f"Copying {kind.created} artifact files")
        self.progress.start(BYTES, sum(t.files[p] for t in self.trees for p in t.missing))
        files, size = art.copy_missing(self.trees, lambda n: self.progress.advance(BYTES, n))
        self.report.artifact_files_copied = files
        self.report.artifact_bytes_copied = size

    # ----------------------------------------------------------------------------------------- verify
    def _verify(self, work: _Work) -> None:
        self.progress.stage("Verifying the destination")
        catalog = work.catalog
        query = StateQuery(
            experiment_ids=[self.experiment_ids[e.experiment_id] for e in catalog.experiments],
            experiment_names=[e.name for e in catalog.experiments],
            run_ids=[r.run_id for r in catalog.runs],
            logged_model_ids=[m.model_id for m in catalog.logged_models],
            registered_model_names=[m.name for m in catalog.registered_models],
        )
        after = self.destination.state(query)
        kinds = self.report.kinds
        by_name = self.options.experiments_by_name

        def experiment_view(e: Any, dest_id: str, keys: Iterable[str]) -> Any:
            if by_name:
                return [dest_id, e.name]
            tags = {k: e.tags.get(k) for k in keys}
            return [
                dest_id,
                e.name,
                e.lifecycle_stage,
                e.creation_time,
                e.last_update_time,
                e.deleted_time,
                tags,
            ]

        expected, found = [], []
        for e in catalog.experiments:
            dest_id = self.experiment_ids[e.experiment_id]
            expected.append(experiment_view(e, dest_id, e.tags))
            there = after.experiments.get(dest_id)
            found.append(experiment_view(there, dest_id, e.tags) if there else None)
        kinds["experiments"].expected, kinds["experiments"].found = checksum(expected), checksum(found)

        expected, found = [], []
        for r in catalog.runs:
            want = self.runs[r.run_id]
            expected.append(_run_view(want, want))
            there_run = after.runs.get(r.run_id)
            found.append(_run_view(there_run, want) if there_run else None)
        kinds["runs"].expected, kinds["runs"].found = checksum(expected), checksum(found)

        self._verify_metrics(work, after)
        self._verify_links(work, after)

        expected, found = [], []
        for m in catalog.logged_models:
            want_model = self.models[m.model_id]
            expected.append(_model_view(want_model, want_model))
            there_model = after.logged_models.get(m.model_id)
            found.append(_model_view(there_model, want_model) if there_model else None)
        kinds["logged_models"].expected, kinds["logged_models"].found = checksum(expected), checksum(found)

        expected, found = [], []
        for rm in catalog.registered_models:
            expected.append(_registered_view(rm, rm))
            there_rm = after.registered_models.get(rm.name)
            found.append(_registered_view(there_rm, rm) if there_rm else None)
        kinds["registered_models"].expected, kinds["registered_models"].found = (
            checksum(expected),
            checksum(found),
        )

        expected, found = [], []
        for v in self.versions:
            expected.append(_version_view(v, v))
            there_v = after.model_versions.get((v.name, v.version))
            found.append(_version_view(there_v, v) if there_v else None)
        kinds["model_versions"].expected, kinds["model_versions"].found = checksum(expected), checksum(found)

        if self.trees or self.copy:
            expected_files, found_files = [], []
            for tree in self.trees:
                present = art.list_files(tree.destination)
                for path, size in tree.files.items():
                    expected_files.append([tree.owner, path, size])
                    found_files.append([tree.owner, path, present.get(path)])
                if self.options.verify == "points" and tree.files:
                    expected_files.append([tree.owner, art.content_digest(tree.source, tree.files)])
                    found_files.append([tree.owner, art.content_digest(tree.destination, tree.files)])
            kinds["artifacts"].expected, kinds["artifacts"].found = (
                checksum(expected_files),
                checksum(found_files),
            )

    def _verify_metrics(self, work: _Work, after: DestinationState) -> None:
        kind = self.report.kinds["metrics"]
        expected: list[Any] = []
        found: list[Any] = []
        if self.options.verify == "points":
            run_ids = [r.run_id for r in work.catalog.runs]
            theirs = self.destination.metric_points(run_ids)
            for run_id, points in self.source.metric_points(run_ids):
                keys = {p[0] for p in points}
                expected.append([run_id, sorted({(p[0], p[2], p[3], _num(p[1])) for p in points}, key=repr)])
                mine = [p for p in theirs.get(run_id, []) if p[0] in keys]
                found.append([run_id, sorted({(p[0], p[2], p[3], _num(p[1])) for p in mine}, key=repr)])
            kind.expected, kind.found = checksum(expected), checksum(found)
            return
        for run_id, histories in work.source_summaries.items():
            have = after.metric_summaries.get(run_id, {})
            for key, summary in histories.items():
                expected.append(_summary_view(run_id, key, summary, summary))
                there = have.get(key)
                found.append(_summary_view(run_id, key, there, summary) if there else None)
        kind.expected, kind.found = checksum(expected), checksum(found)

    def _verify_links(self, work: _Work, after: DestinationState) -> None:
        kinds = self.report.kinds
        by_content = {(d.experiment_id, d.name, d.digest): d for d in after.datasets}
        expected: list[Any] = []
        found: list[Any] = []
        for d in work.catalog.datasets:
            experiment = self.experiment_ids.get(d.experiment_id, d.experiment_id)
            view = [experiment, d.name, d.digest, d.source_type, d.source, d.schema, d.profile]
            expected.append(view)
            there = by_content.get((experiment, d.name, d.digest))
            found.append(
                [
                    experiment,
                    there.name,
                    there.digest,
                    there.source_type,
                    there.source,
                    there.schema,
                    there.profile,
                ]
                if there
                else None
            )
        kinds["datasets"].expected, kinds["datasets"].found = checksum(expected), checksum(found)
        dataset_names = {d.dataset_id: (d.name, d.digest) for d in work.catalog.datasets}
        dest_names = {d.dataset_id: (d.name, d.digest) for d in after.datasets}
        present: dict[tuple[Any, ...], Any] = {}
        for i in after.inputs:
            source = dest_names.get(i.source_id, i.source_id) if i.source_type == "DATASET" else i.source_id
            present[(i.source_type, source, i.destination_type, i.destination_id)] = i
        expected, found = [], []
        run_ids = set(self.runs)
        for i in work.catalog.inputs:
            owner = i.destination_id if i.destination_type == "RUN" else i.source_id
            if owner not in run_ids or (i.source_type == "DATASET" and i.source_id not in dataset_names):
                continue
            source = (
                dataset_names.get(i.source_id, i.source_id) if i.source_type == "DATASET" else i.source_id
            )
            key = (i.source_type, source, i.destination_type, i.destination_id)
            expected.append([*map(str, key), i.step, i.tags])
            there = present.get(key)
            found.append(
                [*map(str, key), there.step, {k: there.tags.get(k) for k in i.tags}] if there else None
            )
        kinds["inputs"].expected, kinds["inputs"].found = checksum(expected), checksum(found)


def _num(value: float) -> Any:
    return "NaN" if math.isnan(value) else value


def _run_view(run: RunRecord, want: RunRecord) -> list[Any]:
    return [
        run.run_id,
        run.experiment_id,
        run.name,
        run.user_id,
        run.status,
        run.start_time,
        run.end_time,
        run.lifecycle_stage,
        run.deleted_time,
        run.artifact_uri,
        {k: run.params.get(k) for k in want.params},
        {k: run.tags.get(k) for k in want.tags},
    ]


def _model_view(model: LoggedModelRecord, want: LoggedModelRecord) -> list[Any]:
    wanted_points = {(p[0], p[2], p[3], p[4]) for p in want.metrics}
    return [
        model.model_id,
        model.experiment_id,
        model.name,
        model.artifact_location,
        model.creation_timestamp,
        model.last_updated_timestamp,
        model.status,
        model.lifecycle_stage,
        model.model_type,
        model.source_run_id,
        model.status_message,
        {k: model.tags.get(k) for k in want.tags},
        {k: model.params.get(k) for k in want.params},
        sorted(
            [p[0], _num(p[1]), p[2], p[3], p[4]]
            for p in model.metrics
            if (p[0], p[2], p[3], p[4]) in wanted_points
        ),
    ]


def _registered_view(model: Any, want: Any) -> list[Any]:
    return [
        model.name,
        model.creation_time,
        model.last_updated_time,
        model.description,
        {k: model.tags.get(k) for k in want.tags},
        {a: model.aliases.get(a) for a in want.aliases},
    ]


def _version_view(version: ModelVersionRecord, want: ModelVersionRecord) -> list[Any]:
    return [
        version.name,
        version.version,
        version.creation_time,
        version.last_updated_time,
        version.current_stage,
        version.description,
        version.user_id,
        version.source,
        version.storage_location,
        version.run_id,
        version.run_link,
        version.status,
        version.status_message,
        {k: version.tags.get(k) for k in want.tags},
    ]


def _summary_view(run_id: str, key: str, summary: MetricSummary, want: MetricSummary) -> list[Any]:
    if want.count is None:
        latest = summary.latest
        return [run_id, key, None if latest is None else [latest[0], latest[1], _num(latest[2])]]
    return [
        run_id,
        key,
        summary.count,
        summary.min_timestamp,
        summary.max_timestamp,
        summary.min_step,
        summary.max_step,
    ]


def _relocate(uri: str | None, moved: dict[str, str]) -> str | None:
    """A model version's source or storage location, moved along with the artifacts it names."""
    if not uri:
        return uri
    for prefix in (uri, uri.removeprefix("file://")):
        for old, new in moved.items():
            bare = old.removeprefix("file://")
            if prefix == bare or prefix.startswith(bare.rstrip("/") + "/"):
                return new + prefix[len(bare) :]
    return uri


def migrate(
    source: Source,
    destination: Destination,
    options: MigrationOptions | None = None,
    progress: Progress | None = None,
) -> MigrationReport:
    """Copy everything from ``source`` into ``destination`` (see the module docstring)."""
    migration = Migration(source, destination, options or MigrationOptions(), progress)
    return migration.run()
