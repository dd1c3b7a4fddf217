"""Child process groups: live prefixed output, exit codes, and termination that reaches grandchildren."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from bakehouse.projects.backends.local import LocalBackend, start_process


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_exit_code_and_prefixed_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    child = start_process(["bash", "-c", "echo one; echo two >&2; exit 4"], tmp_path, dict(os.environ), "C=1")
    assert child.wait() == 4
    out, err = capsys.readouterr()
    assert out == "[C=1] one\n"
    assert err == "[C=1] two\n"
    assert LocalBackend().run(["bash", "-c", "exit 0"], tmp_path, dict(os.environ)) == 0


def test_terminate_stops_the_whole_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    child = start_process(
        ["bash", "-c", f"sleep 60 & echo $! > {pid_file}; wait"], tmp_path, dict(os.environ)
    )
    deadline = time.monotonic() + 10
    while not (pid_file.exists() and pid_file.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    grandchild = int(pid_file.read_text())
    assert _alive(grandchild)
    started = time.monotonic()
    child.terminate(grace=5)
    assert child.poll() is not None
    assert time.monotonic() - started < 5  # SIGTERM was enough, no need to wait for SIGKILL
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(grandchild)


def test_sigterm_ignoring_child_is_killed(tmp_path: Path) -> None:
    child = start_process(["bash", "-c", "trap '' TERM; sleep 30"], tmp_path, dict(os.environ))
    time.sleep(0.3)
    started = time.monotonic()
    child.terminate(grace=0.5)
    assert child.poll() is not None
    assert time.monotonic() - started < 5
