"""A model's own virtualenv, built with uv (or venv + pip) and cached by a hash of its requirements.

``prepare_env`` is idempotent: the env directory name is the hash of (Python version, requirements,
Bakehouse install spec), it is built in a temp dir and renamed into place only when complete (a
``.ready`` marker), so an interrupted build is never reused. Bakehouse itself is installed from where the
running one came from (an editable checkout, a wheel URL, or ``bakehouse==<version>``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from bakehouse import settings
from bakehouse.errors import BakehouseError, InvalidParameterError
from bakehouse.models.environment import python_version, read_requirements
from bakehouse.version import __version__

Report = Callable[[str], None]
READY_MARKER = ".ready"


def env_root() -> Path:
    configured = settings.env("ENV_ROOT")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "bakehouse" / "envs"


def bakehouse_install_args() -> list[str]:
    """pip arguments that install this same Bakehouse into another environment."""
    try:
        direct = metadata.distribution("bakehouse").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        direct = None
    if direct:
        info = json.loads(direct)
        url = str(info.get("url", ""))
        if url.startswith("file://"):
            path = url[len("file://") :]
            return ["-e", path] if info.get("dir_info", {}).get("editable") else [path]
        if url:
            return [url]
    return [f"bakehouse=={__version__}"]


def env_key(requirements: list[str], install_args: list[str]) -> str:
    text = "\n".join([python_version(), *sorted(requirements), "--", *install_args])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def _uv() -> str | None:
    candidate = Path(sys.executable).parent / "uv"
    return str(candidate) if candidate.is_file() else shutil.which("uv")


def _run(command: list[str], step: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-15:]
        raise BakehouseError(f"{step} failed (exit {result.returncode}):\n" + "\n".join(tail))


def prepare_env(model_uri: str, env_manager: str = "uv", report: Report | None = None) -> Path:
    """Create (or reuse) the virtualenv for ``model_uri``; returns its directory."""
    from bakehouse.models.uri import download_model

    say = report or (lambda message: None)
    if env_manager not in ("uv", "virtualenv"):
        raise InvalidParameterError(f"Unknown env manager {env_manager!r}: use uv or virtualenv")
    model_dir = download_model(model_uri)
    requirements = read_requirements(model_dir)
    install = bakehouse_install_args()
    target = env_root() / env_key(requirements, install)
    if (target / READY_MARKER).is_file():
        say(f"Reusing environment {target}")
        return target
    uv = _uv() if env_manager == "uv" else None
    if env_manager == "uv" and uv is None:
        raise BakehouseError(
            "uv is not installed: install it (pip install uv) or use --env-manager virtualenv"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    building = target.with_name(target.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    say(f"[1/3] Creating a virtualenv with {env_manager} (Python {python_version()})")
    if uv:
        _run([uv, "venv", "--quiet", "--python", sys.executable, str(building)], "Creating the virtualenv")
    else:
        _run([sys.executable, "-m", "venv", str(building)], "Creating the virtualenv")
    python = str(building / "bin" / "python")
    # uv writes no bytecode unless asked (pip does): without it every `models serve` in this environment
    # compiles scikit-learn, scipy and pandas from source again when PYTHONDONTWRITEBYTECODE is set, or the
    # first time otherwise (about 3x the start-up CPU time)
    pip = (
        [uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", python]
        if uv
        else [python, "-m", "pip", "install", "--quiet"]
    )
    if requirements:
        say(f"[2/3] Installing {len(requirements)} model requirements")
        _run(pip + ["-r", str(Path(model_dir) / "requirements.txt")], "Installing the model requirements")
    else:
        say("[2/3] The model has no requirements")
    say("[3/3] Installing Bakehouse")
    _run(pip + install, "Installing Bakehouse")
    (building / READY_MARKER).write_text(model_uri + "\n", encoding="utf-8")
    if target.exists():
        shutil.rmtree(building, ignore_errors=True)  # another process finished first: use theirs
    else:
        building.rename(target)
        _fix_paths(building, target)
    say(f"Environment ready: {target}")
    return target


def _fix_paths(old: Path, new: Path) -> None:
    """venv scripts hard-code their directory; rewrite it after the atomic rename."""
    for script in (new / "bin").iterdir():
        if script.is_file() and not script.is_symlink():
            try:
                text = script.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            if str(old) in text:
                script.write_text(text.replace(str(old), str(new)), encoding="utf-8")
    config = new / "pyvenv.cfg"
    if config.is_file():
        config.write_text(config.read_text(encoding="utf-8").replace(str(old), str(new)), encoding="utf-8")


def run_in_model_env(model_uri: str, env_manager: str, args: list[str], report: Report | None = None) -> int:
    """Run ``bakehouse models <args>`` inside the model's environment; returns the exit code."""
    env = prepare_env(model_uri, "uv" if env_manager == "uv" else "virtualenv", report)
    return subprocess.call([str(env / "bin" / "python"), "-m", "bakehouse.cli.models", *args])
