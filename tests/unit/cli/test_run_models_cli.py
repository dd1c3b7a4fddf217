"""Find the model of a run: a run whose only output is a logged model shows it (id, name, URI, registered
versions) in ``artifacts list``, ``runs describe`` and ``runs list``, as tables and as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.linear_model import LogisticRegression

import bakehouse
import bakehouse.sklearn
from bakehouse.cli.main import main


def _cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False, terminal_width=250)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def model_run(tmp_tracking_uri: str) -> tuple[str, str]:
    """A run whose only output is a model, registered as iris v1; and a run with nothing."""
    model = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0]]), [0, 1, 1])
    with bakehouse.start_run() as run:
        bakehouse.log_param("C", "1.0")
        info = bakehouse.sklearn.log_model(model, name="model", registered_model_name="iris")
    with bakehouse.start_run():
        pass
    assert info.model_id.startswith("m-")
    return run.info.run_id, info.model_id


def test_artifacts_list_shows_the_logged_model(model_run: tuple[str, str], tmp_path: Path) -> None:
    run_id, model_id = model_run
    out = _cli("artifacts", "list", "-r", run_id)
    assert "No artifacts. Its logged models are stored apart from them:" in out
    assert f"Models logged by run {run_id}" in out
    row = next(line for line in out.splitlines() if model_id in line)
    assert "model" in row and f"models:/{model_id}" in row and "READY" in row and "iris v1" in row
    listed = json.loads(_cli("artifacts", "list", "-r", run_id, "--json"))
    assert listed["files"] == []
    assert listed["models"] == [
        {
            "model_id": model_id,
            "name": "model",
            "uri": f"models:/{model_id}",
            "status": "LOGGED_MODEL_READY",
            "artifact_location": listed["models"][0]["artifact_location"],
            "registered_versions": [{"name": "iris", "version": "1"}],
        }
    ]
    # the hint printed with the table works as written
    downloaded = Path(
        _cli("artifacts", "download", "-u", f"models:/{model_id}", "-d", str(tmp_path / "d")).strip()
    )
    assert (downloaded / "MLmodel").is_file()


def test_runs_describe_and_list_show_the_model(model_run: tuple[str, str]) -> None:
    run_id, model_id = model_run
    described = _cli("runs", "describe", "-r", run_id)
    assert f"Models logged by run {run_id}" in described and f"models:/{model_id}" in described
    assert json.loads(_cli("runs", "describe", "-r", run_id, "--json"))["models"][0]["model_id"] == model_id
    table = _cli("runs", "list")
    row = next(line for line in table.splitlines() if run_id in line)
    assert "model (iris v1)" in row and "C=1.0" in row
    by_id = {r["info"]["run_id"]: r for r in json.loads(_cli("runs", "list", "--json"))}
    assert [m["name"] for m in by_id[run_id]["models"]] == ["model"]
    assert [r["models"] for i, r in by_id.items() if i != run_id] == [[]]


def test_a_run_without_models_says_no_artifacts_only(model_run: tuple[str, str]) -> None:
    run_id, _ = model_run
    other = next(r for r in bakehouse.search_runs(output_format="list") if r.info.run_id != run_id)
    out = _cli("artifacts", "list", "-r", other.info.run_id)
    assert out.strip() == "No artifacts."


def test_runs_list_quiet_prints_only_ids_for_scripts(model_run: tuple[str, str]) -> None:
    run_id, _ = model_run
    ids = _cli("runs", "list", "-q").split()
    assert len(ids) == 2 and ids[1] == run_id  # newest first: the empty run was started last
    assert _cli("runs", "list", "--max-results", "1", "-q").strip() == ids[0]
