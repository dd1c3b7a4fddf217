"""The single path-safety module every repository and the server proxy rely on."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bakehouse.errors import InvalidParameterError
from bakehouse.store.artifacts.paths import (
    append_to_uri,
    is_within_root,
    join_artifact_path,
    resolve_parent_under,
    resolve_under,
    safe_file_name,
    safe_relative_path,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ""),
        ("", ""),
        (".", ""),
        ("./", ""),
        ("a", "a"),
        ("a/b/c.txt", "a/b/c.txt"),
        ("dir/", "dir"),
        ("./a/./b", "a/b"),
        ("my file #1.txt", "my file #1.txt"),
        ("données/été ☃.txt", "données/été ☃.txt"),
        ("a%20b.txt", "a%20b.txt"),  # kept as spelled, never decoded
        ("100%.txt", "100%.txt"),
        ("%zz", "%zz"),
        ("a..b/..c/d..", "a..b/..c/d.."),
        ("...", "..."),
        ("~user/x", "~user/x"),
        ("a%2fb", "a%2fb"),  # an encoded slash inside a name is harmless once it stays a name
        ("%ff%fe", "%ff%fe"),  # not UTF-8 once decoded: still only a name
    ],
)
def test_accepted_paths_are_normalised(raw: str | None, expected: str) -> None:
    assert safe_relative_path(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("..", "'..' segments"),
        ("../x", "'..' segments"),
        ("a/../../x", "'..' segments"),
        ("a/..", "'..' segments"),
        ("a/../b", "'..' segments"),
        ("%2e%2e", "'..' segments"),
        ("%2E%2e/x", "'..' segments"),
        ("a/%2e%2e%2f%2e%2e/x", "'..' segments"),
        (".%2e/x", "'..' segments"),
        ("/etc/passwd", "absolute"),
        ("//server/share", "absolute"),
        ("%2fetc", "absolute"),
        ("a\\b", "backslashes"),
        ("..\\x", "backslashes"),
        ("a%5cb", "backslashes"),
        ("a\x00b", "NUL"),
        ("a%00b", "NUL"),
        ("C:/x", "drive letters"),
        ("c:x", "drive letters"),
        ("C%3a/x", "drive letters"),
        ("a//b", "empty path segments"),
        ("a/./../b", "'..' segments"),
    ],
)
def test_rejected_paths_say_why(raw: str, reason: str) -> None:
    with pytest.raises(InvalidParameterError, match=reason) as info:
        safe_relative_path(raw)
    assert info.value.code.value == "INVALID_PARAMETER_VALUE"
    assert repr(raw) in info.value.message


def test_non_string_is_rejected() -> None:
    with pytest.raises(InvalidParameterError, match="expected a string"):
        safe_relative_path(b"a")


def test_file_names_are_single_segments() -> None:
    assert safe_file_name("model.pkl") == "model.pkl"
    for bad in ("a/b", "", ".", "..", "/x"):
        with pytest.raises(InvalidParameterError):
            safe_file_name(bad)


def test_join_validates_every_part() -> None:
    assert join_artifact_path(None, "", "a/", "b") == "a/b"
    assert join_artifact_path("dir/", "f.txt") == "dir/f.txt"
    for bad_parts in [("/etc", "x"), ("a", "../x"), ("..", "x"), ("a", "b\\c")]:
        with pytest.raises(InvalidParameterError):
            join_artifact_path(*bad_parts)


def test_append_to_uri() -> None:
    assert append_to_uri("s3://b/p", "a/b") == "s3://b/p/a/b"
    assert append_to_uri("mlflow-artifacts:/", "1/x") == "mlflow-artifacts:/1/x"
    assert append_to_uri("/tmp/root", None) == "/tmp/root"
    with pytest.raises(InvalidParameterError):
        append_to_uri("s3://b/p", "../q")


def test_resolve_under_follows_links_and_refuses_escapes(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "in").mkdir(parents=True)
    (tmp_path / "out").mkdir()
    (root / "inner-link").symlink_to(root / "in")
    (root / "outer-link").symlink_to(tmp_path / "out")
    assert resolve_under(root, "") == root.resolve()
    assert resolve_under(root, "in/new.txt") == (root / "in" / "new.txt").resolve()
    assert resolve_under(root, "inner-link/x") == (root / "in" / "x").resolve()
    with pytest.raises(InvalidParameterError, match="outside the artifact root"):
        resolve_under(root, "outer-link")
    with pytest.raises(InvalidParameterError, match="outside the artifact root"):
        resolve_under(root, "outer-link/x")
    assert not is_within_root(root, root / "outer-link")
    assert is_within_root(root, root / "inner-link")


def test_resolve_parent_under_keeps_the_final_link(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "out").mkdir()
    (root / "outer-link").symlink_to(tmp_path / "out")
    # the final component stays the link itself: deleting or replacing it never touches the target
    assert resolve_parent_under(root, "outer-link") == root.resolve() / "outer-link"
    with pytest.raises(InvalidParameterError, match="outside the artifact root"):
        resolve_parent_under(root, "outer-link/file.txt")


def test_a_symlinked_root_is_the_users_choice(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    assert resolve_under(tmp_path / "alias", "f") == (tmp_path / "real" / "f")


_ALPHABET = st.sampled_from(
    ["a", ".", "..", "/", "\\", "%", "2", "e", "E", "f", "5", "c", "0", "\x00", "C:", "%2e", "%2f"]
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(_ALPHABET, max_size=12))
def test_no_accepted_path_escapes_the_root(tmp_path: Path, parts: list[str]) -> None:
    raw = "".join(parts)
    try:
        rel = safe_relative_path(raw)
    except InvalidParameterError:
        return
    root = tmp_path / "root"
    for candidate in (rel, raw):
        resolved = os.path.normpath(os.path.join(str(root), candidate))
        assert resolved == str(root) or resolved.startswith(str(root) + os.sep), (raw, rel)
    assert "\x00" not in rel and "\\" not in rel and ".." not in rel.split("/")
    assert safe_relative_path(rel) == rel  # idempotent
