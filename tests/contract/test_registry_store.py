"""One registry contract, run against SQLite, PostgreSQL and the REST store (through a real server)."""

from __future__ import annotations

import pytest

from bakehouse.errors import AlreadyExistsError, ErrorCode, InvalidParameterError, NotFoundError
from bakehouse.store.registry.uri import resolve_model_version, resolve_models_uri

pytestmark = pytest.mark.timeout(120)


def _versions(store, name, n, **kw):
    return [
        store.create_model_version(name, f"s3://bucket/{name}/{i}", run_id=f"run{i}", **kw) for i in range(n)
    ]


# ------------------------------------------------------------------------------------ registered models
def test_create_and_get_registered_model(registry_store, model_name):
    created = registry_store.create_registered_model(
        model_name, tags={"team": "ml", "k": "v"}, description="first"
    )
    assert created.name == model_name
    assert created.description == "first"
    assert created.tags == {"team": "ml", "k": "v"}
    assert created.creation_timestamp > 0 and created.last_updated_timestamp == created.creation_timestamp
    got = registry_store.get_registered_model(model_name)
    assert (got.name, got.description, got.tags, got.aliases, got.latest_versions) == (
        model_name,
        "first",
        {"team": "ml", "k": "v"},
        [],
        [],
    )


def test_duplicate_and_missing_models(registry_store, model_name):
    registry_store.create_registered_model(model_name)
    with pytest.raises(AlreadyExistsError) as exc:
        registry_store.create_registered_model(model_name)
    assert exc.value.code == ErrorCode.RESOURCE_ALREADY_EXISTS
    assert f"Registered Model (name={model_name}) already exists" in exc.value.message
    with pytest.raises(NotFoundError) as missing:
        registry_store.get_registered_model(model_name + "-nope")
    assert missing.value.message == f"Registered Model with name={model_name}-nope not found"
    with pytest.raises(InvalidParameterError, match="cannot contain"):
        registry_store.create_registered_model("bad/name")
    with pytest.raises(InvalidParameterError):
        registry_store.create_registered_model("")


def test_update_and_rename_keep_versions_and_aliases(registry_store, model_name):
    registry_store.create_registered_model(model_name)
    _versions(registry_store, model_name, 2)
    registry_store.set_registered_model_alias(model_name, "champion", "2")
    updated = registry_store.update_registered_model(model_name, "new description")
    assert updated.description == "new description"
    renamed = registry_store.rename_registered_model(model_name, model_name + "-r")
    assert renamed.name == model_name + "-r"
    assert [(a.alias, a.version) for a in renamed.aliases] == [("champion", "2")]
    assert registry_store.get_model_version(model_name + "-r", "2").aliases == ["champion"]
    assert registry_store.get_model_version_by_alias(model_name + "-r", "champion").version == "2"
    assert renamed.description == "new description"
    with pytest.raises(NotFoundError):
        registry_store.get_registered_model(model_name)
    registry_store.create_registered_model(model_name)
    with pytest.raises(AlreadyExistsError):
        registry_store.rename_registered_model(model_name, model_name + "-r")
    # the next version continues after a rename
    assert registry_store.create_model_version(model_name + "-r", "s3://b/x").version == "3"


def test_delete_model_removes_versions_and_restarts_numbering(registry_store, model_name):
    registry_store.create_registered_model(model_name)
    _versions(registry_store, model_name, 2)
    registry_store.delete_registered_model(model_name)
    with pytest.raises(NotFoundError):
        registry_store.get_model_version(model_name, "1")
    assert list(registry_store.search_model_versions(f"name = '{model_name}'")) == []
    with pytest.raises(NotFoundError):
        registry_store.delete_registered_model(model_name)
    registry_store.create_registered_model(model_name)
    assert registry_store.create_model_version(model_name, "s3://b/x").version == "1"


