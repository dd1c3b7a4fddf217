"""Running a command as a child process group: live output, exit code, and clean termination.

The child gets its own process group (``start_new_session``) so that stopping a run stops everything it
started (shell, Python, data loaders), not just the shell. Output is inherited, so it streams live; in a
parallel sweep each line is prefixed with the child's label instead, so interleaved output stays readable.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO

logger = logging.getLogger(__name__)

TERMINATE_GRACE_SECONDS = 10.0


@dataclass(eq=False)  # identity semantics: children are kept in sets
class ChildProcess:
    """A started child process group."""

    process: subprocess.Popen[bytes]
    pumps: tuple[threading.Thread, ...] = ()

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait(self) -> int:
        code = self.process.wait()
        for pump in self.pumps:
            pump.join(timeout=5)
        return code

    def poll(self) -> int | None:
        return self.process.poll()

    def terminate(self, grace: float = TERMINATE_GRACE_SECONDS) -> None:
        """SIGTERM the whole group, then SIGKILL whatever is left after ``grace`` seconds."""
        _signal_group(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(self.process.pid, signal.SIGKILL)  # grandchildren may outlive the group leader
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            logger.warning("Process %s did not exit after SIGKILL", self.process.pid)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def start_process(argv: list[str], cwd: Path, env: dict[str, str], label: str | None = None) -> ChildProcess:
    if label is None:
        process = subprocess.Popen(argv, cwd=cwd, env=env, start_new_session=True)
        return ChildProcess(process)
    env = {
        **env,
        "PYTHONUNBUFFERED": env.get("PYTHONUNBUFFERED", "1"),
    }  # a pipe must not delay Python's lines
    process = subprocess.Popen(
        argv, cwd=cwd, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    pumps = (
        _pump(process.stdout, sys.stdout, label),
        _pump(process.stderr, sys.stderr, label),
    )
    return ChildProcess(process, pumps)


def _pump(source: IO[bytes], sink: IO[str], label: str) -> threading.Thread:
    def copy() -> None:
        for raw in iter(source.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            sink.write(f"[{label}] {line}\n")
            sink.flush()
        source.close()

    thread = threading.Thread(target=copy, name=f"output-{label}", daemon=True)
    thread.start()
    return thread


class LocalBackend:
    """Runs the command here and blocks until it ends; Ctrl-C stops the child group and re-raises."""

    name = "local"

    def run(self, argv: list[str], cwd: Path, env: dict[str, str], label: str | None = None) -> int:
        child = start_process(argv, cwd, env, label)
        try:
            return child.wait()
        except BaseException:
            child.terminate()
            raise
