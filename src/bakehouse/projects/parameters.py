"""Entry-point parameters: typed validation, ``path`` downloads and shell-safe command rendering.

MLflow only checks ``path`` and ``uri``; here ``float`` and ``int`` are checked too, every problem is reported
at once (parameter, type and value), and nothing is downloaded until the cheap checks have passed. All of it
happens before a run is created or a process started, so a typo never leaves a RUNNING run behind.
"""

from __future__ import annotations

import math
import re
import shlex
import string
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from bakehouse.errors import InvalidParameterError
from bakehouse.projects.spec import EntryPoint, ParameterSpec

_URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*$")
_EXTRA_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


class ParameterValidationError(InvalidParameterError):
    """One or more ``-P`` values are missing or do not match their declared type."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        if len(problems) == 1:
            message = problems[0]
        else:
            message = f"{len(problems)} invalid parameters: " + "; ".join(problems)
        super().__init__(message)


@dataclass(frozen=True)
class ResolvedParameters:
    """The outcome of validation: what is logged, and the command that runs."""

    #: declared parameters (defaults filled in), as the user wrote them: these are logged as run params
    declared: dict[str, str]
    #: undeclared ``-P`` values, appended to the command as ``--key value``
    extra: dict[str, str]
    #: the values substituted into the command (``path`` values made absolute or downloaded)
    command_values: dict[str, str] = field(default_factory=dict)
    command: str = ""

    @property
    def logged(self) -> dict[str, str]:
        return {**self.declared, **self.extra}


def parse_param_pairs(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``["C=0.1", "name=a=b"]`` → ``{"C": "0.1", "name": "a=b"}``; a pair without ``=`` is refused."""
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidParameterError(f"Parameter {pair!r} must look like NAME=VALUE")
        params[key.strip()] = value
    return params


def is_uri(value: str) -> bool:
    """A scheme and something after it: ``s3://b/k``, ``runs:/id/path``, ``file:///x``; not ``C:\\x``."""
    parsed = urlparse(value)
    if not parsed.scheme or len(parsed.scheme) < 2 or not _URI_SCHEME.match(parsed.scheme):
        return False
    return bool(parsed.netloc or parsed.path.strip("/"))


def check_value(spec: ParameterSpec, value: str) -> str | None:
    """The problem with ``value`` for ``spec``'s type, or None. ``path`` existence is checked separately."""
    shown = f"parameter {spec.name!r} of type {spec.type} got {value!r}"
    if spec.type == "float":
        try:
            number = float(value)
        except ValueError:
            return f"{shown}: not a number"
        if math.isnan(number):
            return f"{shown}: NaN is not allowed"
    elif spec.type == "int":
        try:
            int(value.strip(), 10)
        except ValueError:
            return f"{shown}: not an integer"
    elif spec.type == "uri":
        if not is_uri(value):
            return f"{shown}: not a URI (expected scheme://..., e.g. s3://bucket/key or file:///path)"
    elif spec.type == "path" and value == "":
        return f"{shown}: a path cannot be empty"
    return None


def resolve_parameters(
    entry_point: EntryPoint,
    user_params: dict[str, str],
    *,
    project_dir: Path,
    cwd: Path | None = None,
    storage_dir: Path | None = None,
    download: bool = True,
) -> ResolvedParameters:
    """Validate ``user_params`` against ``entry_point`` and render its command.

    ``path`` values are looked up relative to ``cwd`` first (as MLflow does) and then to the project
    directory (where a git project's data files live); a URI with a scheme other than ``file`` is downloaded
    into ``storage_dir`` through the artifact repositories when ``download`` is true.
    """
    cwd = cwd or Path.cwd()
    problems: list[str] = []
    declared: dict[str, str] = {}
    for name, spec in entry_point.parameters.items():
        if name in user_params:
            value = user_params[name]
        elif spec.default is not None:
            value = spec.default
        else:
            problems.append(
                f"parameter {name!r} of type {spec.type} is required but no value was given (-P {name}=...)"
            )
            continue
        problem = check_value(spec, value)
        if problem:
            problems.append(problem)
        declared[name] = value
    extra = {k: v for k, v in user_params.items() if k not in entry_point.parameters}
    for key in extra:
        if not _EXTRA_KEY.match(key):
            problems.append(f"undeclared parameter name {key!r} cannot be passed as a --flag")
    problems.extend(_check_placeholders(entry_point))
    if problems:
        raise ParameterValidationError(problems)

    command_values = dict(declared)
    position = list(entry_point.parameters)
    for name, spec in entry_point.parameters.items():
        if spec.type != "path":
            continue
        local = _local_path(declared[name], cwd, project_dir)
        if local is not None:
            command_values[name] = str(local)
            continue
        if _is_remote(declared[name]) and download:
            command_values[name] = _download(declared[name], storage_dir, position.index(name))
        elif _is_remote(declared[name]):
            command_values[name] = declared[name]
        else:
            problems.append(
                f"parameter {name!r} of type path got {declared[name]!r}: no such file or directory"
            )
    if problems:
        raise ParameterValidationError(problems)
    return ResolvedParameters(
        declared=declared,
        extra=extra,
        command_values=command_values,
        command=render_command(entry_point.command, command_values, extra),
    )


def render_command(template: str, values: dict[str, str], extra: dict[str, str]) -> str:
    """``str.format`` with shell-quoted values, then ``--key value`` for each undeclared parameter."""
    quoted = {key: shlex.quote(value) for key, value in values.items()}
    command = template.format(**quoted)
    parts = [command] + [f"--{shlex.quote(key)} {shlex.quote(value)}" for key, value in extra.items()]
    return " ".join(parts)


def _check_placeholders(entry_point: EntryPoint) -> list[str]:
    names: list[str] = []
    try:
        for _, field_name, _, _ in string.Formatter().parse(entry_point.command):
            if field_name is not None:
                names.append(field_name)
    except ValueError as exc:
        return [f"entry point {entry_point.name!r} has a malformed command template: {exc}"]
    return [
        f"entry point {entry_point.name!r} command uses {{{n}}}, which is not a declared parameter"
        for n in names
        if n not in entry_point.parameters
    ]


def _is_remote(value: str) -> bool:
    return is_uri(value) and urlparse(value).scheme.lower() != "file"


def _local_path(value: str, cwd: Path, project_dir: Path) -> Path | None:
    if value.startswith("file:"):
        value = urlparse(value).path
    elif _is_remote(value):
        return None
    candidate = Path(value).expanduser()
    for base in (cwd, project_dir):
        path = candidate if candidate.is_absolute() else base / candidate
        if path.exists():
            return path.resolve()
    return None


def _download(uri: str, storage_dir: Path | None, position: int) -> str:
    """Fetch a remote ``path`` value into ``storage_dir/param_<position>`` (MLflow's layout)."""
    from bakehouse.store.artifacts import get_artifact_repository

    if storage_dir is None:
        import tempfile

        storage_dir = Path(tempfile.mkdtemp(prefix="bakehouse-params-"))
    target = storage_dir / f"param_{position}"
    target.mkdir(parents=True, exist_ok=True)
    parent, _, name = uri.rstrip("/").rpartition("/")
    try:
        repository = get_artifact_repository(parent)
        return str(repository.download_artifacts(name, dst_path=str(target)))
    except Exception as exc:  # noqa: BLE001 - any download failure is the user's value being wrong
        raise ParameterValidationError(
            [f"path parameter value {uri!r} could not be downloaded: {exc}"]
        ) from None