def test_registered_model_tags(registry_store, model_name):
    registry_store.create_registered_model(model_name)
    registry_store.set_registered_model_tag(model_name, "k", "v1")
    registry_store.set_registered_model_tag(model_name, "k", "v2")
    registry_store.set_registered_model_tag(model_name, "other", "x")
    assert registry_store.get_registered_model(model_name).tags == {"k": "v2", "other": "x"}
    registry_store.delete_registered_model_tag(model_name, "k")
    registry_store.delete_registered_model_tag(model_name, "never-set")  # silently fine, as MLflow
    assert registry_store.get_registered_model(model_name).tags == {"other": "x"}
    with pytest.raises(NotFoundError):
        registry_store.set_registered_model_tag(model_name + "-nope", "k", "v")


# --------------------------------------------------------------------------------------- model versions
def test_versions_increment_and_are_never_reused(registry_store, model_name):
    registry_store.create_registered_model(model_name)
    created = _versions(registry_store, model_name, 3, tags={"a": "b"}, description="d")
    assert [v.version for v in created] == ["1", "2", "3"]
    v = created[0]
    assert (v.name, v.source, v.run_id, v.current_stage, v.status, v.tags, v.description) == (
        model_name,
        f"s3://bucket/{model_name}/0",
        "run0",
        "None",
        "READY",
        {"a": "b"},
        "d",
    )
    registry_store.delete_model_version(model_name, "3")
    with pytest.raises(NotFoundError) as exc:
        registry_store.get_model_version(model_name, "3")
    assert exc.value.message == f"Model Version (name={model_name}, version=3) not found"
    assert registry_store.create_model_version(model_name, "s3://b/4").version == "4"
    with pytest.raises(NotFoundError):
        registry_store.create_model_version(model_name + "-nope", "s3://b/x")
    with pytest.raises(InvalidParameterError):
        registry_store.get_model_version(model_name, "abc")


def test_update_version_and_download_uri(registry_store, model_name):
    registry_store.create_registered_model(model_name)
    registry_store.create_model_version(model_name, "s3://bucket/path/model", run_link="http://x/run")
    updated = registry_store.update_model_version(model_name, "1", "better")
    assert updated.description == "better"
    assert updated.run_link == "http://x/run"
    assert registry_store.get_model_version(model_name, 1).description == "better"
    assert registry_store.get_model_version_download_uri(model_name, "1") == "s3://bucket/path/model"


def test_model_version_tags(registry_store, model_name):
    registry_store.create_registered_model(model_name)
    registry_store.create_model_version(model_name, "s3://b/1", tags={"t0": "x"})
    registry_store.set_model_version_tag(model_name, "1", "t1", "a")
    registry_store.set_model_version_tag(model_name, "1", "t1", "b")
    assert registry_store.get_model_version(model_name, "1").tags == {"t0": "x", "t1": "b"}
    registry_store.delete_model_version_tag(model_name, "1", "t0")
    assert registry_store.get_model_version(model_name, "1").tags == {"t1": "b"}
    with pytest.raises(NotFoundError):
        registry_store.set_model_version_tag(model_name, "9", "k", "v")


# ------------------------------------------------------------------------------------------- aliases
def test_aliases_set_move_get_delete(registry_store, model_name):
    registry_store.create_registered_model(model_name)
    _versions(registry_store, model_name, 3)
    registry_store.set_registered_model_alias(model_name, "champion", "1")
    registry_store.set_registered_model_alias(model_name, "challenger", "2")
    assert registry_store.get_model_version_by_alias(model_name, "champion").version == "1"
    registry_store.set_registered_model_alias(model_name, "champion", "2")  # move
    by_alias = registry_store.get_model_version_by_alias(model_name, "champion")
    assert by_alias.version == "2"
    assert sorted(by_alias.aliases) == ["challenger", "champion"]
    model = registry_store.get_registered_model(model_name)
    assert sorted((a.alias, a.version) for a in model.aliases) == [("challenger", "2"), ("champion", "2")]
    assert registry_store.get_model_version(model_name, "1").aliases == []
    registry_store.delete_registered_model_alias(model_name, "challenger")
    with pytest.raises(InvalidParameterError) as exc:  # unknown alias: 400, not 404
        registry_store.get_model_version_by_alias(model_name, "challenger")
    assert exc.value.code == ErrorCode.INVALID_PARAMETER_VALUE
    assert "alias challenger not found" in exc.value.message
    # 'latest' reads the highest version
    assert registry_store.get_model_version_by_alias(model_name, "LATEST").version == "3"


