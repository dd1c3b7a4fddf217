"""The official ``mlflow`` client (3.17.2), unchanged, against a real ``bakehouse server``: the registry."""

from __future__ import annotations

import json
import urllib.request
import uuid
from pathlib import Path

import pytest

mlflow = pytest.importorskip("mlflow")

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.slow,
    # MLflow's own deprecation of stages, raised at the caller's line: expected here
    pytest.mark.filterwarnings("ignore:.*stages will be removed:FutureWarning"),
]


class ConstantModel(mlflow.pyfunc.PythonModel):
    """Answers its own number for every row, so a prediction names the version that served it."""

    def __init__(self, value: int) -> None:
        self.value = value

    def predict(self, context, model_input, params=None):
        return [self.value] * len(model_input)


def _save(tmp_path: Path, value: int) -> str:
    path = tmp_path / f"model-{value}"
    mlflow.pyfunc.save_model(str(path), python_model=ConstantModel(value), pip_requirements=[])
    return str(path)


@pytest.fixture
def server(bakehouse_server):
    return bakehouse_server()


@pytest.fixture
def client(server):
    mlflow.set_tracking_uri(server.url)
    mlflow.set_registry_uri(server.url)
    return mlflow.MlflowClient(tracking_uri=server.url, registry_uri=server.url)


def _predict(uri: str) -> list:
    import pandas as pd

    return list(mlflow.pyfunc.load_model(uri).predict(pd.DataFrame({"x": [1.0, 2.0]})))


