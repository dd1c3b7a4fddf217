"""Read everything a tracking store holds through the official ``mlflow`` client and print it as JSON.

Run by the interpreter of the MLflow release that can open the store (a 2.x database needs the 2.x client),
never imported by the tests::

    python mlflow_dump.py TRACKING_URI [--no-content]

The same script reads the source store and the Bakehouse server in front of the destination, so the two
outputs compare field by field.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import tempfile
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.entities import ViewType

MLFLOW_MAJOR = int(mlflow.__version__.split(".")[0])


def _num(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return repr(value)
    return value


def _files(client: MlflowClient, run_id: str | None, repo_uri: str | None, content: bool) -> list[list[Any]]:
    """[path, size, sha256] of every artifact file (downloaded through the client to hash it)."""
    out: list[list[Any]] = []
    if run_id is not None:

        def listing(path: str | None) -> list[Any]:
            return client.list_artifacts(run_id, path)

    else:
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        repo = get_artifact_repository(repo_uri)

        def listing(path: str | None) -> list[Any]:
            return repo.list_artifacts(path) or []

    pending: list[str | None] = [None]
    while pending:
        path = pending.pop()
        for info in listing(path):
            if info.is_dir:
                pending.append(info.path)
                continue
            digest = None
            if content:
                with tempfile.TemporaryDirectory() as tmp:
                    if run_id is not None:
                        local = client.download_artifacts(run_id, info.path, tmp)
                    else:
                        local = repo.download_artifacts(info.path, tmp)
                    sha = hashlib.sha256()
                    with open(local, "rb") as fh:
                        for chunk in iter(lambda: fh.read(1 << 20), b""):
                            sha.update(chunk)
                    digest = sha.hexdigest()
            out.append([info.path, info.file_size, digest])
    return sorted(out)


def dump(uri: str, content: bool) -> dict[str, Any]:
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri, registry_uri=uri)
    out: dict[str, Any] = {"mlflow": mlflow.__version__}
    experiments = client.search_experiments(view_type=ViewType.ALL, max_results=1000)
    out["experiments"] = sorted(
        (
            {
                "experiment_id": e.experiment_id,
                "name": e.name,
                "artifact_location": e.artifact_location,
                "lifecycle_stage": e.lifecycle_stage,
                "creation_time": e.creation_time,
                "last_update_time": e.last_update_time,
                "tags": dict(e.tags),
            }
            for e in experiments
        ),
        key=lambda e: e["experiment_id"],
    )
    ids = [e.experiment_id for e in experiments]
    runs = client.search_runs(ids, run_view_type=ViewType.ALL, max_results=5000)
    out["runs"] = {}
    for run in runs:
        info, data = run.info, run.data
        record: dict[str, Any] = {
            "run_id": info.run_id,
            "experiment_id": info.experiment_id,
            "run_name": info.run_name,
            "user_id": info.user_id,
            "status": info.status,
            "start_time": info.start_time,
            "end_time": info.end_time,
            "lifecycle_stage": info.lifecycle_stage,
            "artifact_uri": info.artifact_uri,
            "params": dict(data.params),
            "tags": dict(data.tags),
            "metrics": {k: _num(v) for k, v in data.metrics.items()},
            "datasets": sorted(
                (
                    {
                        "name": d.dataset.name,
                        "digest": d.dataset.digest,
                        "source_type": d.dataset.source_type,
                        "source": d.dataset.source,
                        "schema": d.dataset.schema,
                        "profile": d.dataset.profile,
                        "tags": {t.key: t.value for t in d.tags},
                    }
                    for d in (run.inputs.dataset_inputs if run.inputs else [])
                ),
                key=lambda d: (d["name"], d["digest"]),
            ),
        }
        if MLFLOW_MAJOR >= 3:
            outputs = getattr(run, "outputs", None)
            record["model_outputs"] = sorted(
                [o.model_id, o.step] for o in (outputs.model_outputs if outputs else [])
            )
        # the full history of every key, through the client's own paging
        record["history"] = {
            key: sorted(
                [m.step, m.timestamp, _num(m.value)] for m in client.get_metric_history(info.run_id, key)
            )
            for key in sorted(data.metrics)
        }
        record["artifacts"] = _files(client, info.run_id, None, content)
        out["runs"][info.run_id] = record
    out["logged_models"] = {}
    if MLFLOW_MAJOR >= 3:
        models = client.search_logged_models(experiment_ids=ids, max_results=1000)
        for m in models:
            out["logged_models"][m.model_id] = {
                "model_id": m.model_id,
                "name": m.name,
                "experiment_id": m.experiment_id,
                "source_run_id": m.source_run_id,
                "status": str(m.status),
                "model_type": m.model_type,
                "creation_timestamp": m.creation_timestamp,
                "last_updated_timestamp": m.last_updated_timestamp,
                "tags": dict(m.tags),
                "params": dict(m.params),
                "metrics": sorted(
                    [x.key, _num(x.value), x.step, x.timestamp, x.run_id] for x in (m.metrics or [])
                ),
                "artifact_location": m.artifact_location,
                "artifacts": _files(client, None, m.artifact_location, content),
            }
    out["registered_models"] = {}
    for rm in client.search_registered_models(max_results=1000):
        found = client.search_model_versions(f"name = '{rm.name}'", max_results=1000)
        # get_model_version fills the aliases on every store (a search does not on MLflow's SQL store)
        versions = [client.get_model_version(rm.name, v.version) for v in found]
        out["registered_models"][rm.name] = {
            "name": rm.name,
            "description": rm.description,
            "creation_timestamp": rm.creation_timestamp,
            "last_updated_timestamp": rm.last_updated_timestamp,
            "tags": dict(rm.tags),
            "aliases": {a: str(v) for a, v in sorted((rm.aliases or {}).items())},
            "versions": {
                str(v.version): {
                    "version": str(v.version),
                    "current_stage": v.current_stage,
                    "description": v.description,
                    "source": v.source,
                    "run_id": v.run_id,
                    "run_link": v.run_link,
                    "status": v.status,
                    "status_message": v.status_message,
                    "user_id": v.user_id,
                    "creation_timestamp": v.creation_timestamp,
                    "last_updated_timestamp": v.last_updated_timestamp,
                    "tags": dict(v.tags),
                    "aliases": sorted(v.aliases or []),
                }
                for v in versions
            },
            "by_alias": {
                alias: str(client.get_model_version_by_alias(rm.name, alias).version)
                for alias in (rm.aliases or {})
            },
        }
    # prompts, through the prompt API (MLflow 3 leaves them out of the registered-model search)
    if MLFLOW_MAJOR >= 3:
        names = sorted(p.name for p in client.search_prompts(max_results=1000))
    else:
        names = sorted(
            n for n, rm in out["registered_models"].items() if rm["tags"].get("mlflow.prompt.is_prompt")
        )
    out["prompts"] = {}
    for name in names:
        versions: dict[str, Any] = {}
        for number in range(1, 20):
            try:
                prompt = client.load_prompt(f"prompts:/{name}/{number}")
            except Exception:  # noqa: BLE001 - past the last version
                break
            versions[str(number)] = {
                "template": prompt.template,
                "commit_message": getattr(prompt, "commit_message", None),
                "tags": dict(getattr(prompt, "tags", {}) or {}),
            }
        aliases = {}
        for alias in ("production",):
            try:
                aliases[alias] = str(client.load_prompt(f"prompts:/{name}@{alias}").version)
            except Exception:  # noqa: BLE001, S110 - no such alias
                pass
        out["prompts"][name] = {"versions": versions, "aliases": aliases}
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("uri")
    parser.add_argument("--no-content", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    result = dump(args.uri, content=not args.no_content)
    print(json.dumps(result, sort_keys=True, default=str))


if __name__ == "__main__":
    main()
