"""Building blocks shared by every group of wire messages.

Requests are pydantic models that ignore unknown fields (MLflow's parser does) and accept proto-JSON
spellings: int64 as number or decimal string, doubles as numbers or ``"NaN"``/``"Infinity"``. Booleans are
refused where a number is expected, numbers where a string is expected, and int64 values out of range, so
nothing is stored as something other than what was sent.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetPydanticSchema,
    StrictFloat,
    StrictInt,
    StrictStr,
)

from bakehouse.wire.json import INT64_MAX, INT64_MIN, float_from_json


def _to_int64(value: int | str) -> int:
    number = int(value)
    if not INT64_MIN <= number <= INT64_MAX:
        raise ValueError(f"{value} is outside the int64 range")
    return number


def _to_double(value: float | str) -> float:
    if isinstance(value, str):
        return float_from_json(value)
    return float(value)


# The types below validate inside pydantic-core (no Python call per field on the way in), which matters for
# a 1000-metric log-batch. Strict ints and floats refuse booleans; int64 also arrives as a decimal string
# (proto-JSON); doubles also arrive as "NaN", "Infinity", "-Infinity".
_NONFINITE = Literal["NaN", "Infinity", "-Infinity", "nan", "inf", "-inf", "infinity", "-infinity"]
_INT64_ON_THE_WIRE = Annotated[
    Annotated[StrictInt, Field(ge=INT64_MIN, le=INT64_MAX)]
    | Annotated[str, Field(pattern=r"^\s*-?[0-9]{1,19}\s*$")],
    AfterValidator(_to_int64),
]
_DOUBLE_ON_THE_WIRE = Annotated[StrictFloat | StrictInt | _NONFINITE, AfterValidator(_to_double)]
# What a field holds once validated is always an int (a float): that is the type checkers see, while
# pydantic validates (and describes in the OpenAPI document) every spelling the wire allows.
Int64 = Annotated[int, GetPydanticSchema(lambda _type, handler: handler(_INT64_ON_THE_WIRE))]
Double = Annotated[float, GetPydanticSchema(lambda _type, handler: handler(_DOUBLE_ON_THE_WIRE))]
Text = Annotated[StrictStr, Field(pattern=r"^[^\x00]*$")]
#: experiment, run, model ids and version numbers: strings in MLflow's protocol, so ``"experiment_id": 13`` is
#: refused (400) as MLflow's server refuses it, rather than guessed at
Id = Text


class WireModel(BaseModel):
    """Base of every request/response message."""

    # defer_build: validators are compiled on first use, so a server starts without building ~100 of them
    model_config = ConfigDict(
        extra="ignore", populate_by_name=True, str_strip_whitespace=False, defer_build=True
    )


class KeyValue(WireModel):
    key: Text
    value: Text = ""


class EmptyResponse(WireModel):
    pass
