"""Fixtures for the projects unit tests: real git repositories (a bare remote plus its commits)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest


def git(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        [
            "git",
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "init.defaultBranch=main",
            *args,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


@dataclass
class GitRemote:
    bare: Path
    main_commit: str  # tip of main: sub/proj/VERSION says "main-2"
    first_commit: str  # first commit on main: VERSION says "main-1"
    feature_commit: str  # tip of branch "feature": VERSION says "feature"


@pytest.fixture
def git_remote(tmp_path: Path) -> GitRemote:
    """A bare repository with ``sub/proj`` holding an MLproject, two commits on main and a feature branch."""
    work = tmp_path / "work"
    project = work / "sub" / "proj"
    project.mkdir(parents=True)
    git("init", "--quiet", str(work), cwd=tmp_path)
    (project / "MLproject").write_text(
        "name: gitproj\nentry_points:\n  main:\n    command: \"python -c 'print(1)'\"\n", encoding="utf-8"
    )
    (project / "VERSION").write_text("main-1\n")
    git("add", "-A", cwd=work)
    git("commit", "--quiet", "-m", "first", cwd=work)
    first = git("rev-parse", "HEAD", cwd=work)
    (project / "VERSION").write_text("main-2\n")
    git("commit", "--quiet", "-am", "second", cwd=work)
    main = git("rev-parse", "HEAD", cwd=work)
    git("checkout", "--quiet", "-b", "feature", cwd=work)
    (project / "VERSION").write_text("feature\n")
    git("commit", "--quiet", "-am", "feature", cwd=work)
    feature = git("rev-parse", "HEAD", cwd=work)
    git("checkout", "--quiet", "main", cwd=work)
    bare = tmp_path / "remote.git"
    git("clone", "--quiet", "--bare", str(work), str(bare), cwd=tmp_path)
    return GitRemote(bare=bare, main_commit=main, first_commit=first, feature_commit=feature)