def test_registry_end_to_end_with_the_official_client(client, server, tmp_path):
    from mlflow.exceptions import MlflowException

    name = f"iris-{uuid.uuid4().hex[:8]}"
    mlflow.set_experiment(f"exp-{uuid.uuid4().hex[:8]}")
    with mlflow.start_run() as run:
        for i in (1, 2, 3):
            mlflow.log_artifacts(_save(tmp_path, i), f"model{i}")
    sources = [f"{run.info.artifact_uri}/model{i}" for i in (1, 2, 3)]

    # register_model creates the model, then versions 1, 2, 3 (strings)
    versions = [mlflow.register_model(f"runs:/{run.info.run_id}/model{i}", name) for i in (1, 2, 3)]
    assert [v.version for v in versions] == ["1", "2", "3"]
    assert (versions[0].source, versions[0].run_id) == (sources[0], run.info.run_id)
    assert client.get_registered_model(name).name == name

    # aliases: set, get, load through the alias, move, delete
    client.set_registered_model_alias(name, "champion", "2")
    assert client.get_model_version_by_alias(name, "champion").version == "2"
    assert client.get_registered_model(name).aliases == {"champion": "2"}
    assert _predict(f"models:/{name}@champion") == [2, 2]
    client.set_registered_model_alias(name, "champion", "3")
    assert _predict(f"models:/{name}@champion") == [3, 3]
    assert client.get_model_version(name, "3").aliases == ["champion"]
    client.delete_registered_model_alias(name, "champion")
    with pytest.raises(MlflowException) as unknown:
        client.get_model_version_by_alias(name, "champion")
    assert unknown.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException, match="reserved"):
        client.set_registered_model_alias(name, "latest", "1")
    assert _predict(f"models:/{name}/latest") == [3, 3]
    assert _predict(f"models:/{name}/1") == [1, 1]

    # stages, archive_existing_versions, get_latest_versions
    assert client.transition_model_version_stage(name, "1", "production").current_stage == "Production"
    moved = client.transition_model_version_stage(name, "2", "Production", archive_existing_versions=True)
    assert moved.current_stage == "Production"
    assert client.get_model_version(name, "1").current_stage == "Archived"
    assert [v.version for v in client.get_latest_versions(name, stages=["Production"])] == ["2"]
    latest = {v.current_stage: v.version for v in client.get_latest_versions(name)}
    assert latest == {"Archived": "1", "Production": "2", "None": "3"}
    assert _predict(f"models:/{name}/Production") == [2, 2]
    with pytest.raises(MlflowException):
        client.transition_model_version_stage(name, "3", "Archived", archive_existing_versions=True)

    # tags and descriptions
    client.set_registered_model_tag(name, "team", "vision")
    client.set_model_version_tag(name, "2", "validated", "yes")
    client.update_registered_model(name, description="Iris classifier")
    client.update_model_version(name, "2", description="the good one")
    model = client.get_registered_model(name)
    assert (model.description, model.tags) == ("Iris classifier", {"team": "vision"})
    v2 = client.get_model_version(name, "2")
    assert (v2.description, v2.tags) == ("the good one", {"validated": "yes"})
    client.delete_registered_model_tag(name, "team")
    client.delete_registered_model_tag(name, "never-there")  # silently fine
    client.delete_model_version_tag(name, "2", "validated")
    assert client.get_registered_model(name).tags == {}
    assert client.get_model_version(name, "2").tags == {}

    # rename keeps versions and aliases
    client.set_registered_model_alias(name, "challenger", "3")
    new_name = name + "-renamed"
    client.rename_registered_model(name, new_name)
    assert client.get_model_version_by_alias(new_name, "challenger").version == "3"
    by_number = client.search_model_versions(f"name = '{new_name}'", order_by=["version_number DESC"])
    assert [v.version for v in by_number] == ["3", "2", "1"]
    with pytest.raises(MlflowException) as gone:
        client.get_registered_model(name)
    assert gone.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    # search with filters (OR is a Bakehouse extension; the official client passes it through)
    other = f"other-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(other, tags={"kind": "baseline"})
    found = client.search_registered_models(filter_string=f"name = '{new_name}' OR name = '{other}'")
    assert sorted(m.name for m in found) == sorted([new_name, other])
    assert [m.name for m in client.search_registered_models(filter_string="tags.kind = 'baseline'")] == [
        other
    ]
    newer = client.search_model_versions(
        f"name = '{new_name}' AND version_number >= 2", order_by=["version_number ASC"]
    )
    assert [v.version for v in newer] == ["2", "3"]
    assert client.get_model_version_download_uri(new_name, "2") == sources[1]

    # copy a version into another model: the copy points at the same files
    copied = client.copy_model_version(f"models:/{new_name}/2", name + "-copy")
    assert (copied.name, copied.version, copied.run_id) == (name + "-copy", "1", run.info.run_id)
    assert client.get_model_version_download_uri(name + "-copy", "1") == sources[1]

    # delete a version (its number is not reused), then the model
    client.delete_model_version(new_name, "3")
    left = client.search_model_versions(f"name = '{new_name}'", order_by=["version_number DESC"])
    assert [v.version for v in left] == ["2", "1"]
    assert client.create_model_version(new_name, sources[0], run_id=run.info.run_id).version == "4"
    client.delete_registered_model(new_name)
    with pytest.raises(MlflowException) as deleted:
        client.get_registered_model(new_name)
    assert deleted.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    # the audit trail, over REST
    with urllib.request.urlopen(
        f"{server.url}/api/2.0/bakehouse/registry/history?name={new_name}"
    ) as response:
        events = json.loads(response.read())["events"]
    kinds = [
        (e["kind"], e.get("alias"), e.get("version"), e.get("from_value"), e.get("to_value")) for e in events
    ]
    assert ("alias_set", "champion", "3", "2", "3") in kinds
    assert ("stage_transition", None, "1", "Production", "Archived") in kinds
    assert ("alias_deleted", "challenger", "3", "3", None) in kinds  # dropped with version 3
    assert (
        kinds[-1] == ("renamed", None, None, name, new_name)
        or ("renamed", None, None, name, new_name) in kinds
    )


def test_sources_outside_the_run_are_refused(client, tmp_path):
    """MLflow's server rules (no registering arbitrary server-side files), kept by Bakehouse."""
    from mlflow.exceptions import MlflowException

    name = f"guard-{uuid.uuid4().hex[:8]}"
    client.create_registered_model(name)
    with pytest.raises(MlflowException, match="local path") as local:
        client.create_model_version(name, _save(tmp_path, 1))
    assert local.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException, match="relative path references"):
        client.create_model_version(name, "s3://bucket/a/../../etc")
    with pytest.raises(MlflowException, match="run_id"):
        client.create_model_version(name, "mlflow-artifacts:/0/someone-elses-run/artifacts/model")
    assert client.create_model_version(name, "s3://bucket/models/ok").version == "1"


