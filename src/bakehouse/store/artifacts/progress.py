"""A rich progress display for artifact transfers, for the CLI to pass as ``progress=``.

The library never prints: repositories only call the :data:`~bakehouse.store.artifacts.base.ProgressCallback`
they are given. This adapter turns those calls into one bar per large file plus an overall bar (bytes, and files done
out of files known: a directory transfer announces all of its files first), and is safe to share between
the parallel transfer threads.
"""

from __future__ import annotations

import threading
from typing import Any, Self

#: Files smaller than this only count towards the totals (a bar per tiny file is noise).
DEFAULT_MIN_BAR_BYTES = 8 * 1024 * 1024


class RichTransferProgress:
    """Context manager and progress callback::

    with RichTransferProgress("Uploading") as progress:
        repo.log_artifacts(local_dir, progress=progress)
    """

    def __init__(
        self,
        description: str = "Transferring",
        min_bar_bytes: int = DEFAULT_MIN_BAR_BYTES,
        console: Any = None,
        transient: bool = False,
    ) -> None:
        from rich.progress import (  # rich is only needed when a CLI actually shows progress
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.description = description
        self.min_bar_bytes = min_bar_bytes
        self._progress = Progress(
            TextColumn("[bold]{task.description}", justify="left"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=transient,
        )
        self._lock = threading.Lock()
        self._tasks: dict[str, Any] = {}
        self._done: dict[str, int] = {}
        self._totals: dict[str, int | None] = {}
        self._overall: Any = None
        self.files_started = 0
        self.files_done = 0
        self.bytes_done = 0

    def __enter__(self) -> Self:
        self._progress.start()
        self._overall = self._progress.add_task(self._overall_description(), total=0)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()

    def _overall_description(self) -> str:
        return f"{self.description} ({self.files_done:,}/{self.files_started:,} files)"

    def __call__(self, path: str, advance: int, total: int | None) -> None:
        with self._lock:
            if path not in self._done:
                self._done[path] = 0
                self._totals[path] = total
                self.files_started += 1
                if total == 0:  # an empty file has no bytes to wait for
                    self.files_done += 1
                if total is not None and total >= self.min_bar_bytes:
                    self._tasks[path] = self._progress.add_task(path, total=total)
                if self._overall is not None:
                    overall_total = sum(size or 0 for size in self._totals.values())
                    self._progress.update(
                        self._overall, total=overall_total, description=self._overall_description()
                    )
            if advance <= 0:
                return
            before = self._done[path]
            self._done[path] = before + advance
            self.bytes_done += advance
            finished = total is not None and before < total <= self._done[path]
            if finished:
                self.files_done += 1
            task = self._tasks.get(path)
            if task is not None:
                self._progress.update(task, advance=advance)
                if finished:
                    self._progress.remove_task(task)
                    del self._tasks[path]
            if self._overall is not None:
                self._progress.update(self._overall, advance=advance, description=self._overall_description())
