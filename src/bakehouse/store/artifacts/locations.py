"""Artifact locations and model sources sent by clients: the spellings a server refuses, in every scheme.

An experiment's ``artifact_location`` and a model version's ``source`` are URIs the server later reads from,
writes to, or hands to other tools. Whatever the scheme (a local path, ``file:``, ``mlflow-artifacts:``,
``s3://``, ``http://``...), such a URI must not climb out of where it points: no ``..`` or ``.`` segment in
any percent-decoded form (``%2e%2e``, ``%252e%252e``...), none hidden behind ``;`` parameters (``..;``), no
query or fragment (``http:///#/../../etc`` reads differently to every parser), no backslash, NUL or other
control character. :func:`check_location_spelling` enforces that; :func:`location_within` says whether a
URI lies under a root URI, segment by segment.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

from bakehouse.errors import InvalidParameterError
from bakehouse.store.artifacts.paths import decoded_forms, parameter_free

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: schemes whose URIs name a host: one without a host (``http:///x``) is refused
_HOST_SCHEMES = frozenset({"http", "https", "s3", "gs", "wasbs", "abfss", "ftp", "sftp", "hdfs"})
#: the longest location or source accepted (MLflow's columns hold 4,000 characters)
MAX_LOCATION_CHARS = 4000


def _refuse(what: str, uri: str, reason: str) -> InvalidParameterError:
    shown = uri if len(uri) <= 200 else uri[:200] + "..."
    return InvalidParameterError(f"Invalid {what} {shown!r}: {reason}")


def _split(what: str, uri: str, form: str) -> SplitResult:
    try:
        return urlsplit(form)
    except ValueError as exc:  # e.g. an unclosed '[' in the host
        raise _refuse(what, uri, f"not a valid URI ({exc})") from None


def _check_form(what: str, uri: str, form: str) -> None:
    if _CONTROL.search(form):
        raise _refuse(what, uri, "NUL and other control characters are not allowed")
    if "\\" in form:
        raise _refuse(what, uri, "backslashes are not allowed, use '/' as the separator")
    if "?" in form or "#" in form:
        raise _refuse(what, uri, "a query ('?') or fragment ('#') is not allowed")
    parts = _split(what, uri, form)
    if parts.netloc in (".", ".."):
        raise _refuse(what, uri, "relative path references ('..', '.') are not allowed")
    for segment in parts.path.split("/"):
        if parameter_free(segment) in (".", "..") or (";" in segment and parameter_free(segment) == ""):
            raise _refuse(
                what,
                uri,
                "relative path references ('..', '.', also percent-encoded or with ';') are not allowed",
            )


def check_location_spelling(uri: object, what: str) -> str:
    """``uri`` if no form of it is hostile (see the module docstring); else InvalidParameterError naming why.

    ``what`` names the field in the message (``"artifact_location"``, ``"model version source"``).
    """
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidParameterError(f"Invalid {what} {uri!r}: expected a non-empty string")
    if len(uri) > MAX_LOCATION_CHARS:
        raise _refuse(what, uri, f"longer than {MAX_LOCATION_CHARS} characters")
    for form in decoded_forms(uri, what):
        _check_form(what, uri, form)
    parts = _split(what, uri, uri)
    scheme = parts.scheme.lower()
    if scheme in _HOST_SCHEMES and not parts.netloc:
        raise _refuse(what, uri, f"a {scheme}:// URI must name a host or bucket")
    return uri


def _segments(path: str) -> list[str]:
    return [segment for segment in path.split("/") if segment]


def location_within(uri: str, root: str) -> bool:
    """Whether ``uri`` is ``root`` or below it: same scheme and host, and ``root``'s path segments first.

    Both are compared as spelled (after :func:`check_location_spelling`, no spelling of ``uri`` can climb
    back out); host names compare case-insensitively, paths case-sensitively.
    """
    try:
        u, r = urlsplit(uri), urlsplit(root)
    except ValueError:
        return False
    if (u.scheme.lower(), u.netloc.lower()) != (r.scheme.lower(), r.netloc.lower()):
        return False
    root_segments = _segments(r.path)
    return _segments(u.path)[: len(root_segments)] == root_segments
