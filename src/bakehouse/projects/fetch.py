"""Turn a project URI into a local directory: a folder, ``file://``, a ``.zip`` or a git repository.

Git is driven through the ``git`` command line (the same binary GitPython would call), fetching only the
requested version with ``--depth 1`` and falling back to a full fetch when the server refuses a shallow
fetch of a bare commit. ``repo#sub/dir`` selects a sub-directory of the checkout.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

from bakehouse.errors import InvalidParameterError

logger = logging.getLogger(__name__)

_GIT_SCHEMES = ("git", "ssh", "git+ssh", "git+https", "git+http", "git+file")
_SCP_LIKE = re.compile(r"^[\w.\-]+@[\w.\-]+:")
_HEX_SHA = re.compile(r"^[0-9a-fA-F]{7,40}$")


class ProjectFetchError(InvalidParameterError):
    """The project URI could not be turned into a directory."""


@dataclass
class FetchedProject:
    """A project on local disk, with what is known about where it came from."""

    directory: Path
    source_name: str
    git_commit: str | None = None
    git_repo_url: str | None = None
    git_branch: str | None = None
    #: temporary directories to delete once the run is over
    cleanup_paths: list[Path] = field(default_factory=list)

    def cleanup(self) -> None:
        for path in self.cleanup_paths:
            shutil.rmtree(path, ignore_errors=True)
        self.cleanup_paths.clear()


def split_subdirectory(uri: str) -> tuple[str, str]:
    """``"https://h/r.git#a/b"`` → ``("https://h/r.git", "a/b")``. ``..`` may not escape the repository."""
    base, _, subdir = uri.partition("#")
    subdir = subdir.strip("/")
    if subdir and (".." in Path(subdir).parts or Path(subdir).is_absolute()):
        raise ProjectFetchError(
            f"Sub-directory {subdir!r} in project URI {uri!r} must stay inside the project"
        )
    return base, subdir


def is_git_uri(uri: str) -> bool:
    base, _ = split_subdirectory(uri)
    parsed = urlparse(base)
    if parsed.scheme in _GIT_SCHEMES or _SCP_LIKE.match(base):
        return True
    if parsed.scheme in ("http", "https"):
        return not parsed.path.endswith(".zip")
    local = _local_path(base)
    return local is not None and _is_bare_repository(local)


def fetch_project(uri: str, version: str | None = None, work_root: Path | None = None) -> FetchedProject:
    """Resolve ``uri`` (and ``version`` for git) to a local project directory."""
    base, subdir = split_subdirectory(uri)
    parsed = urlparse(base)
    local = _local_path(base)
    if local is not None and not local.exists():
        raise ProjectFetchError(f"Project {uri!r} not found: {str(local)!r} does not exist")
    if base.endswith(".zip") and (local is not None or parsed.scheme in ("http", "https")):
        fetched = _fetch_zip(base, local, work_root)
    elif local is not None and not _is_bare_repository(local) and version is None:
        fetched = FetchedProject(directory=local.resolve(), source_name=str(local.resolve()))
        _describe_local_git(fetched)
    elif local is not None or is_git_uri(base):
        remote = local.resolve().as_uri() if local is not None else base
        if local is not None and not _is_git_repository(local):
            raise ProjectFetchError(
                f"A version (-v {version}) can only be used with a git project; {uri!r} is not one"
            )
        fetched = _fetch_git(remote, version, work_root)
        fetched.git_repo_url = base
    else:
        raise ProjectFetchError(
            f"Cannot fetch project {uri!r}: expected a directory, a file:// path, a .zip or a git URL"
        )
    if subdir:
        directory = fetched.directory / subdir
        if not directory.is_dir():
            fetched.cleanup()
            raise ProjectFetchError(f"Sub-directory {subdir!r} not found in project {base!r}")
        fetched.directory = directory.resolve()
        fetched.source_name = (
            f"{fetched.source_name}#{subdir}" if fetched.git_commit else str(fetched.directory)
        )
    return fetched


def _local_path(base: str) -> Path | None:
    parsed = urlparse(base)
    if parsed.scheme == "file":
        return Path(url2pathname(parsed.path))
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and base[1:3] in (":\\", ":/")):
        return Path(base).expanduser()
    return None


def _git(*args: str, cwd: Path | None = None) -> str:
    try:
        result = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
            env=_git_env(),
        )
    except FileNotFoundError:
        raise ProjectFetchError(
            "git is not installed; it is needed to run a project from a git repository"
        ) from None
    if result.returncode != 0:
        raise ProjectFetchError(f"git {args[0]} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout.strip()


def _git_env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env.setdefault("GIT_TERMINAL_PROMPT", "0")  # never hang waiting for a password
    return env


def _is_git_repository(path: Path) -> bool:
    return (path / ".git").exists() or _is_bare_repository(path)


def _is_bare_repository(path: Path) -> bool:
    return (
        path.is_dir()
        and (path / "HEAD").is_file()
        and (path / "objects").is_dir()
        and (path / "refs").is_dir()
    )


def _describe_local_git(fetched: FetchedProject) -> None:
    """A project run in place from a git working tree records its commit, as MLflow does."""
    try:
        top = Path(_git("rev-parse", "--show-toplevel", cwd=fetched.directory))
        fetched.git_commit = _git("rev-parse", "HEAD", cwd=top)
    except ProjectFetchError:
        return
    try:
        fetched.git_repo_url = _git("remote", "get-url", "origin", cwd=top) or None
    except ProjectFetchError:
        fetched.git_repo_url = None


def _fetch_git(remote: str, version: str | None, work_root: Path | None) -> FetchedProject:
    checkout = Path(tempfile.mkdtemp(prefix="bakehouse-git-", dir=work_root))
    try:
        _git("init", "--quiet", str(checkout))
        _git("remote", "add", "origin", remote, cwd=checkout)
        branch: str | None = None
        if version is None:
            head = _git("ls-remote", "--symref", "origin", "HEAD", cwd=checkout)
            match = re.search(r"ref: refs/heads/(\S+)\s+HEAD", head)
            branch = match.group(1) if match else None
            _fetch_ref(checkout, branch or "HEAD")
        else:
            if _git("ls-remote", "--heads", "origin", version, cwd=checkout):
                branch = version
            _fetch_ref(checkout, version)
        _git("-c", "advice.detachedHead=false", "checkout", "--quiet", "FETCH_HEAD", cwd=checkout)
        if (checkout / ".gitmodules").exists():
            _git("submodule", "update", "--init", "--recursive", "--depth", "1", cwd=checkout)
        commit = _git("rev-parse", "HEAD", cwd=checkout)
    except BaseException:
        shutil.rmtree(checkout, ignore_errors=True)
        raise
    logger.info("Fetched %s at %s into %s", remote, commit, checkout)
    return FetchedProject(
        directory=checkout.resolve(),
        source_name=remote,
        git_commit=commit,
        git_branch=branch,
        cleanup_paths=[checkout],
    )


def _fetch_ref(checkout: Path, ref: str) -> None:
    try:
        _git("fetch", "--quiet", "--depth", "1", "origin", ref, cwd=checkout)
        return
    except ProjectFetchError as shallow_error:
        if not _HEX_SHA.match(ref):
            raise ProjectFetchError(f"Version {ref!r} not found: {shallow_error.message}") from None
    # the server refused a shallow fetch of a bare commit: fetch everything, then pick the commit
    _git(
        "fetch",
        "--quiet",
        "origin",
        "+refs/heads/*:refs/remotes/origin/*",
        "+refs/tags/*:refs/tags/*",
        cwd=checkout,
    )
    try:
        full = _git("rev-parse", "--verify", f"{ref}^{{commit}}", cwd=checkout)
    except ProjectFetchError:
        raise ProjectFetchError(f"Version {ref!r} not found in the repository") from None
    _git("update-ref", "FETCH_HEAD", full, cwd=checkout)


def _fetch_zip(base: str, local: Path | None, work_root: Path | None) -> FetchedProject:
    target = Path(tempfile.mkdtemp(prefix="bakehouse-zip-", dir=work_root))
    try:
        archive = local
        if archive is None:
            archive = target / "project.zip"
            _download(base, archive)
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                resolved = (target / "src" / member).resolve()
                if not resolved.is_relative_to((target / "src").resolve()):
                    raise ProjectFetchError(f"Archive {base!r} contains an unsafe path {member!r}")
            zf.extractall(target / "src")
    except zipfile.BadZipFile:
        shutil.rmtree(target, ignore_errors=True)
        raise ProjectFetchError(f"{base!r} is not a valid zip archive") from None
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    root = target / "src"
    children = [c for c in root.iterdir() if not c.name.startswith("__MACOSX")]
    if len(children) == 1 and children[0].is_dir():
        root = children[0]  # archives usually wrap the project in one folder
    return FetchedProject(directory=root.resolve(), source_name=base, cleanup_paths=[target])


def _download(url: str, destination: Path) -> None:
    import httpx

    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=60.0) as response:
            response.raise_for_status()
            with destination.open("wb") as fh:
                for chunk in response.iter_bytes():
                    fh.write(chunk)
    except httpx.HTTPError as exc:
        raise ProjectFetchError(f"Could not download project archive {url!r}: {exc}") from None
