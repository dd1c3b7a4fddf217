"""The Client's registry methods and the fluent registry functions, on a real SQLite store."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import bakehouse
from bakehouse.client.client import Client
from bakehouse.errors import NotFoundError


@pytest.fixture
def client(tmp_tracking_uri):
    return Client(tracking_uri=tmp_tracking_uri)


def _fitted():
    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    return LogisticRegression().fit(x, [0, 0, 1, 1])


def test_register_model_from_a_logged_model_mlflow3_style(client, tmp_tracking_uri):
    with bakehouse.start_run() as run:
        info = bakehouse.sklearn.log_model(_fitted(), name="model", pip_requirements=[])
    first = client.register_model(f"runs:/{run.info.run_id}/model", "iris")
    assert (first.version, first.source, first.run_id, first.model_id) == (
        "1",
        f"models:/{info.model_id}",
        run.info.run_id,
        info.model_id,
    )
    second = bakehouse.register_model(f"models:/{info.model_id}", "iris", tags={"via": "fluent"})
    assert (second.version, second.source, second.tags) == (
        "2",
        f"models:/{info.model_id}",
        {"via": "fluent"},
    )
    # the download URI is the logged model's files, not the models:/ indirection
    location = client.tracking_store.get_logged_model(info.model_id).artifact_location
    assert client.get_model_version_download_uri("iris", "1") == location
    client.set_registered_model_alias("iris", "champion", "2")
    assert client.resolve_models_uri("models:/iris@champion/MLmodel") == location.rstrip("/") + "/MLmodel"
    assert client.resolve_model_version("models:/iris@champion").version == "2"
    # the artifact layer's hook resolves the same URIs from nothing but the tracking URI
    from bakehouse.store.registry.uri import resolve_registered_models_uri

    assert resolve_registered_models_uri("models:/iris@champion", tracking_uri=tmp_tracking_uri) == location
    assert (
        resolve_registered_models_uri(f"models:/{info.model_id}", tracking_uri=tmp_tracking_uri) == location
    )


def test_register_model_from_run_artifacts(client, tmp_path):
    model_dir = tmp_path / "exported"
    model_dir.mkdir()
    (model_dir / "MLmodel").write_text("flavors: {}\n")
    with bakehouse.start_run() as run:
        bakehouse.log_artifacts(str(model_dir), "exported")
    version = client.register_model(f"runs:/{run.info.run_id}/exported", "from-files")
    assert version.source == run.info.artifact_uri.rstrip("/") + "/exported"
    assert version.run_id == run.info.run_id and version.model_id is None
    with pytest.raises(NotFoundError, match="Unable to find a logged_model"):
        client.register_model(f"runs:/{run.info.run_id}/missing", "from-files")


def test_stage_apis_warn_like_mlflow_and_history_names_the_user(client, monkeypatch):
    monkeypatch.setenv("BAKEHOUSE_TRACKING_USERNAME", "alice")
    client.create_registered_model("m")
    client.create_model_version("m", "s3://b/1")
    with pytest.warns(FutureWarning, match="stages will be removed"):
        client.transition_model_version_stage("m", "1", "staging")
    with pytest.warns(FutureWarning):
        assert [v.current_stage for v in client.get_latest_versions("m")] == ["Staging"]
    client.set_model_version_tag("m", key="k", value=1, stage="Staging")  # MLflow's stage form
    assert client.get_model_version("m", "1").tags == {"k": "1"}
    events = client.get_registry_history("m")
    assert [(e.kind, e.user_id, e.to_value) for e in events] == [("stage_transition", "alice", "Staging")]


def test_fluent_search_collects_every_page(client):
    for i in range(5):
        client.create_registered_model(f"model-{i}")
        client.create_model_version(f"model-{i}", f"s3://b/{i}")
    assert [m.name for m in bakehouse.search_registered_models(filter_string="name LIKE 'model-%'")] == [
        f"model-{i}" for i in range(5)
    ]
    assert len(bakehouse.search_registered_models(max_results=3)) == 3
    assert len(bakehouse.search_model_versions(filter_string="name != 'model-0'")) == 4


def test_prompts_are_left_out_of_model_searches_unless_asked_for(client):
    client.create_registered_model("classifier")
    client.create_registered_model("greeting", tags={"mlflow.prompt.is_prompt": "true"})
    client.create_registered_model("other-classifier", tags={"team": "x"})
    assert [m.name for m in client.search_registered_models()] == ["classifier", "other-classifier"]
    either = client.search_registered_models("name = 'greeting' OR tags.team = 'x'")  # the OR stays grouped
    assert [m.name for m in either] == ["other-classifier"]
    asked = client.search_registered_models("tags.`mlflow.prompt.is_prompt` = 'true'")
    assert [m.name for m in asked] == ["greeting"]
    assert [m.name for m in bakehouse.search_registered_models()] == ["classifier", "other-classifier"]
