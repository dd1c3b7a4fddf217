"""The tracking CLI end to end: in-process through click's CliRunner, and as a real `bakehouse` process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bakehouse.cli.main import main
from bakehouse.version import __version__


@pytest.fixture
def cli(tmp_tracking_uri: str):
    """Invoke ``bakehouse ARGS`` in-process against a fresh SQLite store; returns the click Result."""
    runner = CliRunner()

    def invoke(*args: str, expect: int | None = 0):
        result = runner.invoke(main, list(args), catch_exceptions=False)
        if expect is not None:
            assert result.exit_code == expect, (
                f"bakehouse {' '.join(args)} -> {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result

    return invoke


@pytest.fixture
def client(tmp_tracking_uri: str):
    from bakehouse.client.client import Client

    return Client(tracking_uri=tmp_tracking_uri)


def _log_run(
    client, experiment_id: str, params: dict[str, str], metrics: dict[str, float], tags: dict[str, str]
):
    from bakehouse.entities import Metric, Param, RunTag

    run = client.create_run(experiment_id, run_name="cli-run")
    client.log_batch(
        run.info.run_id,
        metrics=[Metric(k, v, 1_700_000_000_000, 0) for k, v in metrics.items()],
        params=[Param(k, v) for k, v in params.items()],
        tags=[RunTag(k, v) for k, v in tags.items()],
    )
    client.set_terminated(run.info.run_id)
    return run.info.run_id


BAKEHOUSE = [str(Path(sys.executable).parent / "bakehouse")]


def run_bakehouse(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BAKEHOUSE, *args],
        check=False,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


# ----------------------------------------------------------------------------------- top-level group


def test_version_and_help(cli) -> None:
    assert cli("--version").stdout.strip() == f"bakehouse {__version__}"
    help_text = cli("--help").stdout
    for name in ("experiments", "runs", "artifacts", "db", "gc"):
        assert f"  {name} " in help_text


def test_version_imports_nothing_heavy(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from bakehouse.cli.main import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit as e:\n    assert e.code in (0, None)\n"
        "heavy = [m for m in ('sqlalchemy', 'rich', 'pandas', 'numpy', 'boto3', 'sklearn', 'mlflow') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert f"bakehouse {__version__}" in proc.stdout
    assert "HEAVY=\n" in proc.stdout


def test_unknown_command_is_a_usage_error(cli) -> None:
    result = cli("no-such-command", expect=2)
    assert "No such command 'no-such-command'" in result.stderr


# -------------------------------------------------------------------------------------- experiments


def test_experiments_lifecycle(cli, client) -> None:
    created = json.loads(cli("experiments", "create", "-n", "alpha", "--tag", "team=ml", "--json").stdout)
    experiment_id = created["experiment_id"]
    assert created["name"] == "alpha"
    assert client.get_experiment(experiment_id).tags["team"] == "ml"

    listed = json.loads(cli("experiments", "search", "--json").stdout)
    assert sorted(e["name"] for e in listed) == ["Default", "alpha"]

    table = cli("experiments", "search").stdout
    assert "alpha" in table and "Default" in table

    assert (
        "renamed to 'beta'" in cli("experiments", "rename", "-x", experiment_id, "--new-name", "beta").stdout
    )
    assert client.get_experiment(experiment_id).name == "beta"

    cli("experiments", "delete", "-x", experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "deleted"
    active = json.loads(cli("experiments", "search", "--json").stdout)
    assert [e["name"] for e in active] == ["Default"]
    deleted = json.loads(cli("experiments", "search", "--view", "deleted_only", "--json").stdout)
    assert [e["name"] for e in deleted] == ["beta"]

    cli("experiments", "restore", "-x", experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "active"


def test_experiment_create_duplicate_is_one_clear_line(cli) -> None:
    cli("experiments", "create", "-n", "dup")
    result = cli("experiments", "create", "-n", "dup", expect=1)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: ") and "already exists" in lines[0]
    assert "Traceback" not in result.stderr


def test_experiment_create_rejects_malformed_tag(cli) -> None:
    result = cli("experiments", "create", "-n", "x", "--tag", "novalue", expect=2)
    assert "expected KEY=VALUE" in result.stderr


# --------------------------------------------------------------------------------------------- runs


def test_runs_list_shows_params_metrics_and_tags(cli, client) -> None:
    experiment_id = client.create_experiment("iris")
    run_id = _log_run(
        client, experiment_id, {"C": "0.5", "solver": "lbfgs"}, {"accuracy": 0.97}, {"team": "ml"}
    )

    table = cli("runs", "list", "--experiment-name", "iris").stdout
    assert run_id in table
    for text in ("C=0.5", "solver=lbfgs", "accuracy=0.97", "team=ml", "FINISHED"):
        assert text in table
    assert "mlflow.user" not in table  # system tags only with --all-tags
    assert "mlflow.runName=cli-run" in cli("runs", "list", "-x", experiment_id, "--all-tags").stdout

    runs = json.loads(cli("runs", "list", "-x", experiment_id, "--json").stdout)
    assert len(runs) == 1
    assert runs[0]["info"]["run_id"] == run_id
    assert runs[0]["info"]["status"] == "FINISHED"
    assert runs[0]["data"]["params"] == {"C": "0.5", "solver": "lbfgs"}
    assert runs[0]["data"]["metrics"] == {"accuracy": 0.97}
    assert runs[0]["data"]["tags"]["team"] == "ml"


def test_runs_list_filter_and_order(cli, client) -> None:
    experiment_id = client.create_experiment("sweep")
    ids = [
        _log_run(client, experiment_id, {"lr": str(lr)}, {"acc": acc}, {})
        for lr, acc in [(0.1, 0.5), (0.01, 0.9), (0.001, 0.7)]
    ]
    runs = json.loads(
        cli(
            "runs",
            "list",
            "-x",
            experiment_id,
            "--filter",
            "metrics.acc > 0.6",
            "--order-by",
            "metrics.acc DESC",
            "--json",
        ).stdout
    )
    assert [r["info"]["run_id"] for r in runs] == [ids[1], ids[2]]
    limited = json.loads(
        cli(
            "runs",
            "list",
            "-x",
            experiment_id,
            "--max-results",
            "1",
            "--order-by",
            "metrics.acc ASC",
            "--json",
        ).stdout
    )
    assert [r["info"]["run_id"] for r in limited] == [ids[0]]


def test_runs_list_default_experiment_and_unknown_name(cli, client) -> None:
    run_id = _log_run(client, "0", {}, {"m": 1.0}, {})
    assert run_id in cli("runs", "list").stdout
    result = cli("runs", "list", "--experiment-name", "nope", expect=1)
    assert result.stderr.strip() == "Error: Experiment 'nope' does not exist"


def test_runs_describe_delete_restore(cli, client) -> None:
    run_id = _log_run(client, "0", {"p": "1"}, {"loss": 0.25}, {"k": "v"})
    described = json.loads(cli("runs", "describe", "-r", run_id, "--json").stdout)
    assert described["info"]["run_id"] == run_id
    assert described["data"] == {
        "params": {"p": "1"},
        "metrics": {"loss": 0.25},
        "tags": {**described["data"]["tags"], "k": "v"},
    }
    text = cli("runs", "describe", "-r", run_id).stdout
    assert "loss" in text and "0.25" in text and run_id in text

    cli("runs", "delete", "-r", run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    assert run_id not in cli("runs", "list").stdout
    listed_all = cli("runs", "list", "--view", "all").stdout
    assert run_id in listed_all and "(deleted)" in listed_all
    cli("runs", "restore", "-r", run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "active"


def test_runs_describe_unknown_run(cli) -> None:
    result = cli("runs", "describe", "-r", "0" * 32, expect=1)
    assert result.stderr.count("\n") == 1
    assert "not found" in result.stderr.lower()


# ---------------------------------------------------------------------------------------- artifacts


def test_artifacts_log_list_download(cli, client, tmp_path: Path) -> None:
    run_id = _log_run(client, "0", {}, {}, {})
    local = tmp_path / "report.txt"
    local.write_text("accuracy 0.97\n")
    big = tmp_path / "weights.bin"
    big.write_bytes(os.urandom(3 * 1024 * 1024))  # over the progress-bar threshold
    cli("artifacts", "log-artifact", "-l", str(local), "-r", run_id, "-a", "reports")
    cli("artifacts", "log-artifact", "-l", str(big), "-r", run_id)

    listed = json.loads(cli("artifacts", "list", "-r", run_id, "--json").stdout)["files"]
    assert [(f["path"], f["is_dir"]) for f in listed] == [("reports", True), ("weights.bin", False)]
    assert listed[1]["file_size"] == 3 * 1024 * 1024
    inner = json.loads(cli("artifacts", "list", "-r", run_id, "-a", "reports", "--json").stdout)["files"]
    assert inner == [{"path": "reports/report.txt", "is_dir": False, "file_size": 14}]
    assert "3.0 MB" in cli("artifacts", "list", "-r", run_id).stdout

    dst = tmp_path / "out"
    path = cli("artifacts", "download", "-r", run_id, "-d", str(dst)).stdout.strip()
    assert Path(path, "reports", "report.txt").read_text() == "accuracy 0.97\n"
    assert Path(path, "weights.bin").read_bytes() == big.read_bytes()

    one = cli("artifacts", "download", "-u", f"runs:/{run_id}/reports/report.txt", "-d", str(tmp_path / "o2"))
    assert Path(one.stdout.strip()).read_text() == "accuracy 0.97\n"


def test_artifacts_log_directory(cli, client, tmp_path: Path) -> None:
    run_id = _log_run(client, "0", {}, {}, {})
    source = tmp_path / "model"
    (source / "sub").mkdir(parents=True)
    (source / "MLmodel").write_text("flavors: {}\n")
    (source / "sub" / "data.json").write_text("{}")
    cli("artifacts", "log-artifacts", "-l", str(source), "-r", run_id, "-a", "model")
    files = json.loads(cli("artifacts", "list", "-r", run_id, "-a", "model", "--json").stdout)["files"]
    assert [f["path"] for f in files] == ["model/MLmodel", "model/sub"]


def test_artifacts_download_needs_exactly_one_source(cli) -> None:
    result = cli("artifacts", "download", expect=2)
    assert "exactly one of --run-id or --artifact-uri" in result.stderr


# ---------------------------------------------------------------------------------------------- gc


def _artifact_dir(client, run_id: str) -> Path:
    return Path(client.get_run(run_id).info.artifact_uri)


def test_gc_deletes_deleted_runs_and_their_artifacts(cli, client, tmp_path: Path) -> None:
    keep = _log_run(client, "0", {}, {"m": 1.0}, {})
    drop = _log_run(client, "0", {}, {"m": 2.0}, {})
    for run_id in (keep, drop):
        client.log_text(run_id, "hello", "notes.txt")
    drop_dir = _artifact_dir(client, drop)
    assert (drop_dir / "notes.txt").exists()
    cli("runs", "delete", "-r", drop)

    # too recent for --older-than 1d: nothing happens
    assert "0 run(s)" in cli("gc", "--older-than", "1d").stdout
    assert client.get_run(drop).info.lifecycle_stage == "deleted"

    dry = cli("gc", "--dry-run")
    assert f"Would delete run {drop}" in dry.stderr
    assert drop_dir.exists()

    result = cli("gc")
    assert f"Deleted run {drop}" in result.stderr
    assert "Permanently deleted 1 run(s) and 0 experiment(s)" in result.stdout
    assert not drop_dir.exists()
    assert not drop_dir.parent.exists()  # the empty <run_id>/ directory goes too
    from bakehouse.errors import NotFoundError

    with pytest.raises(NotFoundError):
        client.get_run(drop)
    assert (_artifact_dir(client, keep) / "notes.txt").read_text() == "hello"


def test_gc_traces_older_than_a_duration(cli, client) -> None:
    """Trace retention: only traces that started before the cutoff go, with everything attached to them."""
    import time
    import uuid

    from bakehouse.entities.trace import Assessment, Span

    store = client.tracking_store
    now_ns = time.time_ns()
    old, recent = f"tr-{uuid.uuid4().hex}", f"tr-{uuid.uuid4().hex}"
    three_days = 3 * 86_400 * 1_000_000_000
    store.log_spans(
        "0", [Span(old, "a" * 16, None, "old", now_ns - three_days, now_ns - three_days + 1000, "OK")]
    )
    store.log_spans("0", [Span(recent, "b" * 16, None, "new", now_ns, now_ns + 1000, "OK")])
    store.create_assessment(Assessment("", old, "good", "feedback", True, {"value": True}))
    result = cli("gc", "--traces", "--dry-run", "--older-than", "2d")
    assert "Would permanently delete 1 trace(s)" in result.stdout
    store.get_trace(old)
    result = cli("gc", "--traces", "--older-than", "2d")
    assert "Permanently deleted 1 trace(s)" in result.stdout
    from bakehouse.errors import NotFoundError

    with pytest.raises(NotFoundError):
        store.get_trace_info(old)
    assert store.get_trace(recent).spans[0].name == "new"
    assert "--traces needs --older-than" in cli("gc", "--traces", expect=2).stderr


def test_gc_explicit_ids_and_experiments(cli, client) -> None:
    active = _log_run(client, "0", {}, {}, {})
    result = cli("gc", "--run-ids", active, expect=1)
    assert "not in the deleted lifecycle stage" in result.stderr
    assert client.get_run(active).info.lifecycle_stage == "active"

    experiment_id = client.create_experiment("doomed")
    inner = _log_run(client, experiment_id, {}, {}, {})  # an active run inside a deleted experiment
    cli("experiments", "delete", "-x", experiment_id)
    other_deleted = _log_run(client, "0", {}, {}, {})
    client.delete_run(other_deleted)

    cli("gc", "--experiment-ids", experiment_id)
    from bakehouse.errors import NotFoundError

    with pytest.raises(NotFoundError):
        client.get_experiment(experiment_id)
    with pytest.raises(NotFoundError):
        client.get_run(inner)
    assert client.get_run(other_deleted).info.lifecycle_stage == "deleted"  # not named, so kept

    cli("gc", "--run-ids", other_deleted)
    with pytest.raises(NotFoundError):
        client.get_run(other_deleted)


@pytest.mark.parametrize(
    "text, millis", [("30d", 30 * 86_400_000), ("1d2h30m", 95_400_000), ("90s", 90_000), ("1.5h", 5_400_000)]
)
def test_gc_duration_parsing(text: str, millis: int) -> None:
    from bakehouse.cli.gc import parse_duration

    assert parse_duration(text) == millis


def test_gc_refuses_a_tracking_server_clearly(cli, bakehouse_server) -> None:
    """MLflow's REST API has no permanent deletion: gc says to use the database, and deletes nothing."""
    result = cli("gc", "--backend-store-uri", bakehouse_server().url, expect=1)
    assert "bakehouse gc works on the tracking database itself" in result.stderr
    assert "--backend-store-uri sqlite:///" in result.stderr and "Traceback" not in result.stderr


