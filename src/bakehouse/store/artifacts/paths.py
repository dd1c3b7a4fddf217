"""Artifact path safety, in one place.

Every repository and the server's artifact proxy pass user-supplied artifact paths through
:func:`safe_relative_path` before touching storage, and local storage additionally goes through
:func:`resolve_under` / :func:`resolve_parent_under`, so that no spelling of a path (``..``, ``%2e%2e``
encoded any number of times, ``..;/`` path parameters, absolute paths, backslashes, NUL bytes, drive letters,
symlinks) can read or write outside the root.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from urllib.parse import unquote

from bakehouse.errors import InvalidParameterError

_DRIVE_LETTER = re.compile(r"^[A-Za-z]:")


def _reject(path: str, reason: str) -> InvalidParameterError:
    return InvalidParameterError(f"Invalid artifact path {path!r}: {reason}")


#: how many rounds of percent-decoding a path may need before it stops changing; deeper nesting is refused
MAX_DECODE_ROUNDS = 8


def decoded_forms(text: str, what: str = "artifact path") -> list[str]:
    """``text`` and every distinct form of it that repeated percent-decoding yields.

    Some proxies and clients decode a URL more than once, so ``%25252e%25252e`` is ``..`` to the next tool
    even though it is a harmless name here: a check must hold for every one of these forms. Each round
    shrinks the text, so the list is short; a text still changing after :data:`MAX_DECODE_ROUNDS` rounds is
    refused rather than decoded further.
    """
    forms = [text]
    while "%" in forms[-1]:
        decoded = unquote(forms[-1])
        if decoded == forms[-1]:
            break
        if len(forms) > MAX_DECODE_ROUNDS:
            raise InvalidParameterError(
                f"Invalid {what} {text!r}: percent-encoded more than {MAX_DECODE_ROUNDS} times"
            )
        forms.append(decoded)
    return forms


def parameter_free(segment: str) -> str:
    """A path segment without ``;`` path parameters: ``..;jsessionid=1`` -> ``..`` (as servlet containers
    and some proxies read it)."""
    return segment.split(";", 1)[0]


def _check_form(original: str, candidate: str) -> None:
    """Refuse the dangerous shapes in ``candidate`` (the raw path or one of its percent-decoded forms)."""
    if "\x00" in candidate:
        raise _reject(original, "NUL bytes are not allowed")
    if "\\" in candidate:
        raise _reject(original, "backslashes are not allowed, use '/' as the separator")
    if candidate.startswith("/"):
        raise _reject(
            original, "absolute paths are not allowed, artifact paths are relative to the artifact root"
        )
    if _DRIVE_LETTER.match(candidate):
        raise _reject(original, "drive letters are not allowed")
    segments = candidate.split("/")
    if ".." in segments:
        raise _reject(original, "'..' segments are not allowed")
    for segment in segments:
        if ";" in segment and parameter_free(segment) in ("", ".", ".."):
            raise _reject(
                original, f"the segment {segment!r} is '.', '..' or empty once its ';' parameters are dropped"
            )


#: the longest file name common file systems (and S3 keys' usual tooling) accept, per path segment
MAX_NAME_BYTES = 255


def safe_relative_path(path: str | None) -> str:
    """Validate and normalise an artifact path relative to an artifact root.

    Returns the canonical form: ``/``-separated, no ``.`` segments, no leading ``./`` and no trailing
    ``/``; ``""`` (or ``None``) means the root itself. The path is refused with
    :class:`~bakehouse.errors.InvalidParameterError` if it, or any of its percent-decoded forms (decoded
    until it stops changing, which catches ``%2e%2e``, ``%25252e%25252e``, ``%2f``, ``%5c`` and ``%00``),
    contains a ``..`` segment, a segment that is ``..``, ``.`` or empty once its ``;`` parameters are
    dropped (``..;/``), a backslash, a NUL byte, a drive letter or a leading ``/``; empty segments
    (``a//b``) are refused as well because different stores interpret them differently. The returned path is the
    original spelling (never the decoded one): a file literally named ``a%20b`` stays ``a%20b``.
    """
    if path is None or path == "":
        return ""
    if not isinstance(path, str):
        raise InvalidParameterError(f"Invalid artifact path {path!r}: expected a string")
    for form in decoded_forms(path):
        _check_form(path, form)
    trimmed = path.removesuffix("/")
    segments = [segment for segment in trimmed.split("/") if segment != "."]
    if any(segment == "" for segment in segments):
        raise _reject(path, "empty path segments ('//') are not allowed")
    if any(len(segment.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES for segment in segments):
        raise _reject(path, f"a file or directory name may be at most {MAX_NAME_BYTES} bytes long")
    return "/".join(segments)


def safe_file_name(name: str) -> str:
    """A single path segment (a file or directory name as listed by a remote server)."""
    relative = safe_relative_path(name)
    if relative == "" or "/" in relative:
        raise _reject(name, "expected a single file or directory name")
    return relative


def join_artifact_path(*parts: str | None) -> str:
    """Join relative artifact paths with ``/``, skipping empty parts; each part is validated."""
    return "/".join(rel for rel in (safe_relative_path(part) for part in parts) if rel)


def _is_within(path: str, root: str) -> bool:
    return path == root or path.startswith(root if root.endswith(os.sep) else root + os.sep)


def _real_root(root: Path | str, root_is_real: bool) -> str:
    return os.fspath(root) if root_is_real else os.path.realpath(root)


def _realpath_below(real_root: str, rel: str) -> str:
    """``os.path.realpath(real_root/rel)`` for a validated ``rel``, checking only the components of ``rel``.

    ``rel`` has no ``.``/``..``/empty segments, so until a symlink turns up the real path is the lexical
    one; a missing component means nothing below it exists either. A symlink hands over to realpath.
    """
    path = real_root.rstrip(os.sep)
    parts = rel.split("/")
    for index, part in enumerate(parts):
        path = f"{path}{os.sep}{part}"
        try:
            mode = os.lstat(path).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return os.path.join(path, *parts[index + 1 :])
        if stat.S_ISLNK(mode):
            return os.path.realpath(os.path.join(path, *parts[index + 1 :]))
    return path


def resolve_under(root: Path | str, relative: str | None, *, root_is_real: bool = False) -> Path:
    """The real location of ``relative`` under ``root``, following every symlink.

    Use it for reads and listings: a symlink inside the root that points outside it is refused with
    :class:`~bakehouse.errors.InvalidParameterError`. The path does not have to exist.
    ``root_is_real=True`` skips resolving ``root`` (pass ``os.path.realpath(root)`` cached by the caller).
    """
    real_root = _real_root(root, root_is_real)
    rel = safe_relative_path(relative)
    if rel == "":
        return Path(real_root)
    candidate = _realpath_below(real_root, rel)
    if not _is_within(candidate, real_root):
        raise _reject(relative or "", "it resolves outside the artifact root")
    return Path(candidate)


def resolve_parent_under(root: Path | str, relative: str | None, *, root_is_real: bool = False) -> Path:
    """``relative`` under ``root`` with every directory resolved but the final name kept as is.

    Use it for writes and deletes: replacing or deleting a final component that is a symlink affects the
    link, never its target, while a symlinked *directory* on the way out of the root is refused.
    """
    real_root = _real_root(root, root_is_real)
    rel = safe_relative_path(relative)
    if rel == "":
        return Path(real_root)
    parent_rel, _, name = rel.rpartition("/")
    parent = _realpath_below(real_root, parent_rel) if parent_rel else real_root
    if not _is_within(parent, real_root):
        raise _reject(relative or "", "it resolves outside the artifact root")
    return Path(parent, name)


def is_within_root(root: Path | str, path: Path | str, *, root_is_real: bool = False) -> bool:
    """Whether ``path`` (after resolving symlinks) lies inside ``root``."""
    return _is_within(os.path.realpath(path), _real_root(root, root_is_real))


def append_to_uri(base_uri: str, relative: str | None) -> str:
    """Append a validated relative artifact path to an artifact URI or a local path."""
    rel = safe_relative_path(relative)
    if rel == "":
        return base_uri
    if base_uri.endswith("/"):
        return base_uri + rel
    return f"{base_uri}/{rel}"
