"""``runs:/`` and ``models:/`` URIs resolved through a real SQLite tracking store, and scheme lookup."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bakehouse.errors import InvalidParameterError, NotFoundError
from bakehouse.store.artifacts import get_artifact_repository
from bakehouse.store.artifacts.http import HttpArtifactRepository, ProxyArtifactRepository
from bakehouse.store.artifacts.local import LocalArtifactRepository
from bakehouse.store.artifacts.logical import (
    ModelsArtifactRepository,
    RunsArtifactRepository,
    resolve_models_uri,
    resolve_runs_uri,
)
from bakehouse.store.artifacts.s3 import S3ArtifactRepository
from bakehouse.uri import uri_scheme


@pytest.fixture
def tracking(tmp_path: Path) -> tuple[str, Any]:
    from bakehouse.store.tracking.sql.store import SqlTrackingStore

    uri = f"sqlite:///{tmp_path / 'tracking.db'}"
    return uri, SqlTrackingStore.from_uri(uri, str(tmp_path / "artifacts"))


def test_runs_uri_resolves_to_the_runs_artifact_uri(tracking: tuple[str, Any], tmp_path: Path) -> None:
    _, store = tracking
    run = store.create_run(store.create_experiment("exp"))
    run_id = run.info.run_id
    assert resolve_runs_uri(f"runs:/{run_id}", tracking_store=store) == run.info.artifact_uri
    assert (
        resolve_runs_uri(f"runs:/{run_id}/model/sub", tracking_store=store)
        == run.info.artifact_uri + "/model/sub"
    )

    repo = get_artifact_repository(f"runs:/{run_id}/model", tracking_store=store)
    assert isinstance(repo, RunsArtifactRepository)
    assert isinstance(repo.inner, LocalArtifactRepository)
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    repo.log_artifact(tmp_path / "MLmodel")
    direct = get_artifact_repository(run.info.artifact_uri)
    assert [(i.path, i.file_size) for i in direct.list_artifacts("model")] == [("model/MLmodel", 12)]
    assert [i.path for i in repo.list_artifacts()] == ["MLmodel"]
    assert Path(repo.download_artifacts("MLmodel", tmp_path / "dl")).read_text() == "flavors: {}\n"


def test_models_uri_resolves_logged_models(tracking: tuple[str, Any]) -> None:
    _, store = tracking
    experiment_id = store.create_experiment("exp")
    model = store.create_logged_model(experiment_id, name="clf")
    assert resolve_models_uri(f"models:/{model.model_id}", tracking_store=store) == model.artifact_location
    assert (
        resolve_models_uri(f"models:/{model.model_id}/data", tracking_store=store)
        == model.artifact_location + "/data"
    )
    repo = get_artifact_repository(f"models:/{model.model_id}", tracking_store=store)
    assert isinstance(repo, ModelsArtifactRepository)
    repo.write_stream("MLmodel", [b"artifact_path: model\n"])
    assert (
        get_artifact_repository(model.artifact_location).open_read("MLmodel").read_all()
        == b"artifact_path: model\n"
    )


@pytest.mark.parametrize(
    "uri, version",
    [
        ("models:/clf/1", 1),
        ("models:/clf@champion", 2),
        ("models:/clf/Production", 1),
        ("models:/clf/latest", 2),
    ],
)
def test_registry_forms_resolve_through_the_registry(
    tracking: tuple[str, Any], uri: str, version: int
) -> None:
    from bakehouse.store.registry.sql import SqlRegistryStore

    tracking_uri, store = tracking
    run = store.create_run(store.create_experiment("exp"))
    registry = SqlRegistryStore.from_uri(tracking_uri)
    registry.create_registered_model("clf")
    sources = [f"{run.info.artifact_uri}/model-{i}" for i in (1, 2)]
    for source in sources:
        registry.create_model_version("clf", source, run_id=run.info.run_id)
    registry.set_registered_model_alias("clf", "champion", "2")
    registry.transition_model_version_stage("clf", "1", "Production", archive_existing_versions=False)
    assert resolve_models_uri(uri, tracking_store=store) == sources[version - 1]
    with pytest.raises(NotFoundError):
        resolve_models_uri("models:/missing/1", tracking_store=store)


def test_missing_run_and_model(tracking: tuple[str, Any]) -> None:
    with pytest.raises(NotFoundError):
        get_artifact_repository("runs:/0123456789abcdef0123456789abcdef/x", tracking_store=tracking[1])
    with pytest.raises(NotFoundError):
        get_artifact_repository("models:/m-0123456789abcdef0123456789abcdef", tracking_store=tracking[1])


@pytest.mark.parametrize(
    "uri",
    ["runs:/", "runs://host/abc/x", "runs:/abc/../../x", "runs:/abc/%2e%2e/x", "models:/", "models://h/m-1"],
)
def test_malformed_logical_uris(tracking: tuple[str, Any], uri: str) -> None:
    with pytest.raises(InvalidParameterError):
        get_artifact_repository(uri, tracking_store=tracking[1])


def test_runs_uri_through_the_tracking_uri(tracking: tuple[str, Any]) -> None:
    uri, store = tracking
    run = store.create_run(store.create_experiment("exp"))
    repo = get_artifact_repository(f"runs:/{run.info.run_id}/x", tracking_uri=uri)
    assert repo.resolved_uri == run.info.artifact_uri + "/x"


def test_schemes_map_to_repositories(tmp_path: Path) -> None:
    assert [
        uri_scheme(u) for u in ("/a", "rel/a", "C:\\x", "file:///a", "S3://b", "mlflow-artifacts:/x")
    ] == ["", "", "", "file", "s3", "mlflow-artifacts"]
    assert isinstance(get_artifact_repository(str(tmp_path)), LocalArtifactRepository)
    assert isinstance(
        get_artifact_repository(tmp_path.as_uri(), tracking_uri="http://ignored"), LocalArtifactRepository
    )
    assert isinstance(get_artifact_repository("s3://bucket/prefix"), S3ArtifactRepository)
    assert (
        type(get_artifact_repository("mlflow-artifacts:/x", tracking_uri="http://h:1"))
        is ProxyArtifactRepository
    )
    assert (
        type(get_artifact_repository("http://h:1/api/2.0/mlflow-artifacts/artifacts/x"))
        is HttpArtifactRepository
    )
    with pytest.raises(InvalidParameterError, match="No artifact repository registered for 'gopher'"):
        get_artifact_repository("gopher://h/x")


def test_s3_uri_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BAKEHOUSE_S3_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("MLFLOW_S3_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    repo = S3ArtifactRepository("s3://bucket/a/b/")
    assert (repo.bucket, repo.prefix, repo.endpoint_url, repo.addressing_style) == (
        "bucket",
        "a/b",
        None,
        None,
    )
    assert repo._key("x/y") == "a/b/x/y" and repo._key("") == "a/b"
    monkeypatch.setenv("BAKEHOUSE_S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    custom = S3ArtifactRepository("s3://bucket")
    assert (custom.prefix, custom.endpoint_url, custom.addressing_style) == (
        "",
        "http://127.0.0.1:9000",
        "path",
    )
    assert custom._key("x") == "x"
    with pytest.raises(InvalidParameterError, match="Not an S3 URI"):
        S3ArtifactRepository("s3:///nobucket")
