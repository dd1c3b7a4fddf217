"""Finding a Python interpreter for a requested version without downloading one.

Looks at the current interpreter, pyenv's versions directory and ``pythonX.Y`` on PATH. An exact
``X.Y.Z`` match is preferred; otherwise the newest interpreter of the same ``X.Y`` is used and the caller is
told, because a patch-level difference almost never matters for a project and downloading is not an option
on an offline machine. A minor version that is not installed at all gives the nearest installed one (said in
one line), unless the caller is strict.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bakehouse import settings
from bakehouse.projects.environments.base import EnvironmentError_


@dataclass(frozen=True)
class Interpreter:
    path: Path
    version: str  # "3.11.7"

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


def current() -> Interpreter:
    """This interpreter; its base installation when running inside a virtualenv (no venv-in-venv)."""
    info = sys.version_info
    executable = getattr(sys, "_base_executable", None) or sys.executable
    if not Path(executable).exists():
        executable = sys.executable
    return Interpreter(Path(executable), f"{info.major}.{info.minor}.{info.micro}")


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else -1 for p in version.split("."))


def candidates() -> list[Interpreter]:
    found: dict[str, Interpreter] = {}
    me = current()
    found[me.version] = me
    versions_dir = settings.pyenv_root() / "versions"
    if versions_dir.is_dir():
        for child in versions_dir.iterdir():
            python = child / "bin" / "python"
            if python.exists() and all(part.isdigit() for part in child.name.split(".")):
                found.setdefault(child.name, Interpreter(python, child.name))
    for minor in range(6, 16):
        exe = shutil.which(f"python3.{minor}")
        if exe and not any(i.minor == f"3.{minor}" for i in found.values()):
            version = _probe(exe)
            if version:
                found.setdefault(version, Interpreter(Path(exe), version))
    return sorted(found.values(), key=lambda i: _version_key(i.version), reverse=True)


def _probe(exe: str) -> str | None:
    try:
        out = subprocess.run(
            [exe, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def find_interpreter(requested: str | None, strict: bool = False) -> tuple[Interpreter, str | None]:
    """The interpreter to use and, when it is not an exact match, a note saying what was chosen.

    Nothing can be downloaded here, so a version that is not installed falls back to the same ``X.Y`` with
    another patch level, else to the nearest installed ``3.Y`` (the newer one on a tie); ``strict`` turns
    the latter into an error.
    """
    if not requested:
        return current(), None
    wanted = requested.strip()
    parts = wanted.split(".")
    if not all(p.isdigit() for p in parts) or len(parts) < 2:
        raise EnvironmentError_(
            f"Cannot understand the requested Python version {requested!r} (expected e.g. 3.11)"
        )
    me = current()
    options = candidates()
    if me.version == wanted or (len(parts) == 2 and me.minor == wanted):
        return me, None
    for interp in options:
        if interp.version == wanted or (len(parts) == 2 and interp.minor == wanted):
            return interp, None
    minor = ".".join(parts[:2])
    for interp in options:
        if interp.minor == minor:
            return interp, f"Python {wanted} is not installed; using Python {interp.version} ({interp.path})"
    available = ", ".join(i.version for i in options) or "none"
    same_major = [i for i in options if i.version.split(".")[0] == parts[0]]
    if strict or not same_major:
        raise EnvironmentError_(
            f"The project asks for Python {wanted}, which is not installed here (available: {available}). "
            "Install it (e.g. `pyenv install "
            + wanted
            + "`) or run with --env-manager local"
            + (", or without --strict-python to use the nearest version." if strict and same_major else ".")
        )
    want_minor = int(parts[1])
    nearest = min(
        same_major, key=lambda i: (abs(int(i.minor.split(".")[1]) - want_minor), -_version_key(i.version)[1])
    )
    return nearest, (
        f"Python {wanted} is not installed and cannot be downloaded here; using the nearest, Python "
        f"{nearest.version} ({nearest.path}) (--strict-python makes this an error)"
    )
