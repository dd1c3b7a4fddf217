"""``bakehouse webhooks``: create, list, test, update, deliveries, deliver and delete on an embedded store,
against a real receiver on 127.0.0.1."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bakehouse.cli.main import main

sys.path.insert(0, str(Path(__file__).parents[2] / "integration"))
from webhook_receiver import Receiver, start_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = start_receiver()
    yield running
    running.stop()


@pytest.fixture
def run(tmp_tracking_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    monkeypatch.setenv("BAKEHOUSE_WEBHOOK_ALLOWED_SCHEMES", "http,https")
    monkeypatch.setenv("BAKEHOUSE_WEBHOOK_ALLOW_PRIVATE_IPS", "true")
    monkeypatch.setenv("BAKEHOUSE_WEBHOOK_SECRET_KEY_FILE", str(tmp_path / "key"))
    runner = CliRunner()

    def invoke(*args: str, expect: int = 0) -> str:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == expect, result.output
        return result.output

    return invoke


def test_webhook_commands_end_to_end(run: Callable[..., str], receiver: Receiver) -> None:
    created = json.loads(
        run(
            "webhooks",
            "create",
            "--name",
            "ci",
            "--url",
            f"{receiver.url}/hook",
            "--secret",
            "s",
            "--event",
            "registered_model.created",
            "--event",
            "model_version_alias.created",
            "--json",
        )
    )
    hook_id = created["webhook_id"]
    assert created["status"] == "ACTIVE" and "secret" not in created
    assert hook_id in run("webhooks", "list")
    assert "HTTP 200: ok" in run("webhooks", "test", hook_id)
    assert receiver.wait_for(1)[0].path == "/hook"

    run("models", "register", "-m", str(Path(__file__).parent), "-n", "iris", "--alias", "champion")
    pending = json.loads(run("webhooks", "deliveries", "--status", "PENDING", "--json"))
    assert sorted(f"{d['event']['entity']}.{d['event']['action']}" for d in pending) == [
        "model_version_alias.created",
        "registered_model.created",
    ]
    assert "2 delivery attempt(s) made" in run("webhooks", "deliver")
    assert len(receiver.wait_for(3)) == 3
    log = json.loads(run("webhooks", "deliveries", "--webhook-id", hook_id, "--json"))
    assert {d["status"] for d in log} == {"SUCCEEDED"} and len(log) == 2

    updated = json.loads(run("webhooks", "update", hook_id, "--status", "disabled", "--json"))
    assert updated["status"] == "DISABLED"
    receiver.always_answer(500)
    assert "The webhook test failed: HTTP 500" in run("webhooks", "test", hook_id, expect=1)
    run("webhooks", "delete", hook_id)
    assert "No webhooks." in run("webhooks", "list")
    assert "not found" in run("webhooks", "get", hook_id, expect=1)


def test_bad_input_is_one_clear_line(run: Callable[..., str]) -> None:
    out = run(
        "webhooks",
        "create",
        "--name",
        "x",
        "--url",
        "ftp://1.1.1.1/",
        "--event",
        "model_version.created",
        expect=1,
    )
    assert "Invalid webhook URL scheme: 'ftp'" in out and "Traceback" not in out
    out = run(
        "webhooks", "create", "--name", "x", "--url", "https://1.1.1.1/", "--event", "run.created", expect=1
    )
    assert "Invalid webhook entity 'run'" in out
