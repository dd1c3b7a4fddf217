"""The ``virtualenv`` and ``uv`` managers: a cached venv with the project's pip dependencies.

The venv is created with ``uv venv`` when uv is available (seconds) and with the standard library's
``venv`` otherwise; packages go in with ``uv pip`` or ``pip``. The child must be able to ``import
bakehouse`` to log to the run the parent created, so the running bakehouse is linked in (a ``.pth`` file
for a source checkout, a copy for an installed wheel — both work offline) together with the few packages
its tracking client needs, pinned to the versions installed here so that they come from local caches.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bakehouse.projects.environments import cache
from bakehouse.projects.environments.base import BuildProgress, EnvironmentError_, PreparedEnvironment
from bakehouse.projects.environments.interpreters import Interpreter, find_interpreter
from bakehouse.projects.environments.requirements import PythonRequirements

logger = logging.getLogger(__name__)

#: what ``import bakehouse`` + logging to a SQLite or HTTP tracking store needs in the child
CLIENT_REQUIREMENTS = ("sqlalchemy", "alembic", "pyyaml", "httpx", "orjson", "pydantic", "click", "rich")
_VERIFY = (
    "import importlib, sys\n"
    "for name in ('bakehouse', 'bakehouse.client.fluent', 'bakehouse.store.tracking.sql.store'):\n"
    "    try:\n"
    "        importlib.import_module(name)\n"
    "    except ModuleNotFoundError as exc:\n"
    "        if (exc.name or '').startswith('bakehouse.'):\n"
    "            continue  # a module of ours not written in this version: not a missing dependency\n"
    "        print(exc.name or exc); sys.exit(3)\n"
)


def find_uv() -> str | None:
    """uv on PATH, next to this interpreter, or from the ``uv`` Python package."""
    found = shutil.which("uv")
    if found:
        return found
    sibling = Path(sys.executable).parent / "uv"
    if sibling.exists():
        return str(sibling)
    try:
        from uv import find_uv_bin  # optional dependency: the uv wheel ships the binary

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        return None


def bakehouse_source() -> tuple[Path, str]:
    """The directory holding the running ``bakehouse`` package and how to link it: ``pth`` or ``copy``."""
    import bakehouse

    package_dir = Path(bakehouse.__file__).resolve().parent
    parent = package_dir.parent
    mode = "copy" if parent.name in ("site-packages", "dist-packages") else "pth"
    return package_dir, mode


def _pinned(names: tuple[str, ...] | list[str], same_python: bool) -> list[str]:
    pins = []
    for name in names:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pins.append(name)
            continue
        pins.append(f"{name}=={version}" if same_python else name)
    return pins


def _core_requirements() -> list[str]:
    """bakehouse's own runtime requirements (no extras): the fallback when the small client set is not enough."""
    try:
        requires = importlib.metadata.requires("bakehouse") or []
    except importlib.metadata.PackageNotFoundError:
        return []
    return [r.split(";")[0].strip() for r in requires if "extra ==" not in r]


def minimum_python() -> tuple[int, int]:
    """The oldest Python bakehouse runs on (``Requires-Python`` of the installed package, else 3.11)."""
    try:
        meta = importlib.metadata.metadata("bakehouse")
        spec = str(meta["Requires-Python"]) if "Requires-Python" in meta else ""
    except importlib.metadata.PackageNotFoundError:
        spec = ""
    match = re.fullmatch(r"\s*>=\s*(\d+)\.(\d+)\s*", spec)
    return (int(match.group(1)), int(match.group(2))) if match else (3, 11)


def runs_bakehouse(interpreter: Interpreter) -> bool:
    """Whether bakehouse can be linked into an environment of this Python (else its client is left out)."""
    major, minor, *_ = (int(p) for p in interpreter.version.split("."))
    return (major, minor) >= minimum_python()


