"""Sweep specs and the grid they expand to."""

from __future__ import annotations

import pytest

from bakehouse.errors import InvalidParameterError
from bakehouse.projects.sweep import SweepAxis, describe, grid, parse_sweep, parse_sweeps


def test_parse_and_grid_order() -> None:
    axes = parse_sweeps(["C=0.01, 0.1,1", "max_iter=100,1000"])
    assert axes == [SweepAxis("C", ("0.01", "0.1", "1")), SweepAxis("max_iter", ("100", "1000"))]
    combos = grid(axes)
    assert combos == [
        {"C": "0.01", "max_iter": "100"},
        {"C": "0.01", "max_iter": "1000"},
        {"C": "0.1", "max_iter": "100"},
        {"C": "0.1", "max_iter": "1000"},
        {"C": "1", "max_iter": "100"},
        {"C": "1", "max_iter": "1000"},
    ]
    assert describe(combos[0]) == "C=0.01 max_iter=100"
    assert grid([]) == []


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["C"], "must look like NAME=V1,V2"),
        (["=1,2"], "must look like NAME=V1,V2"),
        (["C="], "has an empty value"),
        (["C=1,,2"], "has an empty value"),
        (["C=1,1"], "repeats a value"),
        (["C=1", "C=2"], "given more than once: C"),
    ],
)
def test_bad_sweeps(specs: list[str], message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        parse_sweeps(specs)


def test_single_axis() -> None:
    assert grid([parse_sweep("lr=0.1")]) == [{"lr": "0.1"}]


def test_absolute_tracking_uri(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    from bakehouse.projects.runner import absolute_tracking_uri

    monkeypatch.chdir(str(tmp_path))
    assert absolute_tracking_uri("sqlite:///rel/t.db") == "sqlite:///" + str(
        Path(str(tmp_path)).resolve() / "rel/t.db"
    )
    assert absolute_tracking_uri("sqlite:////abs/t.db") == "sqlite:////abs/t.db"
    assert absolute_tracking_uri("http://server:5000") == "http://server:5000"
    assert absolute_tracking_uri("sqlite:///:memory:") == "sqlite:///:memory:"
