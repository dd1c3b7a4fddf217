"""log_table / load_table: MLflow's table artifacts (split-orient JSON listed in mlflow.loggedArtifacts)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import bakehouse as bh
from bakehouse.errors import InvalidParameterError, NotFoundError


def test_tables_append_and_load_across_runs(tmp_tracking_uri: str, tmp_path: Path) -> None:
    bh.set_experiment("tables")
    with bh.start_run() as first:
        bh.log_table({"question": ["a?", "b?"], "score": [0.5, 0.75]}, "eval/results.json")
        bh.log_table(pd.DataFrame({"question": ["c?"], "score": [1.0]}), "eval/results.json")  # appends
    with bh.start_run() as second:
        bh.log_table({"question": "d?", "score": 0.25}, "eval/results.json")  # a dict of scalars is one row
    with bh.start_run():
        bh.log_text("not a table", "eval/results.txt")

    stored = Path(
        bh.artifacts.download_artifacts(
            run_id=first.info.run_id, artifact_path="eval/results.json", dst_path=str(tmp_path)
        )
    )
    assert json.loads(stored.read_text()) == {
        "columns": ["question", "score"],
        "data": [["a?", 0.5], ["b?", 0.75], ["c?", 1.0]],
    }
    tags = bh.get_run(first.info.run_id).data.tags
    assert json.loads(tags["mlflow.loggedArtifacts"]) == [{"path": "eval/results.json", "type": "table"}]

    both = bh.load_table("eval/results.json", extra_columns=["run_id"])
    assert sorted(both["question"]) == ["a?", "b?", "c?", "d?"]
    assert set(both[both["question"] == "d?"]["run_id"]) == {second.info.run_id}
    only_first = bh.load_table("eval/results.json", run_ids=[first.info.run_id])
    assert list(only_first["question"]) == ["a?", "b?", "c?"]
    with pytest.raises(NotFoundError):
        bh.load_table("eval/missing.json")


def test_parquet_tables_and_bad_input(tmp_tracking_uri: str) -> None:
    with bh.start_run():
        bh.log_table({"x": [1, 2]}, "t.parquet")
        with pytest.raises(InvalidParameterError, match="'.json' or '.parquet'"):
            bh.log_table({"x": [1]}, "t.csv")
        with pytest.raises(InvalidParameterError, match="DataFrame or a dictionary"):
            bh.log_table([1, 2], "t.json")
    assert list(bh.load_table("t.parquet")["x"]) == [1, 2]