def test_alias_validation(registry_store, model_name):
    registry_store.create_registered_model(model_name)
    _versions(registry_store, model_name, 1)
    for reserved in ("latest", "Latest", "v1", "V12"):
        with pytest.raises(InvalidParameterError, match="reserved"):
            registry_store.set_registered_model_alias(model_name, reserved, "1")
    for bad in ("a b", "a.b", "a/b", "x" * 256):
        with pytest.raises(InvalidParameterError):
            registry_store.set_registered_model_alias(model_name, bad, "1")
    registry_store.set_registered_model_alias(model_name, "ok_Alias-1", "1")
    registry_store.set_registered_model_alias(model_name, "y" * 255, "1")
    with pytest.raises(NotFoundError):
        registry_store.set_registered_model_alias(model_name, "prod", "7")


def test_deleting_a_version_drops_its_aliases(registry_store, model_name):
    registry_store.create_registered_model(model_name)
    _versions(registry_store, model_name, 2)
    registry_store.set_registered_model_alias(model_name, "champion", "2")
    registry_store.set_registered_model_alias(model_name, "stable", "1")
    registry_store.delete_model_version(model_name, "2")
    assert [(a.alias, a.version) for a in registry_store.get_registered_model(model_name).aliases] == [
        ("stable", "1")
    ]
    with pytest.raises(InvalidParameterError):
        registry_store.get_model_version_by_alias(model_name, "champion")


# -------------------------------------------------------------------------------------------- stages
def test_stage_transitions_and_archive_existing(registry_store, model_name):
    registry_store.create_registered_model(model_name)
    _versions(registry_store, model_name, 4)
    assert (
        registry_store.transition_model_version_stage(model_name, "1", "production").current_stage
        == "Production"
    )
    registry_store.transition_model_version_stage(model_name, "2", "STAGING")
    moved = registry_store.transition_model_version_stage(
        model_name, "3", "Production", archive_existing_versions=True
    )
    assert moved.current_stage == "Production"
    stages = {
        v.version: v.current_stage for v in registry_store.search_model_versions(f"name = '{model_name}'")
    }
    # only the version that was in the target stage is archived
    assert stages == {"1": "Archived", "2": "Staging", "3": "Production", "4": "None"}
    with pytest.raises(InvalidParameterError):
        registry_store.transition_model_version_stage(
            model_name, "4", "Archived", archive_existing_versions=True
        )
    with pytest.raises(InvalidParameterError):
        registry_store.transition_model_version_stage(model_name, "4", "Prod")


def test_get_latest_versions_one_per_stage(registry_store, model_name):
    registry_store.create_registered_model(model_name)
    _versions(registry_store, model_name, 5)
    registry_store.transition_model_version_stage(model_name, "1", "Production")
    registry_store.transition_model_version_stage(model_name, "2", "Production")
    registry_store.transition_model_version_stage(model_name, "3", "Staging")
    latest = {v.current_stage: v.version for v in registry_store.get_latest_versions(model_name)}
    assert latest == {"Production": "2", "Staging": "3", "None": "5"}
    only = registry_store.get_latest_versions(model_name, ["production", "Archived"])
    assert [(v.current_stage, v.version) for v in only] == [("Production", "2")]
    model = registry_store.get_registered_model(model_name)
    assert sorted(v.version for v in model.latest_versions) == ["2", "3", "5"]


