"""MLflow's opaque page tokens (base64 of ``{"offset": N}``), for every store's searches and lists."""

from __future__ import annotations

import base64
import binascii
import json

from bakehouse.errors import InvalidParameterError


def encode_page_token(offset: int) -> str:
    """MLflow's opaque page token: base64 of ``{"offset": N}``."""
    return base64.b64encode(json.dumps({"offset": int(offset)}).encode("utf-8")).decode("ascii")


#: the largest offset a page token may hold: the largest integer a JSON number carries exactly (2**53 - 1),
#: far below where ``offset + max_results`` would overflow the databases' 64-bit OFFSET
MAX_PAGE_OFFSET = 2**53 - 1


def decode_page_token(token: str | bytes | None) -> int:
    """The offset inside a page token; 0 for no token. Garbage, a negative offset or one above
    :data:`MAX_PAGE_OFFSET` -> InvalidParameterError (a 400, never a database overflow)."""
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
            f"Invalid page token {_shown(token)}: not a token returned by a search"
        ) from None
    offset = parsed.get("offset") if isinstance(parsed, dict) else None
    if isinstance(offset, str) and offset.isascii() and offset.isdigit() and len(offset) <= 20:
        offset = int(offset)
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidParameterError(f"Invalid page token {_shown(token)}: it holds no valid offset")
    if offset > MAX_PAGE_OFFSET:
        raise InvalidParameterError(
            f"Invalid page token {_shown(token)}: its offset is larger than {MAX_PAGE_OFFSET}"
        )
    return offset


def _shown(token: str | bytes) -> str:
    text = repr(token)
    return text if len(text) <= 120 else text[:120] + "..."
