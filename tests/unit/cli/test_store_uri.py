"""The database URI, with its password, can stay off the command line: a file or the environment."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from bakehouse.cli.options import resolve_store_uri

URI = "postgresql+psycopg://bakehouse:s3cret@db.internal:5432/bakehouse"


@pytest.fixture(autouse=True)
def _no_uri_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BAKEHOUSE_BACKEND_STORE_URI", raising=False)
    monkeypatch.delenv("BAKEHOUSE_BACKEND_STORE_URI_FILE", raising=False)


def test_the_command_line_wins_then_a_file_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "database-uri"
    secret.write_text(URI + "\n")  # as `kubectl create secret --from-file` or an editor leaves it
    assert resolve_store_uri(None, None) is None
    assert resolve_store_uri("sqlite:///x.db", None) == "sqlite:///x.db"
    assert resolve_store_uri(None, str(secret)) == URI
    monkeypatch.setenv("BAKEHOUSE_BACKEND_STORE_URI", URI)
    assert resolve_store_uri(None, None) == URI
    assert resolve_store_uri("sqlite:///x.db", None) == "sqlite:///x.db"
    monkeypatch.delenv("BAKEHOUSE_BACKEND_STORE_URI")
    monkeypatch.setenv("BAKEHOUSE_BACKEND_STORE_URI_FILE", str(secret))
    assert resolve_store_uri(None, None) == URI


def test_unusable_sources_are_refused_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(click.UsageError, match="not both"):
        resolve_store_uri(URI, str(empty))
    with pytest.raises(click.UsageError, match="is empty"):
        resolve_store_uri(None, str(empty))
    with pytest.raises(click.UsageError, match="Cannot read the database URI"):
        resolve_store_uri(None, str(tmp_path / "missing"))
    monkeypatch.setenv("BAKEHOUSE_BACKEND_STORE_URI", URI)
    monkeypatch.setenv("BAKEHOUSE_BACKEND_STORE_URI_FILE", str(empty))
    with pytest.raises(click.UsageError, match="keep one"):
        resolve_store_uri(None, None)