def test_gc_rejects_bad_duration(cli) -> None:
    result = cli("gc", "--older-than", "30 days", expect=2)
    assert "use a duration like 30d" in result.stderr


# ---------------------------------------------------------------------------------------------- db


def test_db_upgrade_fresh_sqlite(cli, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'fresh.db'}"
    result = cli("db", "upgrade", uri)
    assert "Database schema is up to date" in result.stdout
    assert "Applied migration" in result.stderr
    again = cli("db", "upgrade", uri)
    assert "Applied migration" not in again.stderr
    from bakehouse.client.client import Client

    client = Client(tracking_uri=uri)
    assert client.create_experiment("after-upgrade")
    assert sorted(e.name for e in client.search_experiments()) == ["Default", "after-upgrade"]


@pytest.mark.postgres
def test_db_upgrade_postgres(cli, postgres_uri: str) -> None:
    result = cli("db", "upgrade", postgres_uri)
    assert "Database schema is up to date" in result.stdout
    from bakehouse.client.client import Client

    client = Client(tracking_uri=postgres_uri)
    experiment_id = client.create_experiment("pg")
    assert client.get_experiment(experiment_id).name == "pg"


# -------------------------------------------------------------------------------- real processes


def test_subprocess_end_to_end(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'sub.db'}"
    env = {"BAKEHOUSE_TRACKING_URI": uri}
    created = run_bakehouse("experiments", "create", "-n", "proc", "--json", cwd=tmp_path, env=env)
    assert created.returncode == 0, created.stderr
    experiment_id = json.loads(created.stdout)["experiment_id"]

    code = (
        "import bakehouse\n"
        f"bakehouse.set_experiment(experiment_id={experiment_id!r})\n"
        "with bakehouse.start_run(run_name='p') as run:\n"
        "    bakehouse.log_param('alpha', 0.5)\n"
        "    for i in range(5):\n"
        "        bakehouse.log_metric('loss', 1.0 / (i + 1), step=i)\n"
        "print(run.info.run_id)\n"
    )
    logged = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )
    assert logged.returncode == 0, logged.stderr
    run_id = logged.stdout.strip()

    listed = run_bakehouse("runs", "list", "-x", experiment_id, "--json", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    (run,) = json.loads(listed.stdout)
    assert run["info"]["run_id"] == run_id
    assert run["data"]["params"] == {"alpha": "0.5"}
    assert run["data"]["metrics"] == {"loss": 0.2}

    table = run_bakehouse("runs", "list", "-n", "proc", cwd=tmp_path, env=env)
    assert table.returncode == 0 and run_id in table.stdout and "alpha=0.5" in table.stdout


def test_subprocess_errors_are_one_line_and_debug_shows_traceback(tmp_path: Path) -> None:
    env = {"BAKEHOUSE_TRACKING_URI": f"sqlite:///{tmp_path / 'err.db'}"}
    missing = "f" * 32
    plain = run_bakehouse("runs", "describe", "-r", missing, cwd=tmp_path, env=env)
    assert plain.returncode == 1
    assert plain.stdout == ""
    assert plain.stderr.count("\n") == 1 and plain.stderr.startswith("Error: ")
    assert missing in plain.stderr and "Traceback" not in plain.stderr

    debug = run_bakehouse("--debug", "runs", "describe", "-r", missing, cwd=tmp_path, env=env)
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert "NotFoundError" in debug.stderr


def test_subprocess_unexpected_error_is_one_line(tmp_path: Path) -> None:
    # a file where the SQLite database's directory should be: an OSError, not a BakehouseError
    (tmp_path / "blocker").write_text("")
    uri = f"sqlite:///{tmp_path / 'blocker' / 'sub' / 'x.db'}"
    plain = run_bakehouse("runs", "list", "--tracking-uri", uri, cwd=tmp_path)
    assert plain.returncode == 1
    assert plain.stderr.count("\n") == 1
    assert plain.stderr.startswith("Error: ") and "--debug" in plain.stderr
    debug = run_bakehouse("--debug", "runs", "list", "--tracking-uri", uri, cwd=tmp_path)
    assert debug.returncode == 1 and "Traceback" in debug.stderr


# ------------------------------------------------------------------------------ lazy command loading


def test_absent_command_module_fails_clearly(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every command is ours: a missing module is a bug to report, never a command that silently vanishes."""
    from bakehouse.cli import main as main_module

    monkeypatch.setitem(main_module.LAZY_COMMANDS, "ghost", "bakehouse.cli.not_built_yet:ghost_command")
    for args in (("ghost",), ("--help",)):
        result = cli(*args, expect=1)
        assert result.stderr.startswith("Error: The 'ghost' command failed to load: ModuleNotFoundError")
        assert "Traceback" not in result.stderr


def test_broken_command_module_fails_clearly(cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from bakehouse.cli import main as main_module

    (tmp_path / "bh_broken_cli_module.py").write_text("raise RuntimeError('half-written module')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(main_module.LAZY_COMMANDS, "broken", "bh_broken_cli_module:command")
    for args in (("broken",), ("--help",)):  # the listing reports it too, rather than hiding the command
        result = cli(*args, expect=1)
        assert "The 'broken' command failed to load: RuntimeError: half-written module" in result.stderr


def test_command_attribute_that_is_not_a_command_fails_clearly(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    from bakehouse.cli import main as main_module

    monkeypatch.setitem(main_module.LAZY_COMMANDS, "odd", "bakehouse.cli.gc:parse_duration")
    assert "bakehouse.cli.gc:parse_duration is not a click command" in cli("odd", expect=1).stderr
    monkeypatch.setitem(main_module.LAZY_COMMANDS, "gone", "bakehouse.cli.gc:no_such_attribute")
    assert "'gone' command failed to load: AttributeError" in cli("gone", expect=1).stderr


def test_server_ui_models_and_run_commands_are_registered(cli) -> None:
    help_text = cli("--help").stdout
    for name in ("server", "ui", "models", "run"):
        assert f"  {name} " in help_text
    models_help = cli("models", "--help").stdout
    for name in ("serve", "set-alias", "register"):  # serving + registry commands on one group
        assert f"  {name} " in models_help
