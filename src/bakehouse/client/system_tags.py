"""The system tags MLflow sets on a new run: user, source name and type, git commit, branch and remote."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bakehouse import settings


def default_tags() -> dict[str, str]:
    tags = {"mlflow.user": settings.current_user()}
    source = _source_name()
    tags["mlflow.source.name"] = source
    tags["mlflow.source.type"] = "NOTEBOOK" if _in_notebook() else "LOCAL"
    git = git_dir(Path(source).parent if source and Path(source).exists() else Path.cwd())
    commit = _resolve_head(git) if git else None
    if git and commit:  # MLflow tags branch and remote only for a checkout with a commit
        tags["mlflow.source.git.commit"] = commit
        branch = _branch(git)
        if branch:
            tags["mlflow.source.git.branch"] = branch
        remote = _first_remote_url(git)
        if remote:
            tags["mlflow.source.git.repoURL"] = remote
    return tags


def _source_name() -> str:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None) or (sys.argv[0] if sys.argv and sys.argv[0] else "")
    if path and path not in ("-c", "-m") and os.path.exists(path):
        return str(Path(path).resolve())
    return path or "<console>"


def _in_notebook() -> bool:
    return "ipykernel" in sys.modules


def git_dir(start: Path) -> Path | None:
    """The .git directory of the checkout containing ``start`` (read directly: no git process, no GitPython)."""
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
            return git
    return None


def git_commit(start: Path) -> str | None:
    """HEAD's commit of the checkout containing ``start``."""
    git = git_dir(start)
    return _resolve_head(git) if git else None


def _common_dir(git: Path) -> Path:
    commondir = git / "commondir"  # a worktree shares refs and config with its main checkout
    return (git / commondir.read_text().strip()).resolve() if commondir.exists() else git


def _branch(git: Path) -> str | None:
    """The checked-out branch; None when HEAD is detached."""
    try:
        head = (git / "HEAD").read_text().strip()
    except OSError:
        return None
    prefix = "ref: refs/heads/"
    return head[len(prefix) :] if head.startswith(prefix) else None


_REMOTE_SECTION = re.compile(r'^\s*\[remote\s+"([^"]+)"\]\s*$')
_URL_LINE = re.compile(r"^\s*url\s*=\s*(.+?)\s*$")


def _first_remote_url(git: Path) -> str | None:
    """The URL of the first remote in .git/config, without any credentials embedded in it."""
    try:
        lines = (_common_dir(git) / "config").read_text(errors="replace").splitlines()
    except OSError:
        return None
    in_remote = False
    for line in lines:
        if line.lstrip().startswith("["):
            in_remote = bool(_REMOTE_SECTION.match(line))
        elif in_remote and (match := _URL_LINE.match(line)):
            return strip_credentials(match.group(1))
    return None


def strip_credentials(url: str) -> str:
    """``https://user:token@host/repo`` -> ``https://host/repo`` (scp-style ``git@host:repo`` is kept)."""
    parts = urlsplit(url)
    if not parts.scheme or "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _resolve_head(git: Path) -> str | None:
    try:
        head = (git / "HEAD").read_text().strip()
    except OSError:
        return None
    if not head.startswith("ref:"):
        return head or None
    ref = head.split(":", 1)[1].strip()
    common = _common_dir(git)
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
