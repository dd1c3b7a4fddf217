"""The fluent API's run life cycle, system tags and buffered logging, on the embedded SQLite store."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import bakehouse as bh
from bakehouse.client.client import Client
from bakehouse.errors import BakehouseError, InvalidParameterError


def test_default_store_is_sqlite_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with bh.start_run() as run:
        bh.log_param("p", 1)
    assert (tmp_path / "bakehouse.db").exists()
    assert bh.get_tracking_uri() == f"sqlite:///{tmp_path / 'bakehouse.db'}"
    assert run.info.artifact_uri.startswith(str(tmp_path / "bakehouse-artifacts" / "0"))


def test_run_ends_finished_failed_or_killed(tmp_tracking_uri: str) -> None:
    with bh.start_run() as ok:
        pass
    with pytest.raises(ValueError), bh.start_run() as failed:
        raise ValueError("boom")
    with pytest.raises(KeyboardInterrupt), bh.start_run() as killed:
        raise KeyboardInterrupt
    assert bh.get_run(ok.info.run_id).info.status == "FINISHED"
    assert bh.get_run(failed.info.run_id).info.status == "FAILED"
    assert bh.get_run(killed.info.run_id).info.status == "KILLED"
    assert bh.get_run(ok.info.run_id).info.end_time is not None
    assert bh.active_run() is None


def test_system_tags_and_description(tmp_tracking_uri: str) -> None:
    with bh.start_run(run_name="named", tags={"team": "x"}, description="**notes**") as run:
        pass
    tags = bh.get_run(run.info.run_id).data.tags
    assert tags["mlflow.runName"] == "named"
    assert tags["team"] == "x"
    assert tags["mlflow.note.content"] == "**notes**"
    assert tags["mlflow.source.type"] == "LOCAL"
    assert tags["mlflow.user"]
    assert tags["mlflow.source.name"]


def test_git_commit_tag_inside_a_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    subprocess.run(["git", "init", "-q", "-b", "feature/x", str(repo)], check=True, env=env)
    subprocess.run(
        ["git", "-C", str(repo), "remote", "add", "upstream", "https://bot:s3cret@git.example/team/m.git"],
        check=True,
        env=env,
    )
    subprocess.run(
        ["git", "-C", str(repo), "remote", "add", "origin", "git@git.example:team/fork.git"],
        check=True,
        env=env,
    )
    (repo / "train.py").write_text(
        textwrap.dedent("""
        import bakehouse as bh
        with bh.start_run() as run:
            pass
        print(run.info.run_id)
    """)
    )
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "init"], check=True, env=env)
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    uri = f"sqlite:///{tmp_path / 'git.db'}"
    out = subprocess.run(
        [sys.executable, "train.py"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "BAKEHOUSE_TRACKING_URI": uri},
    ).stdout.strip()
    tags = Client(uri).get_run(out).data.tags
    assert tags["mlflow.source.git.commit"] == commit
    assert tags["mlflow.source.name"] == str(repo / "train.py")
    assert tags["mlflow.source.git.branch"] == "feature/x"
    # MLflow's: the first remote, with the token taken out of the URL
    assert tags["mlflow.source.git.repoURL"] == "https://git.example/team/m.git"
    assert "s3cret" not in str(tags)
    subprocess.run(["git", "-C", str(repo), "checkout", "-q", "--detach"], check=True, env=env)
    out = subprocess.run(
        [sys.executable, "train.py"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "BAKEHOUSE_TRACKING_URI": uri},
    ).stdout.strip()
    detached = Client(uri).get_run(out).data.tags
    assert detached["mlflow.source.git.commit"] == commit and "mlflow.source.git.branch" not in detached


def test_nested_runs_record_their_parent(tmp_tracking_uri: str) -> None:
    with bh.start_run() as parent:
        with pytest.raises(BakehouseError, match="already active"):
            bh.start_run()
        with bh.start_run(nested=True) as child:
            assert bh.active_run().info.run_id == child.info.run_id
        assert bh.active_run().info.run_id == parent.info.run_id
    assert bh.get_run(child.info.run_id).data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert bh.last_active_run().info.run_id == parent.info.run_id


def test_resume_a_run_by_id(tmp_tracking_uri: str) -> None:
    with bh.start_run() as first:
        bh.log_metric("m", 1, step=0)
    end_time = bh.get_run(first.info.run_id).info.end_time
    with bh.start_run(run_id=first.info.run_id) as again:
        assert bh.get_run(again.info.run_id).info.status == "RUNNING"
        assert bh.get_run(again.info.run_id).info.end_time == end_time
        bh.log_metric("m", 2, step=1)
    run = bh.get_run(first.info.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.metrics["m"] == 2


def test_set_experiment_creates_and_activates(tmp_tracking_uri: str) -> None:
    experiment = bh.set_experiment("my-exp")
    with bh.start_run() as run:
        pass
    assert run.info.experiment_id == experiment.experiment_id
    assert bh.set_experiment("my-exp").experiment_id == experiment.experiment_id
    assert bh.set_experiment(experiment_id=experiment.experiment_id).name == "my-exp"
    bh.delete_experiment(experiment.experiment_id)
    with pytest.raises(InvalidParameterError, match="deleted experiment"):
        bh.set_experiment("my-exp")


def test_buffered_metrics_are_visible_to_reads_immediately(tmp_tracking_uri: str) -> None:
    with bh.start_run() as run:
        for step in range(2500):
            bh.log_metric("loss", 1.0 / (step + 1), step=step)
        bh.log_metrics({"a": 1.0, "b": math.inf}, step=3)
        # reads flush first: no point is missing even before the run ends
        assert len(Client().get_metric_history(run.info.run_id, "loss")) == 2500
        assert bh.get_run(run.info.run_id).data.metrics["b"] == math.inf


def test_invalid_metric_raises_at_the_call_site(tmp_tracking_uri: str) -> None:
    with bh.start_run():
        with pytest.raises(InvalidParameterError):
            bh.log_metric("bad", "x")
        with pytest.raises(InvalidParameterError):
            bh.log_metric("../escape", 1.0)
        with pytest.raises(InvalidParameterError):
            bh.log_metric("ok", True)


@pytest.mark.parametrize("ending", ["clean", "exception", "no-end-run", "sys-exit"])
def test_no_point_is_lost_at_process_exit(tmp_path: Path, ending: str) -> None:
    uri = f"sqlite:///{tmp_path / 'exit.db'}"
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent(f"""
        import sys
        import bakehouse as bh
        run = bh.start_run()
        print(run.info.run_id, flush=True)
        for step in range(1234):
            bh.log_metric("x", step, step=step)
        ending = {ending!r}
        if ending == "clean":
            bh.end_run()
        elif ending == "exception":
            raise RuntimeError("crash in user code")
        elif ending == "sys-exit":
            sys.exit(3)
    """)
    )
    proc = subprocess.run(
        [sys.executable, str(script)],
        check=False,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "BAKEHOUSE_TRACKING_URI": uri},
    )
    run_id = proc.stdout.split()[0]
    client = Client(uri)
    assert len(client.get_metric_history(run_id, "x")) == 1234
    expected = "FAILED" if ending == "exception" else "FINISHED"
    assert client.get_run(run_id).info.status == expected


def test_points_survive_a_dead_flusher_thread(tmp_tracking_uri: str) -> None:
    with bh.start_run() as run:
        bh.log_metric("x", 1.0, step=0)
        client = Client()
        batcher = client._batcher
        # the background thread dies (as if killed by an unexpected error); pending points stay queued
        batcher._closed = True
        batcher._wake.set()
        if batcher._thread is not None:
            batcher._thread.join(timeout=5)
        batcher._closed = False
        for step in range(1, 50):
            bh.log_metric("x", float(step), step=step)
    assert len(Client().get_metric_history(run.info.run_id, "x")) == 50


def test_search_runs_dataframe_and_list(tmp_tracking_uri: str) -> None:
    for i in range(3):
        with bh.start_run(run_name=f"r{i}"):
            bh.log_param("i", i)
            bh.log_metric("score", i * 0.5)
    df = bh.search_runs(
        filter_string="metrics.score >= 0.5 OR params.i = '0'", order_by=["metrics.score DESC"]
    )
    assert list(df["params.i"]) == ["2", "1", "0"]
    assert list(df["metrics.score"]) == [1.0, 0.5, 0.0]
    assert str(df["start_time"].dtype).startswith("datetime64")
    runs = bh.search_runs(output_format="list", filter_string="params.i = '1'")
    assert [r.data.params["i"] for r in runs] == ["1"]


def test_artifacts_text_dict_and_files(tmp_tracking_uri: str, tmp_path: Path) -> None:
    local = tmp_path / "data dir"
    (local / "sub").mkdir(parents=True)
    (local / "sub" / "ünï code.txt").write_text("hello")
    with bh.start_run() as run:
        bh.log_text("some text", "notes/readme.txt")
        bh.log_dict({"a": 1}, "config.json")
        bh.log_dict({"b": [1, 2]}, "config.yaml")
        bh.log_artifacts(str(local), "tree")
        bh.log_artifact(str(local / "sub" / "ünï code.txt"))
    client = Client()
    top = {f.path: f.is_dir for f in client.list_artifacts(run.info.run_id)}
    assert top == {
        "notes": True,
        "config.json": False,
        "config.yaml": False,
        "tree": True,
        "ünï code.txt": False,
    }
    out = Path(client.download_artifacts(run.info.run_id, "tree", str(tmp_path / "dl")))
    assert (out / "sub" / "ünï code.txt").read_text() == "hello"
    assert (
        Path(client.download_artifacts(run.info.run_id, "config.yaml", str(tmp_path / "dl2"))).read_text()
        == "b:\n- 1\n- 2\n"
    )
    with pytest.raises(InvalidParameterError):
        client.download_artifacts(run.info.run_id, "../../etc/passwd", str(tmp_path / "dl3"))


def test_experiment_tags_parent_run_and_tracking_uri_state(tmp_tracking_uri: str) -> None:
    assert bh.is_tracking_uri_set()
    experiment = bh.set_experiment("tagged")
    bh.set_experiment_tag("team", "vision")
    bh.set_experiment_tags({"stage": "dev", "owner": 7})
    bh.delete_experiment_tag("stage")
    assert {
        k: v
        for k, v in bh.get_experiment(experiment.experiment_id).tags.items()
        if not k.startswith("mlflow.")
    } == {"team": "vision", "owner": "7"}
    with bh.start_run() as parent, bh.start_run(nested=True) as child:
        pass
    assert bh.get_parent_run(child.info.run_id).info.run_id == parent.info.run_id
    assert bh.get_parent_run(parent.info.run_id) is None


def test_is_tracking_uri_set_is_false_for_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from bakehouse.client import fluent

    fluent._reset_for_tests()
    for name in ("BAKEHOUSE_TRACKING_URI", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    assert not bh.is_tracking_uri_set()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:1")
    assert bh.is_tracking_uri_set()


def test_log_input_records_a_dataset_on_the_active_run(tmp_tracking_uri: str) -> None:
    import pandas as pd

    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "label": [0, 1, 0]})
    train = bh.data.from_pandas(frame, name="train", targets="label")
    holdout = bh.data.from_pandas(frame.head(1), name="holdout")
    with bh.start_run() as run:
        bh.log_input(train, context="training", tags={"version": "3"})
        bh.log_inputs([holdout], contexts=["eval"])
        with pytest.raises(InvalidParameterError):
            bh.log_inputs([train, holdout], contexts=["training"])
    inputs = {d.name: d for d in bh.get_run(run.info.run_id).inputs.dataset_inputs}
    assert set(inputs) == {"train", "holdout"}
    assert inputs["train"].tags == {"version": "3", "mlflow.data.context": "training"}
    assert inputs["train"].digest == train.digest and inputs["train"].source_type == "code"
    assert inputs["holdout"].tags == {"mlflow.data.context": "eval"}
    assert '"num_rows": 3' in inputs["train"].profile


@pytest.fixture
def silent_listener() -> Iterator[socket.socket]:
    """A listening socket nobody should connect to (``accept`` times out after 0.3 s)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.3)
    yield listener
    listener.close()


