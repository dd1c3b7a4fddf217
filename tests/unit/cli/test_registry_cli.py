"""``bakehouse models register|list|describe|versions|set-alias|delete-alias|transition|history``."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bakehouse.cli.main import main


@pytest.fixture
def run(tmp_tracking_uri):
    runner = CliRunner()

    def invoke(*args: str) -> str:
        result = runner.invoke(main, ["models", *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    return invoke


@pytest.fixture
def model_dirs(tmp_path):
    paths = []
    for i in (1, 2):
        path = tmp_path / f"model{i}"
        path.mkdir()
        (path / "MLmodel").write_text("flavors: {}\n")
        paths.append(str(path))
    return paths


def test_register_alias_transition_and_history(run, model_dirs):
    out = run("register", "-m", model_dirs[0], "-n", "iris", "--tag", "stage=dev", "--alias", "champion")
    assert "Registered version 1 of model 'iris'" in out
    assert "models:/iris@champion -> version 1" in out
    version = json.loads(run("register", "-m", model_dirs[1], "-n", "iris", "--json"))
    assert (version["version"], version["source"], version["aliases"]) == ("2", model_dirs[1], [])

    assert "models:/iris@champion -> version 2" in run("set-alias", "iris", "champion", "2")
    assert "now in stage Production" in run("transition", "iris", "1", "production")
    run("transition", "iris", "2", "Production", "--archive-existing-versions")
    assert "removed from model 'iris' (it pointed at version 2)" in run("delete-alias", "iris", "champion")

    listed = json.loads(run("list", "--json"))
    assert [m["name"] for m in listed] == ["iris"]
    described = json.loads(run("describe", "iris", "--json"))
    assert [(v["version"], v["current_stage"]) for v in described["versions"]] == [
        ("2", "Production"),
        ("1", "Archived"),
    ]
    versions = json.loads(run("versions", "iris", "--filter", "tags.stage = 'dev'", "--json"))
    assert [(v["version"], v["tags"]) for v in versions] == [("1", {"stage": "dev"})]

    history = json.loads(run("history", "iris", "--json"))
    assert [(e["kind"], e["alias"], e["version"], e["from_value"], e["to_value"]) for e in history] == [
        ("alias_set", "champion", "1", None, "1"),
        ("alias_set", "champion", "2", "1", "2"),
        ("stage_transition", None, "1", "None", "Production"),
        ("stage_transition", None, "1", "Production", "Archived"),
        ("stage_transition", None, "2", "None", "Production"),
        ("alias_deleted", "champion", "2", "2", None),
    ]
    assert all(e["user_id"] for e in history)  # the CLI records who did it
    table = run("history", "iris")
    assert "alias_set" in table and "Production" in table


def test_errors_are_one_line_without_traceback(tmp_tracking_uri):
    result = CliRunner().invoke(main, ["models", "set-alias", "nope", "champion", "1"])
    assert result.exit_code != 0
    assert "Registered Model with name=nope not found" in result.output
    assert "Traceback" not in result.output
    reserved = CliRunner().invoke(main, ["models", "describe", "bad/name"])
    assert reserved.exit_code != 0 and "cannot contain" in reserved.output


def test_serve_watch_refuses_a_fixed_version(tmp_tracking_uri):
    result = CliRunner().invoke(main, ["models", "serve", "-m", "models:/iris/3", "--watch"])
    assert result.exit_code == 2
    assert "--watch needs a registry URI that can move" in result.output


def test_deleting_an_alias_that_does_not_exist_is_an_error(run, model_dirs):
    run("register", "-m", model_dirs[0], "-n", "iris", "--alias", "champion")
    result = CliRunner().invoke(main, ["models", "delete-alias", "iris", "missing-alias"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: Model 'iris' has no alias @missing-alias (its aliases: @champion)"
    assert "removed" not in result.output
    missing_model = CliRunner().invoke(main, ["models", "delete-alias", "nope", "champion"])
    assert (
        missing_model.exit_code == 1 and "Registered Model with name=nope not found" in missing_model.output
    )
    assert "models:/iris@champion -> version 1" in run("set-alias", "iris", "champion", "1")  # still there
