"""A project in a local bare git repository, run at a branch and at a commit, from a sub-directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(300)

LOG_SCRIPT = """\
import bakehouse
with bakehouse.start_run():
    bakehouse.set_tag("checkout", open("VERSION").read().strip())
"""


@pytest.fixture
def bare_repo(tmp_path: Path, git_cmd: Callable[..., str]) -> dict[str, Any]:
    work = tmp_path / "work"
    project = work / "projects" / "demo"
    project.mkdir(parents=True)
    git_cmd("init", "--quiet", str(work), cwd=tmp_path)
    (project / "MLproject").write_text(
        "name: demo\nentry_points:\n  main:\n    parameters:\n      tag: {type: string, default: x}\n"
        '    command: "python log.py"\n'
    )
    (project / "log.py").write_text(LOG_SCRIPT)
    (project / "VERSION").write_text("v1\n")
    git_cmd("add", "-A", cwd=work)
    git_cmd("commit", "--quiet", "-m", "v1", cwd=work)
    first = git_cmd("rev-parse", "HEAD", cwd=work)
    (project / "VERSION").write_text("v2\n")
    git_cmd("commit", "--quiet", "-am", "v2", cwd=work)
    git_cmd("checkout", "--quiet", "-b", "experiment", cwd=work)
    (project / "VERSION").write_text("experiment\n")
    git_cmd("commit", "--quiet", "-am", "experiment", cwd=work)
    branch_tip = git_cmd("rev-parse", "HEAD", cwd=work)
    bare = tmp_path / "demo.git"
    git_cmd("clone", "--quiet", "--bare", str(work), str(bare), cwd=tmp_path)
    return {"uri": bare.as_uri(), "first": first, "branch_tip": branch_tip}


def test_git_project_at_branch(
    run_cli: Callable[..., Any], runs: Callable[[], list[Any]], bare_repo: dict[str, Any]
) -> None:
    uri = f"{bare_repo['uri']}#projects/demo"
    result = run_cli(uri, "-v", "experiment")
    assert result.returncode == 0, result.output
    [run] = runs()
    assert run.info.status == "FINISHED"
    tags = run.data.tags
    assert tags["checkout"] == "experiment"
    assert tags["mlflow.source.git.commit"] == bare_repo["branch_tip"]
    assert tags["mlflow.source.git.branch"] == "experiment"
    assert tags["mlflow.source.git.repoURL"] == bare_repo["uri"]
    assert tags["mlflow.source.name"] == uri
    assert tags["mlflow.source.type"] == "PROJECT"
    assert run.data.params == {"tag": "x"}


def test_git_project_at_commit(
    run_cli: Callable[..., Any], runs: Callable[[], list[Any]], bare_repo: dict[str, Any]
) -> None:
    result = run_cli(f"{bare_repo['uri']}#projects/demo", "-v", bare_repo["first"])
    assert result.returncode == 0, result.output
    [run] = runs()
    assert run.info.status == "FINISHED"
    assert run.data.tags["checkout"] == "v1"
    assert run.data.tags["mlflow.source.git.commit"] == bare_repo["first"]
    assert "mlflow.source.git.branch" not in run.data.tags


def test_git_unknown_version_creates_no_run(
    run_cli: Callable[..., Any], runs: Callable[[], list[Any]], bare_repo: dict[str, Any]
) -> None:
    result = run_cli(f"{bare_repo['uri']}#projects/demo", "-v", "no-such-branch")
    assert result.returncode == 1
    assert "Version 'no-such-branch' not found" in result.stderr
    assert runs() == []
