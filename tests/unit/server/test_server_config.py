"""ServerConfig and the `bakehouse server` option parsing (no server started)."""

from __future__ import annotations

from pathlib import Path

import click

from bakehouse.cli.server import _config_from, _exposure_warning, _redact, server_command
from bakehouse.server.config import PROXY_ARTIFACT_ROOT, ServerConfig


def _parse(*args: str) -> ServerConfig:
    ctx = server_command.make_context("server", list(args))
    return _config_from(dict(ctx.params))


def test_defaults_match_the_documented_ones() -> None:
    config = _parse()
    assert config.backend_store_uri == "sqlite:///./bakehouse.db"
    assert (config.host, config.port, config.workers) == ("127.0.0.1", 5000, 1)
    assert config.serve_artifacts and not config.artifacts_only
    assert config.effective_artifact_root == PROXY_ARTIFACT_ROOT


def test_short_options_and_lists() -> None:
    config = _parse(
        "-h",
        "0.0.0.0",
        "-p",
        "8080",
        "-w",
        "3",
        "--allowed-hosts",
        "a.example,b.example",
        "--allowed-hosts",
        "c.example",
        "--cors-allowed-origins",
        "https://x.example",
        "--auth",
        "--static-prefix",
        "mlflow",
        "--no-serve-artifacts",
        "--artifacts-destination",
        "s3://b/p",
    )
    assert (config.host, config.port, config.workers) == ("0.0.0.0", 8080, 3)
    assert config.allowed_hosts == ["a.example", "b.example", "c.example"]
    assert config.cors_allowed_origins == ["https://x.example"]
    assert config.app_name == "basic-auth"
    assert config.effective_artifact_root == "s3://b/p"
    assert config.normalized().static_prefix == "/mlflow"


def test_normalized_paths_are_absolute(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = ServerConfig(backend_store_uri="sqlite:///rel.db", artifacts_destination="./arts").normalized()
    assert config.backend_store_uri == f"sqlite:///{tmp_path.resolve() / 'rel.db'}"
    assert config.artifacts_destination == str(tmp_path.resolve() / "arts")
    assert (
        ServerConfig(artifacts_destination="s3://bucket/x").normalized().artifacts_destination
        == "s3://bucket/x"
    )


def test_exposure_warning_says_what_is_reachable() -> None:
    text = _exposure_warning("0.0.0.0", ServerConfig(artifacts_destination="/data/arts"))
    assert (
        "REST API" in text and "/data/arts" in text and "web UI" in text and "WITHOUT authentication" in text
    )
    assert "with authentication" in _exposure_warning("0.0.0.0", ServerConfig(app_name="basic-auth"))


def test_database_passwords_are_never_printed() -> None:
    assert _redact("postgresql+psycopg://user:s3cret@db:5432/x") == "postgresql+psycopg://user:***@db:5432/x"
    assert _redact("sqlite:///a.db") == "sqlite:///a.db"


def test_help_is_not_minus_h() -> None:
    assert isinstance(server_command, click.Command)
    names = {n for p in server_command.params for n in p.opts}
    assert "-h" in names and "--help" not in names  # -h is --host; --help comes from the context


def test_request_body_chunks_are_passed_on_without_copies() -> None:
    """The stand-in for uvicorn's body bytearray: appends without copying, one chunk handed on as it is."""
    from bakehouse.server.runner import _BodyChunks

    body = _BodyChunks()
    first = b"a" * 70_000
    body += first
    assert len(body) == 70_000 and bytes(body) is first
    body += b"tail"
    assert len(body) == 70_004 and bytes(body) == first + b"tail"


def test_startup_objects_are_frozen_out_of_the_collectors_way() -> None:
    import gc

    from bakehouse.server.runner import freeze_startup_objects

    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() > 10_000  # the imported modules, at least
    finally:
        gc.unfreeze()