# -------------------------------------------------------------------------------------------- search
def _names(page):
    return [m.name for m in page]


def test_search_registered_models_filters_order_and_pages(registry_store, model_name):
    p = model_name
    for suffix, team in (("-alpha", "a"), ("-beta", "b"), ("-Gamma", "a"), ("-delta", "c")):
        registry_store.create_registered_model(p + suffix, tags={"team": team})
    scoped = f"name LIKE '{p}%'"
    assert _names(registry_store.search_registered_models(scoped)) == [
        p + "-Gamma",
        p + "-alpha",
        p + "-beta",
        p + "-delta",
    ]
    assert _names(registry_store.search_registered_models(f"name = '{p}-beta'")) == [p + "-beta"]
    assert (
        _names(registry_store.search_registered_models(f"name LIKE '{p}-g%'")) == []
    )  # LIKE is case-sensitive
    assert _names(registry_store.search_registered_models(f"name ILIKE '{p}-g%'")) == [p + "-Gamma"]
    assert _names(registry_store.search_registered_models(f"name IN ('{p}-beta', '{p}-delta')")) == [
        p + "-beta",
        p + "-delta",
    ]
    assert _names(registry_store.search_registered_models(f"{scoped} AND tags.team = 'a'")) == [
        p + "-Gamma",
        p + "-alpha",
    ]
    either = registry_store.search_registered_models(f"{scoped} AND (tags.team = 'b' OR name = '{p}-delta')")
    assert _names(either) == [p + "-beta", p + "-delta"]
    desc = registry_store.search_registered_models(scoped, order_by=["name DESC"])
    assert _names(desc) == [p + "-delta", p + "-beta", p + "-alpha", p + "-Gamma"]
    first = registry_store.search_registered_models(scoped, max_results=3)
    assert len(first) == 3 and first.token
    second = registry_store.search_registered_models(scoped, max_results=3, page_token=first.token)
    assert _names(second) == [p + "-delta"]
    assert second.token == ""  # registered-model search answers "" after the last page
    with pytest.raises(InvalidParameterError):
        registry_store.search_registered_models(max_results=1001)
    with pytest.raises(InvalidParameterError):
        registry_store.search_registered_models("nonsense = 'x'")


def test_search_model_versions(registry_store, model_name):
    registry_store.create_registered_model(model_name)
    registry_store.create_registered_model(model_name + "-other")
    _versions(registry_store, model_name, 4)
    registry_store.create_model_version(model_name + "-other", "s3://elsewhere/m", run_id="run1")
    registry_store.set_model_version_tag(model_name, "2", "quality", "good")
    scoped = f"name = '{model_name}'"
    assert [v.version for v in registry_store.search_model_versions(scoped)] == ["4", "3", "2", "1"]
    asc = registry_store.search_model_versions(scoped, order_by=["version_number ASC"])
    assert [v.version for v in asc] == ["1", "2", "3", "4"]
    assert [
        v.version
        for v in registry_store.search_model_versions(
            f"{scoped} AND version_number > 2", order_by=["version_number"]
        )
    ] == ["3", "4"]
    by_run = registry_store.search_model_versions(
        f"name LIKE '{model_name}%' AND run_id IN ('run1', 'run3')", order_by=["name", "version_number"]
    )
    assert [(v.name, v.version) for v in by_run] == [
        (model_name, "2"),
        (model_name, "4"),
        (model_name + "-other", "1"),
    ]
    tagged = registry_store.search_model_versions(f"{scoped} AND tags.quality = 'good'")
    assert [(v.version, v.tags) for v in tagged] == [("2", {"quality": "good"})]
    either = registry_store.search_model_versions(
        f"{scoped} AND (version_number = 1 OR tags.quality = 'good')", order_by=["version_number"]
    )
    assert [v.version for v in either] == ["1", "2"]
    src = registry_store.search_model_versions(
        f"source_path LIKE 's3://elsewhere/%' AND name LIKE '{model_name}%'"
    )
    assert [(v.name, v.version) for v in src] == [(model_name + "-other", "1")]
    page = registry_store.search_model_versions(scoped, max_results=3, order_by=["version_number"])
    assert [v.version for v in page] == ["1", "2", "3"] and page.token
    rest = registry_store.search_model_versions(
        scoped, max_results=3, order_by=["version_number"], page_token=page.token
    )
    assert [v.version for v in rest] == ["4"] and not rest.token


