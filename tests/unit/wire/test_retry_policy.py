"""The client's retry policy (``bakehouse.wire.retry``) over real sockets: a scripted HTTP server on
127.0.0.1, a port nobody listens on, and a server that comes back on the same port.

Timings are measured bounds (``time.monotonic`` around the call), never sleeps standing in for a result.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest
from scripted_http import Script, ScriptedServer, http_settings

from bakehouse.entities import Metric
from bakehouse.errors import BakehouseError, DeadlineExceededError, TemporarilyUnavailableError
from bakehouse.store.tracking.rest import RestTrackingStore
from bakehouse.wire import transfer
from bakehouse.wire.retry import SERVERS, server_key
from bakehouse.wire.transport import HttpTransport

pytestmark = pytest.mark.timeout(60)

RETRY_LOGGER = "bakehouse.wire.retry"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed when the block ends: nothing listens there


def _store(url: str, **overrides: object) -> RestTrackingStore:
    return RestTrackingStore(HttpTransport(url, http_settings(**{"max_retries": 7, **overrides})))


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == RETRY_LOGGER and r.levelno >= logging.WARNING]


# ------------------------------------------------------------------------------------ refused connections
def test_a_refused_connection_is_reported_within_3_s_with_the_default_policy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTP_REQUEST_MAX_RETRIES", "HTTP_REQUEST_BACKOFF_FACTOR", "HTTP_RETRY_TIMEOUT"):
        monkeypatch.delenv(f"BAKEHOUSE_{name}", raising=False)
        monkeypatch.delenv(f"MLFLOW_{name}", raising=False)
    url = f"http://127.0.0.1:{_closed_port()}"
    store = RestTrackingStore.from_uri(url)  # the settings a user gets: from the (clean) environment
    started = time.monotonic()
    with pytest.raises(TemporarilyUnavailableError) as info:
        store.search_experiments()
    elapsed = time.monotonic() - started
    assert elapsed < 3.0, f"a refused connection took {elapsed:.2f} s to report"
    assert f"Could not reach the tracking server at {url} (connection refused)" in info.value.message
    assert "Is it running" in info.value.message


def test_the_fluent_start_run_fails_fast_on_a_refused_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    import bakehouse

    url = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("BAKEHOUSE_TRACKING_URI", url)
    started = time.monotonic()
    with pytest.raises(TemporarilyUnavailableError, match="connection refused"):
        bakehouse.start_run()
    assert time.monotonic() - started < 3.0


def test_a_server_that_restarts_gets_the_full_window(caplog: pytest.LogCaptureFixture) -> None:
    """Once a server has answered, a refused connection means a restart: retried past the 1 s fast-fail,
    announced once, and the call succeeds when the server is back on its port."""
    first = ScriptedServer()
    first.start()
    port = int(first.url.rsplit(":", 1)[1])
    store = _store(first.url, backoff_factor=0.2)
    try:
        store.search_experiments()  # reached once
    finally:
        first.stop()
    back = ScriptedServer(port)

    def come_back() -> None:
        time.sleep(3.0)  # the outage the client must ride out (longer than the first-contact window)
        back.start()

    restarter = threading.Thread(target=come_back)
    restarter.start()
    caplog.set_level(logging.WARNING, logger=RETRY_LOGGER)
    try:
        started = time.monotonic()
        store.search_experiments()
        elapsed = time.monotonic() - started
        restarter.join()
        assert elapsed >= 3.0
        assert [r.method for r in back.script.requests] == ["POST"]
        (warning,) = _warnings(caplog)
        assert "connection refused" in warning.getMessage() and "retrying" in warning.getMessage()
    finally:
        restarter.join()
        back.stop()


# ------------------------------------------------------------------------------- which calls, which answers
@pytest.mark.parametrize("status", [502, 503, 504, 429])
def test_log_batch_is_retried_on_proxy_and_busy_answers(
    status: int, scripted_server: ScriptedServer, script: Script
) -> None:
    script.reply(status, b"<html>upstream restarting</html>")
    script.reply(status, b"<html>upstream restarting</html>")
    _store(scripted_server.url).log_batch("r1", metrics=[Metric("loss", 0.5, 1, 0)])
    paths = [r.raw_path for r in script.requests]
    assert paths == ["/api/2.0/mlflow/runs/log-batch"] * 3
    assert script.requests[0].body == script.requests[2].body  # the same batch, sent again whole


def test_a_call_that_is_not_safe_to_repeat_is_not_resent_after_a_502(
    scripted_server: ScriptedServer, script: Script
) -> None:
    script.reply(502, b"bad gateway")
    with pytest.raises(TemporarilyUnavailableError, match="HTTP 502"):
        _store(scripted_server.url).create_run("0", user_id="u", start_time=1)
    assert [r.raw_path for r in script.requests] == ["/api/2.0/mlflow/runs/create"]


def test_trace_searches_and_tag_sets_are_retried_after_a_502_and_trace_starts_are_not(
    scripted_server: ScriptedServer, script: Script
) -> None:
    store = _store(scripted_server.url)
    script.reply(502, b"bad gateway")
    assert store.search_traces(["0"]) == ([], None)
    script.reply(504, b"gateway timeout")
    store.set_trace_tag("tr-1", "k", "v")
    paths = [r.raw_path for r in script.requests]
    assert paths == ["/api/3.0/mlflow/traces/search"] * 2 + ["/api/2.0/mlflow/traces/tr-1/tags"] * 2
    script.reset()
    script.reply(502, b"bad gateway")
    with pytest.raises(TemporarilyUnavailableError, match="HTTP 502"):
        store.delete_traces("0", max_timestamp_millis=1)
    assert [r.raw_path for r in script.requests] == ["/api/2.0/mlflow/traces/delete-traces"]


def test_migrate_retries_the_transfer_reads_and_not_the_write() -> None:
    safe = {e.name: e.safe_to_repeat for e in transfer.ENDPOINTS}
    assert safe == {"TransferState": True, "TransferWrite": False, "TransferMetricPoints": True}


@pytest.mark.parametrize("status", [503, 429])
def test_answers_that_mean_not_processed_are_retried_for_any_call(
    status: int, scripted_server: ScriptedServer, script: Script
) -> None:
    script.reply(status, {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"})
    script.reply(200, {"run": {"info": {"run_id": "abc", "experiment_id": "0"}, "data": {}}})
    run = _store(scripted_server.url).create_run("0", user_id="u", start_time=1)
    assert run.info.run_id == "abc"
    assert len(script.requests) == 2


def test_a_read_timeout_is_retried_only_when_the_call_is_safe_to_repeat(
    scripted_server: ScriptedServer, script: Script
) -> None:
    script.reply(200, {}, delay=1.0)  # the first answer comes too late
    script.reply(200, {"experiments": []})
    assert list(_store(scripted_server.url, timeout=0.3).search_experiments()) == []
    assert len(script.requests) == 2
    script.reset()
    script.reply(200, {}, delay=1.0)
    with pytest.raises(DeadlineExceededError, match="timed out after 0.3 s"):
        _store(scripted_server.url, timeout=0.3).create_experiment("e")
    assert len(script.requests) == 1


def test_retry_after_is_honoured(scripted_server: ScriptedServer, script: Script) -> None:
    script.reply(429, b"", headers={"Retry-After": "1"})
    started = time.monotonic()
    _store(scripted_server.url).search_experiments()
    assert time.monotonic() - started >= 1.0
    assert len(script.requests) == 2


def test_a_500_is_an_answer_not_retried(scripted_server: ScriptedServer, script: Script) -> None:
    script.reply(500, {"error_code": "INTERNAL_ERROR", "message": "boom"})
    with pytest.raises(BakehouseError, match="boom"):
        _store(scripted_server.url).search_experiments()
    assert len(script.requests) == 1


# --------------------------------------------------------------------------------- bounds and what is said
def test_retrying_stops_after_the_window_and_says_how_long_it_tried(
    scripted_server: ScriptedServer, script: Script
) -> None:
    for _ in range(50):
        script.reply(503, {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "still restarting"})
    started = time.monotonic()
    with pytest.raises(TemporarilyUnavailableError, match=r"still restarting \(gave up after \d+ attempts"):
        _store(
            scripted_server.url, backoff_factor=0.1, retry_timeout=1.5, max_retries=50
        ).search_experiments()
    elapsed = time.monotonic() - started
    assert 0.5 <= elapsed <= 2.5


def test_max_retries_zero_sends_once(scripted_server: ScriptedServer, script: Script) -> None:
    script.reply(503, {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"})
    with pytest.raises(TemporarilyUnavailableError, match="busy"):
        _store(scripted_server.url, max_retries=0).search_experiments()
    assert len(script.requests) == 1


def test_a_short_blip_is_silent(
    scripted_server: ScriptedServer, script: Script, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=RETRY_LOGGER)
    script.reply(503, b"")
    _store(scripted_server.url).search_experiments()
    assert _warnings(caplog) == []


def test_after_2_s_of_waiting_one_warning_says_it_is_retrying(
    scripted_server: ScriptedServer, script: Script, caplog: pytest.LogCaptureFixture
) -> None:
    """Back-off 0.5, 1, 2 s: the third wait crosses the 2 s mark; the warning comes at that mark, once."""
    for _ in range(3):
        script.reply(503, b"restarting")
    caplog.set_level(logging.WARNING, logger=RETRY_LOGGER)
    started = time.time()
    _store(scripted_server.url, backoff_factor=0.5).log_batch("r", metrics=[Metric("m", 1.0, 1, 0)])
    (warning,) = _warnings(caplog)
    said_at = warning.created - started
    assert 1.9 <= said_at <= 3.0, f"the retry warning came after {said_at:.2f} s of waiting"
    message = warning.getMessage()
    assert "HTTP 503" in message and "POST /api/2.0/mlflow/runs/log-batch" in message
    assert "retrying" in message and "s more" in message
    assert len(script.requests) == 4


def test_one_warning_per_outage_for_concurrent_calls(
    scripted_server: ScriptedServer, script: Script, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(8):
        script.reply(503, b"restarting")
    caplog.set_level(logging.WARNING, logger=RETRY_LOGGER)
    store = _store(scripted_server.url, backoff_factor=0.6)
    threads = [threading.Thread(target=store.search_experiments) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(_warnings(caplog)) == 1


def test_server_key_ignores_credentials_and_paths() -> None:
    assert server_key("https://ann:pw@host:8443/prefix/api?x=1") == "https://host:8443"
    assert not SERVERS.reached("http://never.invalid:1")
