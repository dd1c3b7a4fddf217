"""The system tags MLflow sets on a new run: user, source name and type, git commit."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bakehouse import settings


def default_tags() -> dict[str, str]:
    tags = {"mlflow.user": settings.current_user()}
    source = _source_name()
    tags["mlflow.source.name"] = source
    tags["mlflow.source.type"] = "NOTEBOOK" if _in_notebook() else "LOCAL"
    commit = git_commit(Path(source).parent if source and Path(source).exists() else Path.cwd())
    if commit:
        tags["mlflow.source.git.commit"] = commit
    return tags


def _source_name() -> str:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None) or (sys.argv[0] if sys.argv and sys.argv[0] else "")
    if path and path not in ("-c", "-m") and os.path.exists(path):
        return str(Path(path).resolve())
    return path or "<console>"


def _in_notebook() -> bool:
    return "ipykernel" in sys.modules


def git_commit(start: Path) -> str | None:
    """HEAD's commit of the checkout containing ``start``, read from .git directly (no git process)."""
    try:
        here = start.resolve()
    except OSError:
        return None
    for directory in (here, *here.parents):
        git = directory / ".git"
        if git.is_file():  # worktree or submodule: "gitdir: <path>"
            text = git.read_text().strip()
            if text.startswith("gitdir:"):
                git = (directory / text.split(":", 1)[1].strip()).resolve()
        if git.is_dir():
            return _resolve_head(git)
    return None


def _resolve_head(git: Path) -> str | None:
    try:
        head = (git / "HEAD").read_text().strip()
    except OSError:
        return None
    if not head.startswith("ref:"):
        return head or None
    ref = head.split(":", 1)[1].strip()
    common = git
    commondir = git / "commondir"
    if commondir.exists():
        common = (git / commondir.read_text().strip()).resolve()
    for base in (git, common):
        ref_file = base / ref
        if ref_file.exists():
            return ref_file.read_text().strip() or None
    packed = common / "packed-refs"
    if packed.exists():
        for line in packed.read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split(" ", 1)[0]
    return None  # a fresh repository without commits
