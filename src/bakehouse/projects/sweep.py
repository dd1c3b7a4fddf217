"""Grid sweeps: ``--sweep "C=0.01,0.1" --sweep "max_iter=100,1000"`` → every combination, in order."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from bakehouse.errors import InvalidParameterError

MAX_SWEEP_RUNS = 10_000


@dataclass(frozen=True)
class SweepAxis:
    name: str
    values: tuple[str, ...]


def parse_sweep(spec: str) -> SweepAxis:
    """``"C=0.01,0.1,1"`` → ``SweepAxis("C", ("0.01", "0.1", "1"))``; empty values are refused."""
    name, sep, raw = spec.partition("=")
    name = name.strip()
    if not sep or not name:
        raise InvalidParameterError(f"Sweep {spec!r} must look like NAME=V1,V2,...")
    values = tuple(v.strip() for v in raw.split(","))
    if not raw.strip() or any(v == "" for v in values):
        raise InvalidParameterError(f"Sweep {spec!r} has an empty value; separate values with commas")
    if len(set(values)) != len(values):
        raise InvalidParameterError(f"Sweep {spec!r} repeats a value")
    return SweepAxis(name, values)


def parse_sweeps(specs: list[str] | tuple[str, ...]) -> list[SweepAxis]:
    axes = [parse_sweep(s) for s in specs]
    names = [a.name for a in axes]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InvalidParameterError(f"Sweep parameter(s) given more than once: {', '.join(duplicated)}")
    return axes


def grid(axes: list[SweepAxis]) -> list[dict[str, str]]:
    """The Cartesian product, first axis varying slowest (``itertools.product`` order)."""
    if not axes:
        return []
    size = 1
    for axis in axes:
        size *= len(axis.values)
    if size > MAX_SWEEP_RUNS:
        raise InvalidParameterError(f"The sweep has {size} combinations; the limit is {MAX_SWEEP_RUNS}")
    return [
        dict(zip([a.name for a in axes], combo)) for combo in itertools.product(*(a.values for a in axes))
    ]


def describe(combination: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in combination.items())
