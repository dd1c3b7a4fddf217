"""Leaving: copy a Bakehouse (or any) store into a running MLflow server through MLflow's own REST API.

MLflow's API chooses the ids of new experiments, runs and logged models, so these get new ids there; each run
and logged model carries the tag ``bakehouse.source_id`` with its original id, which is also how a repeated
export finds what it already copied (nothing is created twice; missing points, tags and files are added).
References between objects follow the new ids: a child run's ``mlflow.parentRunId``, a logged model's source
run, a model version's run and source URI. Registry version numbers are kept: a number the source skipped
(a deleted version) is taken by a placeholder version that is deleted at once, as MLflow never reuses one.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Sequence
from typing import Any

from bakehouse.entities import Metric, Param, RunTag, ViewType
from bakehouse.entities.run import DatasetInput, ModelOutput
from bakehouse.entities.transfer import Catalog, LoggedModelRecord, MetricPoint, RunRecord
from bakehouse.errors import AlreadyExistsError, BakehouseError, NotFoundError
from bakehouse.migrate import artifacts as art
from bakehouse.migrate.engine import BYTES, OBJECTS, POINTS, MigrationOptions, Progress, SilentProgress
from bakehouse.migrate.report import MigrationReport, checksum
from bakehouse.migrate.sources.base import Source
from bakehouse.store.artifacts import ArtifactRepository, get_artifact_repository
from bakehouse.store.registry.rest import RestRegistryStore
from bakehouse.store.tracking.rest import RestTrackingStore
from bakehouse.wire.transport import HttpTransport

logger = logging.getLogger(__name__)

SOURCE_ID_TAG = "bakehouse.source_id"
PARENT_TAG = "mlflow.parentRunId"
_BATCH_METRICS, _BATCH_PARAMS, _BATCH_TAGS = 1000, 100, 100
_RUN_ID_IN_URI = re.compile(r"^runs:/([0-9a-fA-F]{32})(/.*)?$")
_MODEL_ID_IN_URI = re.compile(r"^models:/(m-[0-9a-fA-F]+)(/.*)?$")


class MlflowServerDestination:
    """An MLflow tracking server, spoken to with MLflow's REST API only."""

    def __init__(self, url: str, description: str) -> None:
        self.url = url.rstrip("/")
        self.description = description
        self.transport = HttpTransport(self.url)
        self.tracking = RestTrackingStore(self.transport)
        self.registry = RestRegistryStore.from_uri(self.url)

    def artifact_repository(self, artifact_uri: str) -> ArtifactRepository:
        return get_artifact_repository(artifact_uri, tracking_uri=self.url)

    def close(self) -> None:
        self.transport.close()