def test_choosing_a_server_builds_its_client_ahead_and_sends_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, silent_listener: socket.socket
) -> None:
    """The first call of a process should cost what later ones do: the HTTP client is built when the URI
    is chosen (the HTTP client's imports, TLS context, pool), without a request to a server that may not be up yet."""
    from bakehouse.client import fluent
    from bakehouse.store.tracking.rest import RestTrackingStore

    monkeypatch.chdir(tmp_path)
    fluent._reset_for_tests()
    try:
        bh.set_tracking_uri(f"http://127.0.0.1:{silent_listener.getsockname()[1]}")
        store = fluent._client().tracking_store
        assert isinstance(store, RestTrackingStore)
        assert store.transport._pool is not None
        with pytest.raises(TimeoutError):
            silent_listener.accept()  # nobody connected
    finally:
        bh.set_tracking_uri(None)
        fluent._reset_for_tests()


def test_a_client_for_a_server_builds_its_http_client_ahead_and_sends_nothing(
    silent_listener: socket.socket,
) -> None:
    """``Client(tracking_uri=<server>)`` prepares like ``set_tracking_uri`` does: a script that makes its own
    client pays for the HTTP client's set-up there, not in its first call."""
    from bakehouse.client import stores
    from bakehouse.store.tracking.rest import RestTrackingStore

    try:
        client = Client(tracking_uri=f"http://127.0.0.1:{silent_listener.getsockname()[1]}")
        assert isinstance(client.tracking_store, RestTrackingStore)
        assert client.tracking_store.transport._pool is not None
        with pytest.raises(TimeoutError):
            silent_listener.accept()  # nobody connected
    finally:
        stores.clear_store_cache()


def test_choosing_a_database_uri_creates_no_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bakehouse.client import fluent

    monkeypatch.chdir(tmp_path)
    fluent._reset_for_tests()
    try:
        bh.set_tracking_uri(f"sqlite:///{tmp_path / 'later.db'}")
        assert not (tmp_path / "later.db").exists()
        bh.search_experiments()
        assert (tmp_path / "later.db").exists()
    finally:
        bh.set_tracking_uri(None)
        fluent._reset_for_tests()
