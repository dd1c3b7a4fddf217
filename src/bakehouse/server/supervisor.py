"""The parent of a multi-worker server: start the workers, replace any that dies, stop them all together.

- A worker that exits while the server runs (killed with -9, out of memory, a crash) is replaced at once, and
  the parent logs which one died and how. A worker dying again and again within seconds of its start is a
  broken deployment, not bad luck: after ``CRASH_LOOP_DEATHS`` such deaths the whole server exits non-zero.
- Workers die with their parent (``PR_SET_PDEATHSIG`` on Linux, a watcher thread elsewhere): a parent killed
  with -9 never leaves orphans holding the port, so the next start does not fail with "address already in
  use".
- SIGTERM or SIGINT to the parent stops every worker gracefully (uvicorn finishes the requests in flight),
  then kills any still running after ``STOP_GRACE_SECONDS``.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from typing import Any

logger = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 35.0
#: a worker that dies within this many seconds of starting counts towards a crash loop
EARLY_DEATH_SECONDS = 10.0
CRASH_LOOP_DEATHS = 5
_PR_SET_PDEATHSIG = 1


class CrashLoopError(RuntimeError):
    pass


def die_with_parent(parent_pid: int) -> None:
    """In a freshly forked worker: get SIGTERM when the parent goes away, however it goes."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            logger.warning("prctl(PR_SET_PDEATHSIG) failed (errno %d)", ctypes.get_errno())
    else:  # pragma: no cover - not Linux: poll for the parent instead
        threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    if os.getppid() != parent_pid:  # it died before the death signal was set up
        os.kill(os.getpid(), signal.SIGTERM)


def _watch_parent(parent_pid: int) -> None:  # pragma: no cover - not Linux
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "an unknown status"
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


class WorkerSupervisor:
    """Keeps ``count`` processes running ``target(*args)`` until told to stop."""

    def __init__(
        self,
        count: int,
        target: Callable[..., None],
        args: tuple[Any, ...],
        on_death: Callable[[int], None] | None = None,
    ) -> None:
        self.count = count
        self.target = target
        self.args = args
        self.on_death = on_death
        self.context = multiprocessing.get_context("fork")
        self.workers: dict[int, tuple[BaseProcess, float]] = {}  # sentinel -> (process, start time)
        self.stopping = False
        self._early_deaths: list[float] = []

    def _run_worker(self, parent_pid: int) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):  # the parent's handlers are not the worker's
            signal.signal(sig, signal.SIG_DFL)
        die_with_parent(parent_pid)
        self.target(*self.args)

    def _start_one(self) -> None:
        process = self.context.Process(target=self._run_worker, args=(os.getpid(),), daemon=False)
        process.start()
        self.workers[process.sentinel] = (process, time.monotonic())

    def _request_stop(self, signum: int, frame: Any) -> None:
        self.stopping = True

    def run(self) -> None:
        """Serve until SIGTERM/SIGINT; raises CrashLoopError if workers keep dying right after starting."""
        previous = {sig: signal.signal(sig, self._request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            for _ in range(self.count):
                self._start_one()
            while not self.stopping:
                for sentinel in wait(list(self.workers), timeout=0.5):
                    if self.stopping:
                        break
                    self._replace(sentinel)  # type: ignore[arg-type]  # wait() on process sentinels yields ints
        finally:
            self.stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _replace(self, sentinel: int) -> None:
        process, started = self.workers.pop(sentinel)
        process.join()
        pid = process.pid or 0
        if self.on_death is not None:
            self.on_death(pid)
        now = time.monotonic()
        if now - started < EARLY_DEATH_SECONDS:
            self._early_deaths = [t for t in self._early_deaths if now - t < 60.0] + [now]
            if len(self._early_deaths) >= CRASH_LOOP_DEATHS:
                raise CrashLoopError(
                    f"{len(self._early_deaths)} workers died within {EARLY_DEATH_SECONDS:.0f} s of starting "
                    f"(the last with {_describe_exit(process.exitcode)}); stopping the server"
                )
        logger.warning(
            "Worker %d stopped with %s; starting a replacement", pid, _describe_exit(process.exitcode)
        )
        self._start_one()

    def stop_all(self) -> None:
        processes = [process for process, _ in self.workers.values()]
        for process in processes:
            if process.is_alive() and process.pid is not None:
                try:
                    os.kill(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                logger.warning("Worker %s did not stop in time; killing it", process.pid)
                process.kill()
                process.join(5)
        self.workers.clear()