# ---------------------------------------------------------------------------------------- audit trail
def test_history_records_alias_moves_and_stage_transitions(registry_store, model_name):
    registry_store.create_registered_model(model_name)
    _versions(registry_store, model_name, 3)
    registry_store.set_registered_model_alias(model_name, "champion", "1", user_id="alice")
    registry_store.set_registered_model_alias(model_name, "champion", "2", user_id="bob")
    registry_store.set_registered_model_alias(
        model_name, "champion", "2", user_id="bob"
    )  # no change, no event
    registry_store.transition_model_version_stage(model_name, "1", "Production", user_id="carol")
    registry_store.transition_model_version_stage(model_name, "3", "production", True, user_id="dave")
    registry_store.delete_registered_model_alias(model_name, "champion", user_id="erin")
    events = registry_store.get_registry_history(model_name)
    rows = [(e.kind, e.user_id, e.alias, e.version, e.from_value, e.to_value) for e in events]
    assert rows == [
        ("alias_set", "alice", "champion", "1", None, "1"),
        ("alias_set", "bob", "champion", "2", "1", "2"),
        ("stage_transition", "carol", None, "1", "None", "Production"),
        ("stage_transition", "dave", None, "1", "Production", "Archived"),
        ("stage_transition", "dave", None, "3", "None", "Production"),
        ("alias_deleted", "erin", "champion", "2", "2", None),
    ]
    assert all(e.timestamp > 0 and e.name == model_name for e in events)
    assert [e.timestamp for e in events] == sorted(e.timestamp for e in events)


def test_history_of_version_deletion_and_rename(registry_store, model_name):
    registry_store.create_registered_model(model_name)
    _versions(registry_store, model_name, 1)
    registry_store.set_registered_model_alias(model_name, "prod", "1", user_id="u")
    registry_store.delete_model_version(model_name, "1", user_id="u2")
    registry_store.rename_registered_model(model_name, model_name + "-new", user_id="u3")
    kinds = [(e.kind, e.user_id) for e in registry_store.get_registry_history(model_name + "-new")]
    assert kinds == [("alias_set", "u"), ("alias_deleted", "u2"), ("renamed", "u3")]


# -------------------------------------------------------------------------------------- models:/ URIs
def test_models_uri_resolution(registry_store, model_name):
    registry_store.create_registered_model(model_name)
    _versions(registry_store, model_name, 3)
    registry_store.transition_model_version_stage(model_name, "1", "Production")
    registry_store.transition_model_version_stage(model_name, "2", "Production")
    registry_store.set_registered_model_alias(model_name, "champion", "1")
    assert resolve_model_version(registry_store, f"models:/{model_name}/3").version == "3"
    assert resolve_model_version(registry_store, f"models:/{model_name}/production").version == "2"
    assert resolve_model_version(registry_store, f"models:/{model_name}/latest").version == "3"
    assert resolve_model_version(registry_store, f"models:/{model_name}@champion").version == "1"
    assert resolve_models_uri(f"models:/{model_name}@champion/MLmodel", registry_store) == (
        f"s3://bucket/{model_name}/0/MLmodel"
    )
    with pytest.raises(NotFoundError):
        resolve_model_version(registry_store, f"models:/{model_name}/Staging")
