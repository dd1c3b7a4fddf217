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
    assert progress.files_started == 2
    assert progress.bytes_done == 300_004
    rendered = out.getvalue()
    assert "Uploading (2 files)" in rendered
    assert "300.0 kB" in rendered or "0.3 MB" in rendered or "300" in rendered


def test_unknown_totals_and_repeated_starts() -> None:
    console = Console(file=io.StringIO(), force_terminal=False, width=80)
    with RichTransferProgress(console=console, min_bar_bytes=1) as progress:
        progress("a", 0, None)
        progress("a", 10, None)
        progress("b", 0, 5)
        progress("b", 5, 5)
    assert (progress.files_started, progress.bytes_done) == (2, 15)
