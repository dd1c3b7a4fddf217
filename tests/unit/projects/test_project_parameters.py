"""Typed parameter validation, path lookup and shell-safe command rendering."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from bakehouse.errors import InvalidParameterError
from bakehouse.projects.parameters import (
    ParameterValidationError,
    is_uri,
    parse_param_pairs,
    render_command,
    resolve_parameters,
)
from bakehouse.projects.spec import EntryPoint, ParameterSpec


def entry(command: str, **params: ParameterSpec) -> EntryPoint:
    return EntryPoint(name="main", command=command, parameters=dict(params))


def p(name: str, type_: str = "string", default: str | None = None) -> ParameterSpec:
    return ParameterSpec(name=name, type=type_, default=default)


def test_defaults_filled_and_logged_as_written(tmp_path: Path) -> None:
    ep = entry(
        "python train.py --C {C} --n {n} --name {name}",
        C=p("C", "float", "1.0"),
        n=p("n", "int", "5"),
        name=p("name", "string", "x"),
    )
    resolved = resolve_parameters(ep, {"C": "1e-3"}, project_dir=tmp_path, cwd=tmp_path)
    assert resolved.declared == {"C": "1e-3", "n": "5", "name": "x"}
    assert resolved.extra == {}
    assert resolved.logged == {"C": "1e-3", "n": "5", "name": "x"}
    assert resolved.command == "python train.py --C 1e-3 --n 5 --name x"


@pytest.mark.parametrize(
    ("type_", "value", "message"),
    [
        ("float", "abc", "parameter 'x' of type float got 'abc': not a number"),
        ("float", "nan", "parameter 'x' of type float got 'nan': NaN is not allowed"),
        ("int", "1.5", "parameter 'x' of type int got '1.5': not an integer"),
        ("int", "ten", "parameter 'x' of type int got 'ten': not an integer"),
        ("uri", "just-a-name", "parameter 'x' of type uri got 'just-a-name': not a URI"),
        (
            "path",
            "does/not/exist.csv",
            "parameter 'x' of type path got 'does/not/exist.csv': no such file or directory",
        ),
    ],
)
def test_wrong_values_name_parameter_type_and_value(
    tmp_path: Path, type_: str, value: str, message: str
) -> None:
    ep = entry("run {x}", x=p("x", type_))
    with pytest.raises(ParameterValidationError) as info:
        resolve_parameters(ep, {"x": value}, project_dir=tmp_path, cwd=tmp_path)
    assert str(info.value).startswith(message)
    assert isinstance(info.value, InvalidParameterError)


@pytest.mark.parametrize(
    ("type_", "value"),
    [
        ("float", "0.1"),
        ("float", "-3"),
        ("float", "1E5"),
        ("int", "42"),
        ("int", "-7"),
        ("uri", "s3://bucket/key"),
        ("uri", "runs:/abc/model"),
        ("uri", "file:///tmp/x"),
    ],
)
def test_good_values_pass(tmp_path: Path, type_: str, value: str) -> None:
    ep = entry("run {x}", x=p("x", type_))
    assert resolve_parameters(ep, {"x": value}, project_dir=tmp_path, cwd=tmp_path).declared == {"x": value}


def test_missing_required_and_all_problems_reported_together(tmp_path: Path) -> None:
    ep = entry("run {a} {b} {c}", a=p("a", "float"), b=p("b", "path"), c=p("c", "int", "1"))
    with pytest.raises(ParameterValidationError) as info:
        resolve_parameters(ep, {"c": "x"}, project_dir=tmp_path, cwd=tmp_path)
    assert info.value.problems == [
        "parameter 'a' of type float is required but no value was given (-P a=...)",
        "parameter 'b' of type path is required but no value was given (-P b=...)",
        "parameter 'c' of type int got 'x': not an integer",
    ]
    assert str(info.value).startswith("3 invalid parameters: parameter 'a' of type float is required")


def test_path_found_relative_to_cwd_then_project(tmp_path: Path) -> None:
    cwd, project = tmp_path / "cwd", tmp_path / "project"
    (cwd).mkdir()
    (project / "data").mkdir(parents=True)
    (project / "data" / "train.csv").write_text("a,b\n")
    (cwd / "local.csv").write_text("x\n")
    ep = entry("run {d}", d=p("d", "path"))
    in_project = resolve_parameters(ep, {"d": "data/train.csv"}, project_dir=project, cwd=cwd)
    assert in_project.command_values["d"] == str((project / "data" / "train.csv").resolve())
    assert in_project.logged == {"d": "data/train.csv"}  # the value the user gave is what gets logged
    in_cwd = resolve_parameters(ep, {"d": "local.csv"}, project_dir=project, cwd=cwd)
    assert in_cwd.command == "run " + str((cwd / "local.csv").resolve())
    as_file_uri = resolve_parameters(ep, {"d": (cwd / "local.csv").as_uri()}, project_dir=project, cwd=cwd)
    assert as_file_uri.command_values["d"] == str((cwd / "local.csv").resolve())


def test_values_are_shell_quoted_and_cannot_inject(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    ep = entry("echo {msg}", msg=p("msg"))
    evil = f"hi; touch {marker}"
    resolved = resolve_parameters(ep, {"msg": evil}, project_dir=tmp_path, cwd=tmp_path)
    out = subprocess.run(["bash", "-c", resolved.command], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == evil
    assert not marker.exists()


def test_undeclared_params_appended_quoted(tmp_path: Path) -> None:
    ep = entry("python t.py {a}", a=p("a", "int", "1"))
    resolved = resolve_parameters(ep, {"lr": "0.1", "note": "two words"}, project_dir=tmp_path, cwd=tmp_path)
    assert resolved.extra == {"lr": "0.1", "note": "two words"}
    assert resolved.command == "python t.py 1 --lr 0.1 --note 'two words'"
    assert shlex.split(resolved.command)[-2:] == ["--note", "two words"]
    assert resolved.logged == {"a": "1", "lr": "0.1", "note": "two words"}


def test_bad_extra_key_and_undeclared_placeholder(tmp_path: Path) -> None:
    ep = entry("python t.py {a} {b}", a=p("a", "int", "1"))
    with pytest.raises(ParameterValidationError) as info:
        resolve_parameters(ep, {"bad key;": "1"}, project_dir=tmp_path, cwd=tmp_path)
    assert info.value.problems == [
        "undeclared parameter name 'bad key;' cannot be passed as a --flag",
        "entry point 'main' command uses {b}, which is not a declared parameter",
    ]


def test_parse_param_pairs() -> None:
    assert parse_param_pairs(["C=0.1", "expr=a=b", "empty="]) == {"C": "0.1", "expr": "a=b", "empty": ""}
    with pytest.raises(InvalidParameterError, match="must look like NAME=VALUE"):
        parse_param_pairs(["novalue"])


def test_is_uri_and_render_command() -> None:
    assert is_uri("s3://b/k") and is_uri("mlflow-artifacts:/x/y") and is_uri("https://h/p")
    assert not is_uri("C:\\data") and not is_uri("plain") and not is_uri("s3://")
    assert render_command("x {a}", {"a": "it's"}, {}) == "x 'it'\"'\"'s'"