class MlflowExport:
    def __init__(
        self,
        source: Source,
        destination: MlflowServerDestination,
        options: MigrationOptions,
        progress: Progress | None = None,
    ) -> None:
        self.source = source
        self.dest = destination
        self.options = options
        self.progress: Progress = progress or SilentProgress()
        self.report = MigrationReport(
            source.description, destination.description, options.dry_run, options.artifacts
        )
        self.experiment_ids: dict[str, str] = {}
        self.run_ids: dict[str, str] = {}
        self.model_ids: dict[str, str] = {}
        self.run_uris: dict[str, str] = {}
        self.existing_runs: dict[str, Any] = {}

    # ------------------------------------------------------------------------------------------ driver
    def run(self) -> MigrationReport:
        started = time.monotonic()
        self.progress.stage(f"Reading {self.source.description}")
        catalog = self.source.catalog()
        if not self.options.include_registry:
            catalog.registered_models, catalog.model_versions = [], []
        for name, items in (
            ("experiments", catalog.experiments),
            ("runs", catalog.runs),
            ("datasets", catalog.datasets),
            ("inputs", catalog.inputs),
            ("logged_models", catalog.logged_models),
            ("registered_models", catalog.registered_models),
            ("model_versions", catalog.model_versions),
        ):
            self.report.kinds[name].source = len(items)
        if self.options.dry_run:
            self._dry_run(catalog)
        else:
            self.progress.start(
                OBJECTS,
                len(catalog.experiments)
                + len(catalog.runs)
                + len(catalog.logged_models)
                + len(catalog.registered_models)
                + len(catalog.model_versions),
            )
            self._experiments(catalog)
            self._runs(catalog)
            self._logged_models(catalog)
            self._inputs(catalog)
            self._registry(catalog)
            self._lifecycle(catalog)
            if self.options.artifacts == "copy":
                self._artifacts(catalog)
            if self.options.verify != "none":
                self._verify(catalog)
        self.report.seconds = time.monotonic() - started
        return self.report

    def _dry_run(self, catalog: Catalog) -> None:
        kinds = self.report.kinds
        for e in catalog.experiments:
            found = self.dest.tracking.get_experiment_by_name(e.name)
            kinds["experiments"].created += found is None
            kinds["experiments"].unchanged += found is not None
        existing = self._existing_runs(
            [self.dest.tracking.get_experiment_by_name(e.name) for e in catalog.experiments]
        )
        for r in catalog.runs:
            kinds["runs"].created += r.run_id not in existing
            kinds["runs"].unchanged += r.run_id in existing

    # ------------------------------------------------------------------------------------- experiments
    def _experiments(self, catalog: Catalog) -> None:
        self.progress.stage("Writing experiments")
        kind = self.report.kinds["experiments"]
        for e in catalog.experiments:
            found = self.dest.tracking.get_experiment_by_name(e.name)
            if found is None:
                location = e.artifact_location if self.options.artifacts == "reference" else None
                try:
                    new_id = self.dest.tracking.create_experiment(e.name, location, e.tags)
                except AlreadyExistsError:  # a deleted experiment keeps its name reserved
                    found = self.dest.tracking.get_experiment_by_name(e.name)
                    if found is None:
                        raise
                    new_id = found.experiment_id
                else:
                    kind.created += 1
                    self.experiment_ids[e.experiment_id] = new_id
                    self.progress.advance(OBJECTS)
                    continue
            assert found is not None
            self.experiment_ids[e.experiment_id] = found.experiment_id
            if found.lifecycle_stage == "deleted":
                self.dest.tracking.restore_experiment(
                    found.experiment_id
                )  # runs can only be written while active
            missing = {k: v for k, v in e.tags.items() if found.tags.get(k) != v}
            for key, value in missing.items():
                self.dest.tracking.set_experiment_tag(found.experiment_id, key, value)
            if missing:
                kind.updated += 1
            else:
                kind.unchanged += 1
            self.progress.advance(OBJECTS)

    # -------------------------------------------------------------------------------------------- runs
    def _existing_runs(self, experiments: Sequence[Any]) -> dict[str, Any]:
        """source run id -> the run already copied (found by its ``bakehouse.source_id`` tag)."""
        ids = [e.experiment_id for e in experiments if e is not None]
        found: dict[str, Any] = {}
        for start in range(0, len(ids), 100):
            token = None
            while True:
                page = self.dest.tracking.search_runs(
                    ids[start : start + 100], run_view_type=ViewType.ALL, max_results=1000, page_token=token
                )
                for run in page:
                    origin = run.data.tags.get(SOURCE_ID_TAG)
                    if origin:
                        found[origin] = run
                token = page.token
                if not token:
                    break
        return found

    def _runs(self, catalog: Catalog) -> None:
        self.progress.stage("Writing runs")
        tracking = self.dest.tracking
        self.existing_runs = self._existing_runs(
            [tracking.get_experiment(i) for i in sorted(set(self.experiment_ids.values()))]
        )
        kind = self.report.kinds["runs"]
        for r in catalog.runs:
            there = self.existing_runs.get(r.run_id)
            if there is None:
                created = tracking.create_run(
                    self.experiment_ids[r.experiment_id],
                    user_id=r.user_id,
                    start_time=r.start_time,
                    tags=[RunTag(SOURCE_ID_TAG, r.run_id)],  # the rest follows in batches
                    run_name=r.name,
                )
                self.run_ids[r.run_id] = created.info.run_id
                self.run_uris[r.run_id] = created.info.artifact_uri
                kind.created += 1
            else:
                self.run_ids[r.run_id] = there.info.run_id
                self.run_uris[r.run_id] = there.info.artifact_uri
        self.progress.stage("Writing params, tags and metric histories")
        summaries = self.source.metric_summaries([r.run_id for r in catalog.runs])
        todo = {r.run_id: self._missing_keys(r, summaries.get(r.run_id, {})) for r in catalog.runs}
        histories = self.report.kinds["metrics"]
        for r in catalog.runs:
            there = self.existing_runs.get(r.run_id)
            had = {m.key for m in there.data.metric_points} if there is not None else set()
            keys = summaries.get(r.run_id, {})
            histories.source += len(keys)
            histories.created += len(todo[r.run_id] - had)
            histories.updated += len(todo[r.run_id] & had)
            histories.unchanged += len(keys) - len(todo[r.run_id])
        self.progress.start(
            POINTS, sum((summaries[run_id][k].count or 1000) for run_id, keys in todo.items() for k in keys)
        )
        wanted = [run_id for run_id, keys in todo.items() if keys]
        points: dict[str, list[MetricPoint]] = {}
        for start in range(0, len(wanted), 16):
            points.update(dict(self.source.metric_points(wanted[start : start + 16])))
        for r in catalog.runs:
            changed = self._fill_run(r, points.get(r.run_id, []), todo[r.run_id])
            if r.run_id in self.existing_runs:
                if changed:
                    kind.updated += 1
                else:
                    kind.unchanged += 1
            self.progress.advance(OBJECTS)

    def _missing_keys(self, r: RunRecord, summaries: dict[str, Any]) -> set[str]:
        """Keys whose latest point is not there yet (points go latest-last, so a present latest = complete)."""
        there = self.existing_runs.get(r.run_id)
        have = {m.key: m for m in there.data.metric_points} if there is not None else {}
        missing = set()
        for key, summary in summaries.items():
            mine = have.get(key)
            latest = summary.latest
            if mine is None or latest is None:
                missing.add(key)
                continue
            if (int(mine.step), int(mine.timestamp)) != latest[:2] or _num(mine.value) != _num(latest[2]):
                missing.add(key)
        return missing

    def _fill_run(self, r: RunRecord, points: list[MetricPoint], keys: set[str]) -> bool:
        tracking = self.dest.tracking
        run_id = self.run_ids[r.run_id]
        there = self.existing_runs.get(r.run_id)
        have_params = dict(there.data.params) if there is not None else {}
        have_tags = dict(there.data.tags) if there is not None else {}
        tags = dict(r.tags)
        if PARENT_TAG in tags:
            tags[PARENT_TAG] = self.run_ids.get(tags[PARENT_TAG], tags[PARENT_TAG])
        params = [Param(k, v) for k, v in r.params.items() if k not in have_params]
        tag_list = [RunTag(k, v) for k, v in tags.items() if have_tags.get(k) != v]
        for start in range(0, max(len(params), len(tag_list)), _BATCH_PARAMS):
            tracking.log_batch(
                run_id,
                params=params[start : start + _BATCH_PARAMS],
                tags=tag_list[start : start + _BATCH_TAGS],
            )
        selected = [p for p in points if p[0] in keys]
        selected.sort(key=lambda p: (p[0], p[3], p[2], -math.inf if math.isnan(p[1]) else p[1]))
        for start in range(0, len(selected), _BATCH_METRICS):
            chunk = selected[start : start + _BATCH_METRICS]
            tracking.log_batch(run_id, metrics=[Metric(k, v, t, s) for k, v, t, s in chunk])
            self.progress.advance(POINTS, len(chunk))
        self.report.metric_points_written += len(selected)
        changed = bool(params or tag_list or selected)
        info = there.info if there is not None else None
        if info is None or info.status != r.status or info.end_time != r.end_time:
            tracking.update_run_info(
                run_id, run_status=r.status, end_time=r.end_time, run_name=r.name or None
            )
            changed = True
        return changed

    # ----------------------------------------------------------------------------------- logged models
    def _logged_models(self, catalog: Catalog) -> None:
        if not catalog.logged_models:
            return
        self.progress.stage("Writing logged models")
        tracking = self.dest.tracking
        kind = self.report.kinds["logged_models"]
        existing: dict[str, Any] = {}
        ids = sorted(set(self.experiment_ids.values()))
        token = None
        while True:
            page = tracking.search_logged_models(ids, max_results=100, page_token=token)
            for found in page:
                if found.tags.get(SOURCE_ID_TAG):
                    existing[found.tags[SOURCE_ID_TAG]] = found
            token = page.token
            if not token:
                break
        for m in catalog.logged_models:
            there = existing.get(m.model_id)
            if there is None:
                created = tracking.create_logged_model(
                    self.experiment_ids[m.experiment_id],
                    name=m.name,
                    source_run_id=self.run_ids.get(m.source_run_id or "") or None,
                    tags={**m.tags, SOURCE_ID_TAG: m.model_id},
                    params=m.params or None,
                    model_type=m.model_type,
                )
                self.model_ids[m.model_id] = created.model_id
                self._model_metrics(m, created.model_id, set())
                kind.created += 1
            else:
                self.model_ids[m.model_id] = there.model_id
                have = {(x.key, x.timestamp, x.step) for x in there.metrics}
                missing_tags = {k: v for k, v in m.tags.items() if there.tags.get(k) != v}
                if missing_tags:
                    tracking.set_logged_model_tags(there.model_id, missing_tags)
                written = self._model_metrics(m, there.model_id, have)
                changed = bool(missing_tags or written)
                kind.updated += changed
                kind.unchanged += not changed
            self.progress.advance(OBJECTS)

    def _model_metrics(self, m: LoggedModelRecord, model_id: str, have: set[tuple[str, int, int]]) -> int:
        """A logged model's metrics go in through a run's log-batch (MLflow has no other way)."""
        by_run: dict[str, list[Metric]] = {}
        for key, value, timestamp, step, run_id, dataset_name, dataset_digest in m.metrics:
            target = self.run_ids.get(run_id)
            if target is None or (key, timestamp, step) in have:
                continue
            by_run.setdefault(target, []).append(
                Metric(
                    key,
                    value,
                    timestamp,
                    step,
                    dataset_name=dataset_name,
                    dataset_digest=dataset_digest,
                    model_id=model_id,
                )
            )
        for run_id, metrics in by_run.items():
            for start in range(0, len(metrics), _BATCH_METRICS):
                self.dest.tracking.log_batch(run_id, metrics=metrics[start : start + _BATCH_METRICS])
        return sum(len(v) for v in by_run.values())

    # ------------------------------------------------------------------------------------------ inputs
    def _inputs(self, catalog: Catalog) -> None:
        datasets = {d.dataset_id: d for d in catalog.datasets}
        tracking = self.dest.tracking
        kind = self.report.kinds["inputs"]
        sent: set[str] = set()
        for i in catalog.inputs:
            if i.source_type == "DATASET" and i.destination_id in self.run_ids and i.source_id in datasets:
                d = datasets[i.source_id]
                run_id = self.run_ids[i.destination_id]
                there = self.existing_runs.get(i.destination_id)
                have = (
                    {(x.name, x.digest) for x in there.inputs.dataset_inputs} if there is not None else set()
                )
                if (d.name, d.digest) in have:
                    kind.unchanged += 1
                    continue
                tracking.log_inputs(
                    run_id,
                    datasets=[
                        DatasetInput(
                            d.name, d.digest, d.source_type, d.source, d.schema, d.profile, dict(i.tags)
                        )
                    ],
                )
                kind.created += 1
                sent.add(d.dataset_id)
            elif (
                i.source_type == "RUN_OUTPUT"
                and i.source_id in self.run_ids
                and i.destination_id in self.model_ids
            ):
                there = self.existing_runs.get(i.source_id)
                target = self.model_ids[i.destination_id]
                if there is not None and any(o.model_id == target for o in there.outputs.model_outputs):
                    kind.unchanged += 1
                    continue
                tracking.log_outputs(self.run_ids[i.source_id], [ModelOutput(target, i.step)])
                kind.created += 1
        self.report.kinds["datasets"].created = len(sent)
        self.report.kinds["datasets"].unchanged = len(catalog.datasets) - len(sent)

    # ---------------------------------------------------------------------------------------- registry
    def _map_source(self, uri: str | None) -> str | None:
        if not uri:
            return uri
        match = _RUN_ID_IN_URI.match(uri)
        if match and match.group(1) in self.run_ids:
            return f"runs:/{self.run_ids[match.group(1)]}{match.group(2) or ''}"
        match = _MODEL_ID_IN_URI.match(uri)
        if match and match.group(1) in self.model_ids:
            return f"models:/{self.model_ids[match.group(1)]}{match.group(2) or ''}"
        return uri

    def _registry(self, catalog: Catalog) -> None:
        if not catalog.registered_models:
            return
        self.progress.stage("Writing the model registry")
        registry = self.dest.registry
        models, versions = self.report.kinds["registered_models"], self.report.kinds["model_versions"]
        by_model: dict[str, dict[int, Any]] = {}
        for v in catalog.model_versions:
            by_model.setdefault(v.name, {})[v.version] = v
        for rm in catalog.registered_models:
            try:
                there = registry.get_registered_model(rm.name)
            except NotFoundError:
                there = registry.create_registered_model(rm.name, tags=rm.tags, description=rm.description)
                models.created += 1
            else:
                missing = {k: v for k, v in rm.tags.items() if there.tags.get(k) != v}
                for key, value in missing.items():
                    registry.set_registered_model_tag(rm.name, key, value)
                if (there.description or None) != rm.description:
                    registry.update_registered_model(rm.name, rm.description)
                models.updated += bool(missing)
                models.unchanged += not missing
            self.progress.advance(OBJECTS)
            present = {
                int(v.version): v
                for v in registry.search_model_versions(f"name = '{_quote(rm.name)}'", max_results=10000)
            }
            if rm.tags.get("mlflow.prompt.is_prompt") == "true":
                present.update(
                    {
                        int(v.version): v
                        for v in registry.search_model_versions(
                            f"name = '{_quote(rm.name)}' AND tags.`mlflow.prompt.is_prompt` = 'true'",
                            max_results=10000,
                        )
                    }
                )
            wanted = by_model.get(rm.name, {})
            top = max([*wanted, *present], default=0)
            for number in range(1, top + 1):
                record = wanted.get(number)
                if number in present:
                    if record is not None:
                        changed = self._update_version(rm.name, record, present[number])
                        versions.updated += changed
                        versions.unchanged += not changed
                    continue
                if max(present, default=0) > number:
                    continue  # a number already passed at the destination cannot be made again
                if record is None:
                    # a number the source skipped: taken and given back, with the model's first version's
                    # source (MLflow checks a source); a model with no version left keeps no gaps
                    stand_in = next(iter(sorted(wanted.items())), (0, None))[1]
                    if stand_in is not None:
                        placeholder = registry.create_model_version(rm.name, **self._version_args(stand_in))
                        registry.delete_model_version(rm.name, placeholder.version)
                    continue
                created = registry.create_model_version(
                    rm.name,
                    tags=record.tags,
                    run_link=record.run_link,
                    description=record.description,
                    **self._version_args(record),
                )
                if int(created.version) != number:
                    logger.warning("version %s of %s arrived as %s", number, rm.name, created.version)
                self._update_version(rm.name, record, created)
                versions.created += 1
                self.progress.advance(OBJECTS)
            for alias, number in rm.aliases.items():
                registry.set_registered_model_alias(rm.name, alias, str(number))

    def _version_args(self, record: Any) -> dict[str, Any]:
        """source, run_id and model_id of a version, in the destination's ids."""
        source = self._map_source(record.source) or ""
        model_id = self.model_ids.get(record.model_id or "")
        match = _MODEL_ID_IN_URI.match(source)
        if model_id is None and match and match.group(1) in self.model_ids.values():
            model_id = match.group(1)  # MLflow wants the model a models:/ source names
        return {
            "source": source,
            "run_id": self.run_ids.get(record.run_id or "") or None,
            "model_id": model_id,
        }

    def _update_version(self, name: str, record: Any, there: Any) -> bool:
        registry = self.dest.registry
        changed = False
        if there.current_stage != record.current_stage:
            registry.transition_model_version_stage(name, there.version, record.current_stage)
            changed = True
        for key, value in record.tags.items():
            if there.tags.get(key) != value:
                registry.set_model_version_tag(name, there.version, key, value)
                changed = True
        if (there.description or None) != record.description:
            registry.update_model_version(name, there.version, record.description)
            changed = True
        return changed

    # ----------------------------------------------------------------------------------- lifecycle
    def _lifecycle(self, catalog: Catalog) -> None:
        """Deletions last: nothing can be written into a deleted run or experiment."""
        tracking = self.dest.tracking
        for r in catalog.runs:
            there = self.existing_runs.get(r.run_id)
            state = there.info.lifecycle_stage if there is not None else "active"
            if r.lifecycle_stage == "deleted" and state != "deleted":
                tracking.delete_run(self.run_ids[r.run_id])
            elif r.lifecycle_stage == "active" and state == "deleted":
                tracking.restore_run(self.run_ids[r.run_id])
        for e in catalog.experiments:
            if e.lifecycle_stage == "deleted" and e.experiment_id != "0":
                target = self.experiment_ids[e.experiment_id]
                if tracking.get_experiment(target).lifecycle_stage != "deleted":
                    tracking.delete_experiment(target)

    # ----------------------------------------------------------------------------------- artifacts
    def _artifacts(self, catalog: Catalog) -> None:
        self.progress.stage("Listing artifacts")
        trees = []
        for r in catalog.runs:
            if r.artifact_uri and self.run_uris.get(r.run_id):
                trees.append(
                    art.scan(
                        f"run {r.run_id}",
                        self.source.artifact_repository(r.artifact_uri),
                        self.dest.artifact_repository(self.run_uris[r.run_id]),
                    )
                )
        for m in catalog.logged_models:
            target_id = self.model_ids.get(m.model_id)
            if target_id and m.artifact_location:
                location = self.dest.tracking.get_logged_model(target_id).artifact_location
                trees.append(
                    art.scan(
                        f"logged model {m.model_id}",
                        self.source.artifact_repository(m.artifact_location),
                        self.dest.artifact_repository(location),
                    )
                )
        kind = self.report.kinds["artifacts"]
        kind.source = sum(len(t.files) for t in trees)
        kind.created = sum(len(t.missing) for t in trees)
        kind.unchanged = kind.source - kind.created
        self.progress.start(BYTES, sum(t.files[p] for t in trees for p in t.missing))
        self.progress.stage(f"Copying {kind.created} artifact files")
        files, size = art.copy_missing(trees, lambda n: self.progress.advance(BYTES, n))
        self.report.artifact_files_copied, self.report.artifact_bytes_copied = files, size
        for m in catalog.logged_models:
            target_id = self.model_ids.get(m.model_id)
            if target_id:
                try:
                    self.dest.tracking.finalize_logged_model(target_id, m.status)
                except BakehouseError as exc:  # an MLflow that refuses the status: the model stays as it is
                    logger.warning("could not set the status of logged model %s: %s", target_id, exc)
        self._trees = trees

    # ------------------------------------------------------------------------------------- verify
    def _verify(self, catalog: Catalog) -> None:
        """Read back through MLflow's API what each kind should look like there (ids mapped)."""
        self.progress.stage("Verifying the destination")
        tracking = self.dest.tracking
        kinds = self.report.kinds
        expected = [[e.name, {k: v for k, v in e.tags.items()}] for e in catalog.experiments]
        found = []
        for e in catalog.experiments:
            there = tracking.get_experiment(self.experiment_ids[e.experiment_id])
            found.append([there.name, {k: there.tags.get(k) for k in e.tags}])
        kinds["experiments"].expected, kinds["experiments"].found = checksum(expected), checksum(found)
        runs = self._existing_runs(
            [tracking.get_experiment(i) for i in sorted(set(self.experiment_ids.values()))]
        )
        exp_runs: list[Any] = []
        got_runs: list[Any] = []
        exp_metrics: list[Any] = []
        got_metrics: list[Any] = []
        summaries = self.source.metric_summaries([r.run_id for r in catalog.runs])
        for r in catalog.runs:
            tags = {k: (self.run_ids.get(v, v) if k == PARENT_TAG else v) for k, v in r.tags.items()}
            copied: Any
            exp_runs.append(
                [r.run_id, r.name, r.status, r.start_time, r.end_time, r.lifecycle_stage, r.params, tags]
            )
            copied = runs.get(r.run_id)
            got_runs.append(
                [
                    r.run_id,
                    copied.info.run_name,
                    copied.info.status,
                    copied.info.start_time,
                    copied.info.end_time,
                    copied.info.lifecycle_stage,
                    {k: copied.data.params.get(k) for k in r.params},
                    {k: copied.data.tags.get(k) for k in tags},
                ]
                if copied is not None
                else None
            )
            latest = {m.key: m for m in copied.data.metric_points} if copied is not None else {}
            for key, summary in summaries.get(r.run_id, {}).items():
                if summary.latest is None:
                    continue
                exp_metrics.append(
                    [r.run_id, key, summary.latest[0], summary.latest[1], _num(summary.latest[2])]
                )
                mine = latest.get(key)
                got_metrics.append(
                    [r.run_id, key, int(mine.step), int(mine.timestamp), _num(mine.value)] if mine else None
                )
        kinds["runs"].expected, kinds["runs"].found = checksum(exp_runs), checksum(got_runs)
        kinds["metrics"].expected, kinds["metrics"].found = checksum(exp_metrics), checksum(got_metrics)
        trees = getattr(self, "_trees", [])
        if trees:
            exp_files = [[t.owner, p, s] for t in trees for p, s in t.files.items()]
            got_files: list[Any] = []
            for t in trees:
                present = art.list_files(t.destination)
                got_files.extend([t.owner, p, present.get(p)] for p in t.files)
            kinds["artifacts"].expected, kinds["artifacts"].found = checksum(exp_files), checksum(got_files)


_DOUBLE_MAX = 1.7976931348623157e308


def _num(value: float) -> Any:
    """A value as MLflow's SQL store keeps it: NaN as a marker, ±inf as ±1.797...e308 (it clamps them)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return _DOUBLE_MAX if value > 0 else -_DOUBLE_MAX
    return value


def _quote(name: str) -> str:
    return name.replace("'", "\\'")
