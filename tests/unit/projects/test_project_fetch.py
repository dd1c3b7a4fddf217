"""Fetching projects: directories, file:// URIs, zip archives and git repositories (real git, no network)."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest

from bakehouse.projects.fetch import ProjectFetchError, fetch_project, is_git_uri, split_subdirectory


def test_local_directory_runs_in_place(tmp_path: Path) -> None:
    (tmp_path / "MLproject").write_text("name: x\n")
    fetched = fetch_project(str(tmp_path))
    assert fetched.directory == tmp_path.resolve()
    assert fetched.cleanup_paths == [] and fetched.git_commit is None
    by_uri = fetch_project(tmp_path.as_uri())
    assert by_uri.directory == tmp_path.resolve()
    assert by_uri.source_name == str(tmp_path.resolve())


def test_local_git_working_tree_records_commit(git_remote: Any, tmp_path: Path) -> None:
    fetched = fetch_project(str(tmp_path / "work" / "sub" / "proj"))
    assert fetched.directory == (tmp_path / "work" / "sub" / "proj").resolve()
    assert fetched.git_commit == git_remote.main_commit


def test_missing_directory_and_subdirectory(tmp_path: Path) -> None:
    with pytest.raises(ProjectFetchError, match="does not exist"):
        fetch_project(str(tmp_path / "nope"))
    with pytest.raises(ProjectFetchError, match="Sub-directory 'nope' not found"):
        fetch_project(f"{tmp_path}#nope")
    with pytest.raises(ProjectFetchError, match="must stay inside the project"):
        split_subdirectory("repo#../../etc")
    with pytest.raises(ProjectFetchError, match="can only be used with a git project"):
        fetch_project(str(tmp_path), version="main")


def test_git_default_branch(git_remote: Any) -> None:
    fetched = fetch_project(f"{git_remote.bare.as_uri()}#sub/proj")
    try:
        assert (fetched.directory / "VERSION").read_text() == "main-2\n"
        assert fetched.git_commit == git_remote.main_commit
        assert fetched.git_branch == "main"
        assert fetched.git_repo_url == git_remote.bare.as_uri()
        assert fetched.source_name == f"{git_remote.bare.as_uri()}#sub/proj"
        assert fetched.directory.name == "proj"
    finally:
        fetched.cleanup()
    assert not fetched.directory.exists()


@pytest.mark.parametrize(
    ("version", "content", "branch"),
    [
        ("feature", "feature\n", "feature"),
        ("FIRST", "main-1\n", None),
        ("FIRST_SHORT", "main-1\n", None),
    ],
)
def test_git_versions(git_remote: Any, version: str, content: str, branch: str | None) -> None:
    ref = {"FIRST": git_remote.first_commit, "FIRST_SHORT": git_remote.first_commit[:10]}.get(
        version, version
    )
    fetched = fetch_project(f"{git_remote.bare}#sub/proj", version=ref)
    try:
        assert (fetched.directory / "VERSION").read_text() == content
        expected = git_remote.feature_commit if version == "feature" else git_remote.first_commit
        assert fetched.git_commit == expected
        assert fetched.git_branch == branch
    finally:
        fetched.cleanup()


def test_git_unknown_version(git_remote: Any) -> None:
    with pytest.raises(ProjectFetchError, match="Version 'nosuchbranch' not found"):
        fetch_project(git_remote.bare.as_uri(), version="nosuchbranch")
    with pytest.raises(ProjectFetchError, match="not found"):
        fetch_project(git_remote.bare.as_uri(), version="0123456789abcdef0123456789abcdef01234567")


def test_is_git_uri(git_remote: Any, tmp_path: Path) -> None:
    assert is_git_uri("https://github.com/mlflow/mlflow-example")
    assert is_git_uri("git@github.com:org/repo.git#sub")
    assert is_git_uri(git_remote.bare.as_uri())
    assert not is_git_uri("https://example.com/project.zip")
    assert not is_git_uri(str(tmp_path))


def test_zip_archive_with_wrapper_folder(tmp_path: Path) -> None:
    archive = tmp_path / "proj.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("proj-main/MLproject", "name: zipped\n")
        zf.writestr("proj-main/src/train.py", "print(1)\n")
    fetched = fetch_project(str(archive))
    try:
        assert (fetched.directory / "MLproject").read_text() == "name: zipped\n"
        assert (fetched.directory / "src" / "train.py").exists()
        assert fetched.source_name == str(archive)
    finally:
        fetched.cleanup()
    sub = fetch_project(f"{archive.as_uri()}#src")
    try:
        assert sub.directory.name == "src" and (sub.directory / "train.py").exists()
    finally:
        sub.cleanup()


def test_zip_slip_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../escaped.txt", "x")
    with pytest.raises(ProjectFetchError, match="unsafe path"):
        fetch_project(str(archive))
    assert not (tmp_path.parent / "escaped.txt").exists()
    bad = tmp_path / "bad.zip"
    bad.write_text("not a zip")
    with pytest.raises(ProjectFetchError, match="not a valid zip"):
        fetch_project(str(bad))


def test_zip_over_http(tmp_path: Path) -> None:
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    served = tmp_path / "served"
    served.mkdir()
    with zipfile.ZipFile(served / "project.zip", "w") as zf:
        zf.writestr("MLproject", "name: remote\n")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/project.zip"
        fetched = fetch_project(url)
        try:
            assert (fetched.directory / "MLproject").read_text() == "name: remote\n"
            assert fetched.source_name == url
        finally:
            fetched.cleanup()
        with pytest.raises(ProjectFetchError, match="Could not download project archive"):
            fetch_project(f"http://127.0.0.1:{httpd.server_address[1]}/missing.zip")
    finally:
        httpd.shutdown()
        httpd.server_close()
