"""The rich progress adapter the CLI passes as ``progress=``."""

from __future__ import annotations

import io
import os
from pathlib import Path

from rich.console import Console

from bakehouse.store.artifacts.local import LocalArtifactRepository
from bakehouse.store.artifacts.progress import RichTransferProgress


def test_counts_files_and_bytes_and_renders(tmp_path: Path) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, color_system=None)
    src = tmp_path / "src"
    src.mkdir()
    (src / "big.bin").write_bytes(os.urandom(300_000))
    (src / "small.txt").write_text("tiny")
    repo = LocalArtifactRepository(str(tmp_path / "root"))
    with RichTransferProgress("Uploading", min_bar_bytes=100_000, console=console) as progress:
        repo.log_artifacts(src, "run", progress=progress)
        assert set(progress._tasks) == set()  # finished per-file bars are removed
    assert (progress.files_started, progress.files_done) == (2, 2)
    assert progress.bytes_done == 300_004
    rendered = out.getvalue()
    assert "Uploading (2/2 files)" in rendered
    assert "300.0 kB" in rendered or "0.3 MB" in rendered or "300" in rendered


def test_unknown_totals_and_repeated_starts() -> None:
    console = Console(file=io.StringIO(), force_terminal=False, width=80)
    with RichTransferProgress(console=console, min_bar_bytes=1) as progress:
        progress("a", 0, None)
        progress("a", 10, None)
        progress("b", 0, 5)
        progress("b", 5, 5)
    assert (progress.files_started, progress.bytes_done) == (2, 15)
    assert progress.files_done == 1  # "a" has no known total: never counted as done


def test_a_directory_announces_every_file_before_the_first_starts(tmp_path: Path) -> None:
    """The overall bar knows the whole task at once: 0 of N files, then each one as it completes."""
    src = tmp_path / "many"
    src.mkdir()
    for index in range(50):
        (src / f"f{index:02d}.txt").write_text("x" * index)  # f00 is empty
    repo = LocalArtifactRepository(str(tmp_path / "root"))
    seen: list[tuple[str, int, int | None]] = []
    repo.log_artifacts(src, "many", progress=lambda path, advance, total: seen.append((path, advance, total)))
    first_fifty = seen[:50]
    assert {path for path, _advance, _total in first_fifty} == {f"many/f{i:02d}.txt" for i in range(50)}
    assert all(advance == 0 for _path, advance, _total in first_fifty)
    console = Console(file=io.StringIO(), force_terminal=False, width=80)
    with RichTransferProgress(console=console) as progress:
        repo.download_artifacts("many", tmp_path / "dl", progress=progress)
    assert (progress.files_started, progress.files_done, progress.bytes_done) == (50, 50, sum(range(50)))
