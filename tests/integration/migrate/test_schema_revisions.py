"""Every schema revision MLflow shipped from 2.0 (``97727af70f4d``) to 3.17.2 (``dc11669786a5``) migrates.

The databases are made by MLflow's own Alembic chain, one revision at a time, from a database filled as MLflow
2.0 filled it (see ``mlflow_revisions.py``); each is read read-only and its content arrives exactly.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
from migrate_support import HERE, run_python, sha256_of

from bakehouse.migrate.engine import MigrationOptions
from bakehouse.migrate.session import open_migration
from bakehouse.store.registry.sql import SqlRegistryStore
from bakehouse.store.tracking.sql.store import SqlTrackingStore

pytestmark = pytest.mark.timeout(900)

ALIASES, DATASETS, LOGGED_MODELS = "3500859a5d39", "7f2a7d5fae7d", "400f98739977"


def test_every_revision_from_mlflow_2_0_to_3_17(tmp_path: Path) -> None:
    chain = json.loads(
        run_python(sys.executable, [str(HERE / "mlflow_revisions.py"), str(tmp_path / "mlflow")])
    )
    revisions = [revision for revision, _ in chain]
    assert revisions[0] == "97727af70f4d" and revisions[-1] == "dc11669786a5" and len(revisions) > 40
    for index, (revision, path) in enumerate(chain):
        before = sha256_of(Path(path))
        dest = f"sqlite:///{tmp_path / f'bakehouse-{index:03d}.db'}"
        with open_migration(
            f"sqlite:///{path}", dest, MigrationOptions(verify="points"), str(tmp_path / "art")
        ) as m:
            report = m.run()
        assert report.verified, revision
        assert sha256_of(Path(path)) == before, revision
        kinds = report.kinds
        assert (kinds["experiments"].source, kinds["runs"].source, kinds["model_versions"].source) == (
            3,
            3,
            2,
        )
        has = {
            name: revisions.index(rev) <= index
            for name, rev in (("aliases", ALIASES), ("datasets", DATASETS), ("logged_models", LOGGED_MODELS))
        }
        assert kinds["datasets"].created == int(has["datasets"]), revision
        assert kinds["logged_models"].created == int(has["logged_models"]), revision

        tracking = SqlTrackingStore(dest, str(tmp_path / "art"))
        parent = tracking.get_run("a" * 32)
        assert parent.data.params == {"lr": "0.1", "long": "x" * 500}
        assert math.isnan(parent.data.metrics["nan"]) and parent.data.metrics["inf"] == 1.7976931348623157e308
        assert [m.value for m in tracking.get_metric_history("a" * 32, "loss")][:2] == [1.0, 0.5]
        assert tracking.get_run("b" * 32).data.tags["mlflow.parentRunId"] == "a" * 32
        binned = tracking.get_run("c" * 32).info
        assert binned.lifecycle_stage == "deleted" and binned.status == "KILLED"
        assert tracking.get_experiment("2").lifecycle_stage == "deleted"
        assert tracking.get_experiment("1").tags == {"team": "core"}
        assert bool(parent.inputs.dataset_inputs) == has["datasets"], revision
        registry = SqlRegistryStore.from_uri(dest)
        model = registry.get_registered_model("model-2.0")
        assert [
            (v.version, v.current_stage) for v in registry.search_model_versions("name = 'model-2.0'")
        ] in (
            [("1", "Production"), ("3", "Staging")],
            [("3", "Staging"), ("1", "Production")],
        )
        assert [a.alias for a in model.aliases] == (["champion"] if has["aliases"] else []), revision
        assert (
            registry.create_model_version("model-2.0", f"runs:/{'a' * 32}/model").version == "4"
        )  # 2 stays used
        if has["logged_models"]:
            logged = tracking.get_logged_model("m-0123456789abcdef0123456789abcdef")
            assert (logged.params, logged.tags, logged.status) == (
                {"alpha": "0.5"},
                {"stage": "candidate"},
                "LOGGED_MODEL_READY",
            )
