"""bakehouse.artifacts: download, list and load artifacts named by run id, runs:/ URI or any artifact URI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import bakehouse as bh
from bakehouse.errors import InvalidParameterError, NotFoundError


def test_by_run_id_by_runs_uri_and_by_artifact_uri(tmp_tracking_uri: str, tmp_path: Path) -> None:
    with bh.start_run() as run:
        bh.log_dict({"lr": 0.1}, "config/params.json")
        bh.log_dict({"layers": [1, 2]}, "config/net.yaml")
        bh.log_text("hello", "notes.txt")
    run_id = run.info.run_id
    assert {f.path for f in bh.artifacts.list_artifacts(run_id=run_id)} == {"config", "notes.txt"}
    assert [f.path for f in bh.artifacts.list_artifacts(f"runs:/{run_id}/config")] == [
        "config/net.yaml",
        "config/params.json",
    ]
    assert bh.artifacts.load_dict(f"runs:/{run_id}/config/params.json") == {"lr": 0.1}
    assert bh.artifacts.load_dict(f"runs:/{run_id}/config/net.yaml") == {"layers": [1, 2]}
    assert bh.artifacts.load_text(f"runs:/{run_id}/notes.txt") == "hello"

    folder = Path(
        bh.artifacts.download_artifacts(run_id=run_id, artifact_path="config", dst_path=str(tmp_path))
    )
    assert sorted(p.name for p in folder.iterdir()) == ["net.yaml", "params.json"]
    whole = Path(bh.artifacts.download_artifacts(f"runs:/{run_id}", dst_path=str(tmp_path / "all")))
    assert (whole / "notes.txt").read_text() == "hello"
    # the run's artifact URI itself (a local directory here), a file inside it, and file://
    root = bh.get_run(run_id).info.artifact_uri
    assert (
        Path(bh.artifacts.download_artifacts(f"{root}/notes.txt", dst_path=str(tmp_path / "f"))).read_text()
        == "hello"
    )
    assert bh.artifacts.load_text(f"file://{root}/notes.txt") == "hello"
    assert {f.path for f in bh.artifacts.list_artifacts(root)} == {"config", "notes.txt"}


def test_runs_uri_reaches_the_model_a_run_logged(tmp_tracking_uri: str, tmp_path: Path) -> None:
    """MLflow 3 keeps models outside the run's artifacts; runs:/<run>/<name> still finds them."""
    X, y = np.array([[0.0], [1.0], [0.1], [0.9]]), np.array([0, 1, 0, 1])
    with bh.start_run() as run:
        bh.sklearn.log_model(LogisticRegression().fit(X, y), name="clf")
    local = Path(bh.artifacts.download_artifacts(f"runs:/{run.info.run_id}/clf", dst_path=str(tmp_path)))
    assert (local / "MLmodel").is_file()


def test_bad_arguments_are_refused(tmp_tracking_uri: str, tmp_path: Path) -> None:
    with bh.start_run() as run:
        bh.log_text("x", "dir/a.txt")
    with pytest.raises(InvalidParameterError):
        bh.artifacts.download_artifacts()
    with pytest.raises(InvalidParameterError):
        bh.artifacts.download_artifacts("runs:/x/y", run_id="x")
    with pytest.raises(InvalidParameterError, match="directory"):
        bh.artifacts.load_text(f"runs:/{run.info.run_id}/dir")
    with pytest.raises(NotFoundError):
        bh.artifacts.download_artifacts(str(tmp_path / "missing"))
    with pytest.raises(NotFoundError):
        bh.artifacts.download_artifacts(f"runs:/{run.info.run_id}/nothing-here", dst_path=str(tmp_path))
