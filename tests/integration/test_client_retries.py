"""The client against a real ``bakehouse server`` when things go wrong between them.

- Behind a reverse proxy that loses answers (the server processed the request, the client got 502/504),
  log_batch is sent again and every param, tag and metric point is stored once.
- The CLI reports a refused connection within 3 s of what the same command needs on a local store.
"""

from __future__ import annotations

import http.server as http_server
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_process import BAKEHOUSE, Server, free_port, start_server

from bakehouse.client.client import Client
from bakehouse.entities import Metric, Param, RunTag

pytestmark = pytest.mark.timeout(120)


class LossyProxy:
    """A reverse proxy on 127.0.0.1 that forwards everything to ``upstream`` and, for the first
    ``lose`` requests to a path, throws the upstream's answer away and answers ``status`` instead."""

    def __init__(self, upstream: str, lose: dict[str, int], status: int = 502) -> None:
        self.lose = dict(lose)
        self.forwarded: list[str] = []
        proxy = self
        http = httpx.Client(base_url=upstream, timeout=30)
        self._http = http

        class Handler(http_server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                answer = http.request(self.command, self.path, content=body, headers=headers)
                path = self.path.split("?", 1)[0]
                proxy.forwarded.append(path)
                code, content = answer.status_code, answer.content
                kind = answer.headers.get("content-type", "text/plain")
                if proxy.lose.get(path, 0) > 0:
                    proxy.lose[path] -= 1
                    code, content, kind = status, b"<html>upstream went away</html>", "text/html"
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _forward

        self.httpd = http_server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)
        self._http.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("retry-server"))
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.parametrize("status", [502, 504])
def test_log_batch_behind_a_proxy_that_loses_answers_stores_everything_once(
    server: Server, status: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BAKEHOUSE_HTTP_REQUEST_BACKOFF_FACTOR", "0.05")
    direct = Client(tracking_uri=server.url)
    experiment_id = direct.create_experiment(f"lossy-{status}-{time.time_ns()}")
    run_id = direct.create_run(experiment_id).info.run_id
    batch_path = "/api/2.0/mlflow/runs/log-batch"
    proxy = LossyProxy(server.url, {batch_path: 2}, status)
    proxy.start()
    try:
        through_proxy = Client(tracking_uri=proxy.url)
        metrics = [Metric("loss", 1.0 / (step + 1), 1_000 + step, step) for step in range(50)]
        through_proxy.log_batch(
            run_id,
            metrics=metrics,
            params=[Param("lr", "0.1"), Param("layers", "3")],
            tags=[RunTag("team", "bakers")],
        )
    finally:
        proxy.stop()
    assert proxy.lose[batch_path] == 0  # two answers were lost after the server had processed the batch
    run = direct.get_run(run_id)
    assert run.data.params == {"lr": "0.1", "layers": "3"}
    assert run.data.tags["team"] == "bakers"
    history = direct.get_metric_history(run_id, "loss")
    assert [(m.step, m.timestamp, m.value) for m in history] == [
        (m.step, m.timestamp, m.value) for m in metrics
    ]


def test_create_run_is_not_repeated_behind_a_proxy_that_loses_its_answer(server: Server) -> None:
    direct = Client(tracking_uri=server.url)
    experiment_id = direct.create_experiment(f"lossy-create-{time.time_ns()}")
    proxy = LossyProxy(server.url, {"/api/2.0/mlflow/runs/create": 1})
    proxy.start()
    try:
        with pytest.raises(Exception, match="HTTP 502"):
            Client(tracking_uri=proxy.url).create_run(experiment_id)
    finally:
        proxy.stop()
    assert len(direct.search_runs([experiment_id])) == 1  # processed once, never sent again


def _timed_cli(
    args: list[str], cwd: Path, env: dict[str, str]
) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    result = subprocess.run(
        [BAKEHOUSE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    return time.monotonic() - started, result


def test_the_cli_reports_a_refused_connection_within_3_s(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("BAKEHOUSE_HTTP", "MLFLOW_HTTP"))
    }  # the user's defaults
    url = f"http://127.0.0.1:{free_port()}"
    # the same command on a local store: what the CLI needs to start and answer at all on this machine
    local, result = _timed_cli(["runs", "list"], tmp_path, env)
    assert result.returncode == 0, result.stderr
    refused, result = _timed_cli(["runs", "list"], tmp_path, {**env, "BAKEHOUSE_TRACKING_URI": url})
    assert result.returncode == 1
    assert refused - local < 3.0, f"refused after {refused:.1f} s (local store: {local:.1f} s)"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert f"Could not reach the tracking server at {url} (connection refused)" in lines[0]


def test_the_cli_says_once_that_it_is_retrying_after_2_s(tmp_path: Path) -> None:
    """A server answering 503 for a few seconds (a restart behind a proxy): the CLI waits, says so once after
    2 s, and succeeds when the server answers."""
    from scripted_http import ScriptedServer

    scripted = ScriptedServer()
    scripted.start()
    try:
        for _ in range(3):  # back-off 0.5, 1, 2 s: the third wait crosses the 2 s mark
            scripted.script.reply(503, b"<html>restarting</html>")
        scripted.script.reply(200, {"runs": []})
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BAKEHOUSE_", "MLFLOW_"))}
        started = time.monotonic()
        result = subprocess.run(
            [BAKEHOUSE, "runs", "list", "--tracking-uri", scripted.url],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        elapsed = time.monotonic() - started
    finally:
        scripted.stop()
    assert result.returncode == 0, result.stderr
    assert "No runs in experiment(s) 0." in result.stdout
    warnings = [line for line in result.stderr.splitlines() if "retrying" in line]
    assert len(warnings) == 1, result.stderr
    assert "answered HTTP 503" in warnings[0] and "POST /api/2.0/mlflow/runs/search" in warnings[0]
    assert elapsed >= 2.0