def test_log_model_with_registered_model_name_mlflow3_style(client, server):
    """``log_model(registered_model_name=)``: the version's source is the logged model (``models:/m-...``)."""
    name = f"logged-{uuid.uuid4().hex[:8]}"
    mlflow.set_experiment(f"exp-{uuid.uuid4().hex[:8]}")
    with mlflow.start_run() as run:
        info = mlflow.pyfunc.log_model(
            name="model", python_model=ConstantModel(7), pip_requirements=[], registered_model_name=name
        )
    version = client.get_model_version(name, "1")
    assert version.source == f"models:/{info.model_id}"
    # the official client drops model_id when reading protos ("TODO" in MLflow); the JSON carries it
    with urllib.request.urlopen(
        f"{server.url}/api/2.0/mlflow/model-versions/get?name={name}&version=1"
    ) as response:
        assert json.loads(response.read())["model_version"]["model_id"] == info.model_id
    assert version.run_id == run.info.run_id
    # MLflow 3 links the logged model to its versions with a tag (the server sets it, and the official
    # fluent client appends the same entry again, exactly as against an MLflow server)
    linked = json.loads(client.get_logged_model(info.model_id).tags["mlflow.modelVersions"])
    assert {(e["name"], e["version"]) for e in linked} == {(name, "1")}
    client.set_registered_model_alias(name, "champion", "1")
    assert _predict(f"models:/{name}@champion") == [7, 7]
    # a models:/<model id> source must come with that model_id (as MLflow's server checks); register_model
    # sends it, a bare create_model_version does not
    with pytest.raises(mlflow.exceptions.MlflowException, match="model_id request parameter") as bare:
        client.create_model_version(name, info.model_uri, run.info.run_id)
    assert bare.value.error_code == "INVALID_PARAMETER_VALUE"
    # registering the run's model again through runs:/ resolves to the same logged model
    again = mlflow.register_model(f"runs:/{run.info.run_id}/model", name)
    assert again.version == "2"
    assert client.get_model_version(name, "2").source == f"models:/{info.model_id}"
    # a client may overwrite the link tag with anything: the next version still registers, the tag is rewritten
    client.set_logged_model_tags(info.model_id, {"mlflow.modelVersions": "not a JSON list"})
    third = client.create_model_version(name, info.model_uri, run.info.run_id, model_id=info.model_id)
    assert third.version == "3"
    linked = json.loads(client.get_logged_model(info.model_id).tags["mlflow.modelVersions"])
    assert (name, "3") in {(e["name"], e["version"]) for e in linked}


def test_prompt_registry_through_the_server(client, server):
    """MLflow's prompt registry rides on registered models: versions with a placeholder source and the
    prompt text in a tag. The server accepts only MLflow's placeholders for them, as MLflow's does."""
    name = f"greet-{uuid.uuid4().hex[:6]}"
    first = mlflow.genai.register_prompt(name=name, template="Hello {{name}}", commit_message="first")
    second = mlflow.genai.register_prompt(name=name, template="Hi {{name}}!")
    assert (first.version, second.version) == (1, 2)
    assert mlflow.genai.load_prompt(f"prompts:/{name}/1").format(name="Ada") == "Hello Ada"
    mlflow.genai.set_prompt_alias(name, alias="prod", version=2)
    assert mlflow.genai.load_prompt(f"prompts:/{name}@prod").format(name="Ada") == "Hi Ada!"
    assert name in [p.name for p in mlflow.genai.search_prompts()]
    assert name not in [m.name for m in mlflow.search_registered_models()]  # prompts are not models
    import httpx  # the official client refuses this itself; the server must too

    refused = httpx.post(
        f"{server.url}/api/2.0/mlflow/model-versions/create",
        timeout=30,
        json={"name": name, "source": "/etc", "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}]},
    )
    assert refused.status_code == 400 and "Invalid prompt source" in refused.json()["message"]
