"""Building blocks shared by every group of wire messages.

Requests are pydantic models that ignore unknown fields (MLflow's parser does) and accept proto-JSON
spellings: int64 as number or decimal string, doubles as numbers or ``"NaN"``/``"Infinity"``. Booleans are
refused where a number is expected, and int64 values out of range are refused, so nothing is stored as
something other than what was sent.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from bakehouse.wire.json import float_from_json

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def _int64(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        value = value.strip()
    return value


def _double(value: Any) -> float:
    try:
        return float_from_json(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"expected a valid double, got {value!r}") from exc


def _id_string(value: Any) -> Any:
    """IDs are strings on the wire; a bare integer experiment id is accepted as its decimal form."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _text(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("NUL characters are not allowed")
    return value


Int64 = Annotated[int, BeforeValidator(_int64), Field(ge=INT64_MIN, le=INT64_MAX)]
Double = Annotated[float, BeforeValidator(_double)]
Id = Annotated[str, BeforeValidator(_id_string)]
Text = Annotated[str, BeforeValidator(_text)]


class WireModel(BaseModel):
    """Base of every request/response message."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, str_strip_whitespace=False)


class KeyValue(WireModel):
    key: Text
    value: Text = ""


class EmptyResponse(WireModel):
    pass
