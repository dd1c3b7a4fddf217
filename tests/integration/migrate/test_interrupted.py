"""A migration killed with SIGKILL (mid-histories, then mid-way through the 100 MB file) and run again ends
exactly where an uninterrupted one does: the same rows in every table, the same artifact bytes."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from migrate_support import BAKEHOUSE, FixtureStore, sha256_of, tree_digest

pytestmark = pytest.mark.timeout(900)


def _start(store: FixtureStore, dest: Path, root: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            *BAKEHOUSE,
            "migrate",
            "--from",
            store.uri,
            "--to",
            f"sqlite:///{dest}",
            "--artifact-root",
            str(root),
            "--json",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _count(dest: Path, table: str) -> int:
    try:
        with sqlite3.connect(f"file:{dest}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    except sqlite3.Error:
        return 0


def _kill_when(proc: subprocess.Popen[bytes], condition: object, timeout: float = 300) -> bool:
    """SIGKILL the migration as soon as ``condition()`` holds; False if it finished first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if condition():
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            return True
        time.sleep(0.005)
    proc.kill()
    raise AssertionError("the migration neither finished nor reached the kill point")


def _tables(dest: Path, root: Path) -> dict[str, list[str]]:
    """Every row of every table, with the artifact root written as a placeholder."""
    out = {}
    with sqlite3.connect(f"file:{dest}?mode=ro", uri=True) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for name in sorted(names):
            rows = conn.execute(f'SELECT * FROM "{name}"').fetchall()
            out[name] = sorted(repr(row).replace(str(root), "<root>") for row in rows)
    return out


def test_sigkill_and_run_again_equals_an_uninterrupted_migration(
    mlflow3_stores: dict[str, FixtureStore], tmp_path: Path
) -> None:
    store = mlflow3_stores["mlflow3-sqlite-big"].copy_to(tmp_path / "source")
    before = sha256_of(store.db)

    whole, whole_root = tmp_path / "whole.db", tmp_path / "whole-artifacts"
    assert _start(store, whole, whole_root).wait(timeout=600) == 0

    resumed, resumed_root = tmp_path / "resumed.db", tmp_path / "resumed-artifacts"
    killed_in_runs = _kill_when(_start(store, resumed, resumed_root), lambda: _count(resumed, "runs") > 0)
    assert killed_in_runs, "the migration finished before it could be killed"
    assert _count(resumed, "model_versions") == 0  # the registry (written after the runs) is still missing

    def copying_big_file() -> bool:
        return any(p.name.startswith(".bakehouse-tmp-") for p in resumed_root.rglob("*"))

    killed_in_copy = _kill_when(_start(store, resumed, resumed_root), copying_big_file)
    final = subprocess.run(
        [
            *BAKEHOUSE,
            "migrate",
            "--from",
            store.uri,
            "--to",
            f"sqlite:///{resumed}",
            "--artifact-root",
            str(resumed_root),
            "--json",
            "--verify",
            "points",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert final.returncode == 0, final.stderr
    report = json.loads(final.stdout)
    assert report["verified"] is True
    if killed_in_copy:
        assert report["artifact_files_copied"] >= 1  # the file cut short was copied whole this time

    assert _tables(resumed, resumed_root) == _tables(whole, whole_root)
    assert tree_digest(resumed_root) == tree_digest(whole_root)
    assert not any(p.name.startswith(".bakehouse-tmp-") for p in resumed_root.rglob("*"))
    assert sha256_of(store.db) == before
