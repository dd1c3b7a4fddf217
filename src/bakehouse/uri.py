"""URIs as every layer reads them: the scheme that stores and artifact repositories are looked up by
(:mod:`bakehouse.plugins`), and whether a location is on this machine."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


def uri_scheme(uri: str) -> str:
    """The scheme in lower case, without a driver (``postgresql+psycopg://`` -> ``postgresql``); ``""`` for a
    plain path, a Windows drive (``C:\\...``) included."""
    if _WINDOWS_DRIVE.match(uri):
        return ""
    return urlsplit(uri).scheme.split("+", 1)[0]


def is_local_uri(uri: str) -> bool:
    """A plain path or a ``file:`` URI, as opposed to ``s3://``, ``mlflow-artifacts:/``, ``runs:/``..."""
    return uri_scheme(uri) in ("", "file")