def link_bakehouse(python: Path) -> None:
    """Make the running bakehouse importable by ``python`` (a venv's or conda env's interpreter)."""
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    package_dir, mode = bakehouse_source()
    site_dir = Path(site)
    site_dir.mkdir(parents=True, exist_ok=True)
    if mode == "pth":
        (site_dir / "bakehouse-source.pth").write_text(str(package_dir.parent) + "\n", encoding="utf-8")
    else:
        shutil.copytree(package_dir, site_dir / "bakehouse", ignore=shutil.ignore_patterns("__pycache__"))


class VirtualenvEnvironment:
    """A venv for one :class:`PythonRequirements`, cached under the env cache directory."""

    def __init__(
        self,
        requirements: PythonRequirements,
        *,
        use_uv: bool | None = None,
        manager: str = "virtualenv",
        cache_root: Path | None = None,
        note: str | None = None,
        strict_python: bool = False,
    ) -> None:
        self.requirements = requirements
        self.strict_python = strict_python
        self.name = manager
        self.uv = find_uv() if use_uv is not False else None
        if use_uv and self.uv is None:
            raise EnvironmentError_(
                "--env-manager uv needs the uv executable, which was not found (pip install uv)"
            )
        self.cache_root = cache_root
        self.note = note
        self._interpreter: Interpreter | None = None
        self._interpreter_note: str | None = None

    # -- identity -------------------------------------------------------------------------------------------
    @property
    def interpreter(self) -> Interpreter:
        if self._interpreter is None:
            self._interpreter, self._interpreter_note = find_interpreter(
                self.requirements.python, strict=self.strict_python
            )
        return self._interpreter

    def cache_fields(self) -> dict[str, Any]:
        source, mode = bakehouse_source()
        from bakehouse.version import __version__

        return {
            "kind": "venv",
            "python": self.interpreter.version,
            "python_path": str(self.interpreter.path),
            **self.requirements.cache_fields(),
            "bakehouse": {"version": __version__, "source": str(source), "mode": mode},
            "client": list(CLIENT_REQUIREMENTS),
        }

    @property
    def path(self) -> Path:
        return cache.env_dir("venv", self.cache_fields(), self.cache_root)

    def describe(self) -> str:
        deps = (
            ", ".join(self.requirements.dependencies + self.requirements.pip_for_conda) or "no extra packages"
        )
        tool = "uv" if self.uv else "venv + pip"
        return f"virtualenv with Python {self.interpreter.version} ({deps}) at {self.path}, built with {tool}"

    # -- building -------------------------------------------------------------------------------------------
    def prepare(self, progress: BuildProgress) -> PreparedEnvironment:
        path = self.path
        fields = self.cache_fields()
        for message in (self.note, self._interpreter_note):
            if message:
                progress.note(message)
        with cache.build_lock(path):
            if cache.is_complete(path):
                logger.info("Reusing cached environment %s", path)
                return self._prepared(path, cached=True)
            cache.discard(path)
            started = time.monotonic()
            try:
                self._build(path, progress)
            except BaseException:
                cache.discard(path)
                raise
            finally:
                progress.end()
            seconds = time.monotonic() - started
            cache.mark_complete(path, fields, seconds)
            logger.info("Built environment %s in %.1f s", path, seconds)
        return self._prepared(path, cached=False)

    def _prepared(self, path: Path, cached: bool) -> PreparedEnvironment:
        return PreparedEnvironment(
            manager=self.name,
            bin_dir=path / "bin",
            env_vars={"VIRTUAL_ENV": str(path)},
            cached=cached,
        )

    def _build(self, path: Path, progress: BuildProgress) -> None:
        interp = self.interpreter
        progress.begin(f"Python {interp.version} env {path.name[:13]}", 4)
        progress.advance(f"creating the virtualenv ({'uv' if self.uv else 'venv'})")
        if self.uv:
            self._run(
                [self.uv, "venv", "--quiet", "--python", str(interp.path), str(path)], "create the virtualenv"
            )
        else:
            self._run([str(interp.path), "-m", "venv", str(path)], "create the virtualenv")
        python = path / "bin" / "python"
        with_bakehouse = runs_bakehouse(interp)
        if with_bakehouse:
            progress.advance("linking bakehouse")
            link_bakehouse(python)
        else:
            low = ".".join(map(str, minimum_python()))
            progress.note(
                f"bakehouse needs Python >= {low}, so this Python {interp.version} environment runs the project "
                "without it (the official mlflow client there logs to the run through `bakehouse run`)"
            )
        same_python = interp.minor == f"{sys.version_info.major}.{sys.version_info.minor}"
        if self.requirements.build_dependencies:
            self._install(python, list(self.requirements.build_dependencies))
        wanted = [*self.requirements.dependencies, *self.requirements.pip_for_conda]
        client = _pinned(CLIENT_REQUIREMENTS, same_python) if with_bakehouse else []
        packages = wanted + client
        progress.advance("installing " + ", ".join([*wanted, *(["bakehouse client"] if client else [])]))
        try:
            self._install(python, packages)
        except EnvironmentError_:
            unknown = [p for p in self.requirements.pip_for_conda if not self._on_index(python, p)]
            if unknown:
                raise EnvironmentError_(
                    "conda is not available, and these conda packages of the project are not on the Python "
                    f"package index either: {', '.join(unknown)}. Install conda (--env-manager conda), or run "
                    "with --env-manager local in an environment that has them."
                ) from None
            raise
        progress.advance("checking imports")
        if not with_bakehouse:
            return
        missing = self._verify(python)
        if missing:
            logger.info("bakehouse needs %s in the environment; installing its full requirements", missing)
            self._install(python, _pinned_requirements(_core_requirements(), same_python))
            missing = self._verify(python)
            if missing:
                raise EnvironmentError_(
                    f"bakehouse cannot be imported in the new environment: missing {missing}"
                )

    def _install(self, python: Path, packages: list[str]) -> None:
        if not packages:
            return
        args: list[str] = []
        for package in packages:
            flag, _, rest = package.partition(" ")
            args.extend(
                [flag, rest.strip()] if flag in ("-r", "-c", "--requirement", "--constraint") else [package]
            )
        if self.uv:
            self._run(
                [self.uv, "pip", "install", "--quiet", "--python", str(python), *args], "install packages"
            )
        else:
            self._run(
                [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args],
                "install packages",
            )

    def _on_index(self, python: Path, requirement: str) -> bool:
        """Whether pip can find ``requirement`` (a dry run without dependencies: nothing is installed)."""
        if self.uv:
            argv = [self.uv, "pip", "install", "--dry-run", "--no-deps", "--quiet", "--python", str(python)]
        else:
            argv = [str(python), "-m", "pip", "install", "--dry-run", "--no-deps", "--quiet"]
        done = subprocess.run(
            [*argv, requirement], check=False, capture_output=True, text=True, env=self._tool_env()
        )
        return done.returncode == 0

    def _verify(self, python: Path) -> str | None:
        result = subprocess.run(
            [str(python), "-c", _VERIFY], check=False, capture_output=True, text=True, env=self._tool_env()
        )
        if result.returncode == 0:
            return None
        out, err = result.stdout.strip(), result.stderr.strip()
        return out or (err.splitlines()[-1] if err else "unknown")

    def _tool_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["UV_PYTHON_DOWNLOADS"] = "never"  # use the interpreter we found, never fetch one
        env.pop("VIRTUAL_ENV", None)
        env.pop("PYTHONPATH", None)
        return env

    def _run(self, argv: list[str], what: str) -> None:
        logger.debug("Running %s", " ".join(argv))
        result = subprocess.run(argv, check=False, capture_output=True, text=True, env=self._tool_env())
        if result.returncode != 0:
            tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
            raise EnvironmentError_(f"Could not {what} (exit {result.returncode}):\n{tail}")


def _pinned_requirements(requirements: list[str], same_python: bool) -> list[str]:
    """Pin bare requirement names to the installed versions when the target Python matches ours."""
    out = []
    for req in requirements:
        name = req.split("[")[0]
        for sep in ("<", ">", "=", "!", "~", " "):
            name = name.split(sep)[0]
        out.append(_pinned([name], same_python)[0] if same_python else req)
    return out
