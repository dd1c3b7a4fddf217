"""MLflow's opaque page tokens (base64 of ``{"offset": N}``), for every store's searches and lists."""

from __future__ import annotations

import base64
import binascii
import json

from bakehouse.errors import InvalidParameterError


def encode_page_token(offset: int) -> str:
    """MLflow's opaque page token: base64 of ``{"offset": N}``."""
    return base64.b64encode(json.dumps({"offset": int(offset)}).encode("utf-8")).decode("ascii")


def decode_page_token(token: str | bytes | None) -> int:
    """The offset inside a page token; 0 for no token. Garbage -> InvalidParameterError."""
    if token is None or token == "" or token == b"":
        return 0
    try:
        raw = token.encode("ascii") if isinstance(token, str) else bytes(token)
        raw = raw.strip()
        raw += b"=" * (-len(raw) % 4)
        decoded = base64.b64decode(raw.replace(b"-", b"+").replace(b"_", b"/"), validate=True)
        parsed = json.loads(decoded.decode("utf-8"))
    except (ValueError, TypeError, UnicodeError, binascii.Error, RecursionError):
        raise InvalidParameterError(
            f"Invalid page token {token!r}: not a token returned by a search"
        ) from None
    offset = parsed.get("offset") if isinstance(parsed, dict) else None
    if isinstance(offset, str) and offset.isdigit():
        offset = int(offset)
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidParameterError(f"Invalid page token {token!r}: it holds no valid offset")
    return offset
