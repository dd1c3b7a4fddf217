"""MLflow's opaque page tokens (base64 of ``{"offset": N}``), for every store's searches and lists."""

from __future__ import annotations

import base64
import binascii
import json
import math

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
    parsed = _parsed(token)
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


def encode_run_position_token(offset: int, start_time: int | None, run_id: str) -> str:
    """A search_runs token that also names the last run returned (its start time and id).

    With the default order (newest first) the next page starts right after that run, found through the
    runs index in a few milliseconds at any depth, where an offset walks every run before it. The offset
    stays in the token for searches that cannot seek (another order), and MLflow's clients see an opaque
    string either way.
    """
    body = {"offset": int(offset), "start_time": start_time, "run_id": run_id}
    return base64.b64encode(json.dumps(body).encode("utf-8")).decode("ascii")


def decode_run_position(token: str | bytes | None) -> tuple[int | None, str] | None:
    """The (start time, run id) a token made by :func:`encode_run_position_token` names; None for a token
    that holds only an offset. Tokens are validated by :func:`decode_page_token` first."""
    if not token:
        return None
    parsed = _parsed(token)
    if not isinstance(parsed, dict) or "run_id" not in parsed or "segment" in parsed:
        return None
    start_time, run_id = parsed.get("start_time"), parsed.get("run_id")
    valid_start = start_time is None or (type(start_time) is int and -(2**63) <= start_time < 2**63)
    if not isinstance(run_id, str) or len(run_id) > MAX_RUN_ID_LENGTH or not valid_start:
        raise InvalidParameterError(f"Invalid page token {_shown(token)}: not a token returned by a search")
    return start_time, run_id


#: run ids are 32 hex characters; a position token naming a longer one was not made by a search
MAX_RUN_ID_LENGTH = 64


def _parsed(token: str | bytes) -> object:
    """The JSON inside a token (standard or URL-safe base64, padding optional)."""
    try:
        raw = token.encode("ascii") if isinstance(token, str) else bytes(token)
        raw = raw.strip()
        raw += b"=" * (-len(raw) % 4)
        decoded = base64.b64decode(raw.replace(b"-", b"+").replace(b"_", b"/"), validate=True)
        parsed: object = json.loads(decoded.decode("utf-8"))
    except (ValueError, TypeError, UnicodeError, binascii.Error, RecursionError):
        raise InvalidParameterError(
            f"Invalid page token {_shown(token)}: not a token returned by a search"
        ) from None
    return parsed


def encode_run_metric_position_token(
    offset: int, segment: int, value: float | None, start_time: int | None, run_id: str
) -> str:
    """A token for a search ordered by one metric: it names the last run returned by its place in that
    order (segment 0 numbers, 1 NaN, 2 no such metric; the metric's stored value; start time; id), so the
    next page is read from there along the metric's index instead of counting an offset."""
    body = {
        "offset": int(offset),
        "segment": segment,
        "value": value,
        "start_time": start_time,
        "run_id": run_id,
    }
    return base64.b64encode(json.dumps(body).encode("utf-8")).decode("ascii")


def decode_run_metric_position(
    token: str | bytes | None,
) -> tuple[int, float | None, int | None, str] | None:
    """(segment, value, start time, run id) of a token made by :func:`encode_run_metric_position_token`;
    None for another token (an offset, or a default-order position). Validate with
    :func:`decode_page_token` first."""
    if not token:
        return None
    parsed = _parsed(token)
    if not isinstance(parsed, dict) or "segment" not in parsed:
        return None
    segment, value = parsed.get("segment"), parsed.get("value")
    start_time, run_id = parsed.get("start_time"), parsed.get("run_id")
    # bool is an int subclass: only exact ints and floats count as the metric value
    number = type(value) in (int, float) and isinstance(value, int | float) and math.isfinite(value)
    if (
        type(segment) is int
        and segment in (0, 1, 2)
        and (value is None if segment else number)
        and (start_time is None or (type(start_time) is int and -(2**63) <= start_time < 2**63))
        and isinstance(run_id, str)
        and len(run_id) <= MAX_RUN_ID_LENGTH
    ):
        return segment, (None if value is None else float(value)), start_time, run_id
    raise InvalidParameterError(f"Invalid page token {_shown(token)}: not a token returned by a search")
