"""A team deployment on real parts, as docs/deployment.md lays it out, exercised the way production treats it.

Started here: PostgreSQL (the test's own, so it can be stopped), the S3 server (moto), two `bakehouse server`
processes with two workers each and `--auth`, and Caddy from Debian configured by the shipped
deploy/Caddyfile (HTTPS from Caddy's local CA, which the client trusts through SSL_CERT_FILE). Through it:

1. a training loop written with Bakehouse's client survives `kill -9` of one server's parent process (its
   workers go with it, and the restart on the same port works) and `kill -9` of the other server's whole
   process group, with every acknowledged point stored exactly once;
2. wrong passwords from one client address get that client throttled, while other users, and the attacked
   user from her own address, keep signing in (the servers trust the proxy's X-Forwarded-For);
3. a browser session (signed in through Chromium) is accepted by every worker of both servers;
4. `/metrics` answers without credentials, parses as Prometheus text and carries no user data;
5. `/ready` fails while PostgreSQL is stopped (the API answers a JSON 503, `/health` stays up) and recovers.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from deployment_support import (
    SHIPPED_CADDYFILE,
    Caddy,
    Postgres,
    Server,
    free_port,
    http_status,
    require_tool,
    start_caddy,
    start_postgres,
    tail,
    wait_until,
)

pytestmark = [pytest.mark.s3, pytest.mark.slow, pytest.mark.timeout(600)]

ADMIN = ("admin", "deploy-admin-password")
ALICE = ("alice", "alice-password-1")
BOB = ("bob", "bob-password-1")
CAROL = ("carol", "carol-password-1")  # signs in for the first time while the database is down
TRAINER = Path(__file__).with_name("deployment_trainer.py")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


@dataclass
class Deployment:
    caddy: Caddy
    servers: list[Server]
    postgres: Postgres
    workdir: Path

    @property
    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.caddy.root_ca))

    def client(self, auth: tuple[str, str] | None = None, source: str | None = None) -> httpx.Client:
        """An HTTPS client of the proxy, optionally from another loopback address (another 'machine')."""
        transport = httpx.HTTPTransport(verify=self.tls, local_address=source) if source else None
        return httpx.Client(
            base_url=self.caddy.url, auth=auth, verify=self.tls, transport=transport, timeout=60
        )


@pytest.fixture
def deployment(tmp_path: Path, s3_bucket: str) -> Iterator[Deployment]:
    require_tool("caddy")
    postgres = start_postgres()
    servers: list[Server] = []
    caddy: Caddy | None = None
    try:
        env = {
            "BAKEHOUSE_BACKEND_STORE_URI": postgres.uri,  # as deployed: never on the command line
            "BAKEHOUSE_SECRET_KEY": secrets.token_hex(32),
            "BAKEHOUSE_ADMIN_PASSWORD": ADMIN[1],
        }
        args = [
            "--workers=2",
            "--auth",
            f"--artifacts-destination=s3://{s3_bucket}/artifacts",
            "--forwarded-allow-ips=127.0.0.1",  # Caddy runs on this machine
        ]
        servers = [Server(free_port(), args, env, tmp_path) for _ in range(2)]
        for server in servers:  # together, as replicas start: one creates the schema, the other waits
            server.launch()
        for server in servers:
            server.wait_healthy()
        caddy = start_caddy(
            tmp_path,
            SHIPPED_CADDYFILE,
            {
                "BAKEHOUSE_PUBLIC_HOST": "localhost",
                "BAKEHOUSE_UPSTREAMS": " ".join(f"127.0.0.1:{s.port}" for s in servers),
            },
        )
        yield Deployment(caddy, servers, postgres, tmp_path)
    finally:
        if caddy is not None:
            caddy.stop()
        for server in servers:
            server.stop()
        postgres.remove()


def test_a_team_deployment_survives_what_production_does_to_it(deployment: Deployment) -> None:
    with deployment.client(ADMIN) as admin:
        for user, password in (ALICE, BOB, CAROL):
            response = admin.post(
                "/api/2.0/mlflow/users/create", json={"username": user, "password": password}
            )
            assert response.status_code == 200, response.text
    _one_client_guessing_passwords_blocks_only_itself(deployment)
    _browser_session_works_on_every_worker(deployment)
    loop = _training_loop_through_restarts(deployment)
    _metrics_parse_and_hold_no_user_data(deployment, loop.run_id)
    _readiness_follows_the_database(deployment)
    for server in deployment.servers:
        assert "is not a trusted proxy" not in tail(server.log_path, 200_000)
    # the proxy answers 502/504 while a server restarts: the client retries log-batch (safe to repeat), so the
    # loop goes on through both restarts and ends FINISHED
    assert loop.failure is None, f"the training loop failed:\n{loop.failure}"


# ------------------------------------------------------------------------------------ 1. kill -9
class _Trainer:
    def __init__(self, deployment: Deployment) -> None:
        self.stop_file = deployment.workdir / "stop-training"
        env = {
            **os.environ,
            "BAKEHOUSE_TRACKING_URI": deployment.caddy.url,
            "BAKEHOUSE_TRACKING_USERNAME": ALICE[0],
            "BAKEHOUSE_TRACKING_PASSWORD": ALICE[1],
            "SSL_CERT_FILE": str(deployment.caddy.root_ca),
            "TRAINER_EXPERIMENT": "kill-9-survival",
            "TRAINER_STOP_FILE": str(self.stop_file),
        }
        self.proc = subprocess.Popen(
            [sys.executable, str(TRAINER)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self.acks: list[int] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("ack "):
                self.acks.append(int(line.split()[1]))

    def wait_for_acks(self, count: int, seconds: float = 90.0) -> None:
        target = len(self.acks) + count

        def enough() -> bool:
            if self.proc.poll() is not None:
                raise _TrainerDied(self.lines[-1] if self.lines else "(no output)")
            return len(self.acks) >= target

        deadline = time.monotonic() + seconds
        while not enough():
            if time.monotonic() > deadline:
                raise AssertionError(f"{count} more acknowledged batches not reached within {seconds:.0f} s")
            time.sleep(0.1)

    def finish(self) -> LoopOutcome:
        self.stop_file.touch()
        try:
            self.proc.wait(timeout=180)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        self.reader.join(timeout=10)
        run_line = next(line for line in self.lines if line.startswith("run "))
        finished = self.proc.returncode == 0 and any(line.startswith("done ") for line in self.lines)
        failure = None if finished else "\n".join(self.lines[-3:])
        return LoopOutcome(run_line.split()[1], len(self.acks), finished, failure)


class _TrainerDied(Exception):
    pass


@dataclass
class LoopOutcome:
    run_id: str
    acknowledged: int  # steps 0 .. acknowledged-1 were acknowledged by the server
    finished: bool
    failure: str | None  # the loop's last lines when it died


def _training_loop_through_restarts(deployment: Deployment) -> LoopOutcome:
    first, second = deployment.servers
    trainer = _Trainer(deployment)
    try:
        trainer.wait_for_acks(30)
        # kill -9 of the first server's parent: its workers must go with it, and a restart on the same port work
        workers = first.worker_pids()
        assert len(workers) == 2
        first.kill_parent()
        wait_until(
            lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), 40, "orphan workers gone"
        )
        first.launch()
        first.wait_healthy()
        trainer.wait_for_acks(30)
        # kill -9 of the whole second server, workers included, in the middle of the loop
        second.kill_all()
        time.sleep(1.0)
        second.launch()
        second.wait_healthy()
        trainer.wait_for_acks(30)
    except _TrainerDied:
        pass  # judged below and at the end of the test, after the other checks ran
    finally:
        outcome = trainer.finish()
    assert trainer.acks == list(range(outcome.acknowledged))
    _every_acknowledged_point_stored_once(deployment, outcome)
    return outcome


def _every_acknowledged_point_stored_once(deployment: Deployment, outcome: LoopOutcome) -> None:
    import psycopg  # test-only dependency

    run_id, acknowledged = outcome.run_id, outcome.acknowledged
    with psycopg.connect(
        deployment.postgres.uri.replace("postgresql+psycopg://", "postgresql://", 1)
    ) as conn:
        rows = conn.execute(
            "SELECT key, step, count(*) FROM metrics WHERE run_uuid = %s GROUP BY key, step", (run_id,)
        ).fetchall()
        status = conn.execute("SELECT status FROM runs WHERE run_uuid = %s", (run_id,)).fetchone()
    stored = {(key, step): count for key, step, count in rows}
    assert {count for count in stored.values()} <= {1}, "a point was stored twice"
    for key in ("loss", "accuracy"):
        steps = sorted(step for (k, step) in stored if k == key)
        # every acknowledged step; at most one more (a batch the server stored but could not acknowledge)
        assert steps[:acknowledged] == list(range(acknowledged)), f"{key}: acknowledged points lost"
        assert len(steps) - acknowledged in ((0,) if outcome.finished else (0, 1)), f"{key}: {steps[-3:]}"
    if not outcome.finished:
        return
    assert status == ("FINISHED",)
    with deployment.client(ADMIN) as admin:  # and the API agrees, through the proxy
        history = admin.get(
            "/api/2.0/mlflow/metrics/get-history",
            params={"run_id": run_id, "metric_key": "loss", "max_results": 25000},
        ).json()["metrics"]
    assert sorted(int(m["step"]) for m in history) == list(range(acknowledged))


# ------------------------------------------------------------------------------ 2. wrong passwords
def _login(deployment: Deployment, source: str, user: str, password: str) -> int:
    with deployment.client(source=source) as client:
        response = client.post("/bakehouse/auth/login", json={"username": user, "password": password})
    return response.status_code


def _one_client_guessing_passwords_blocks_only_itself(deployment: Deployment) -> None:
    attacker, alice_desk, bob_desk = "127.0.0.2", "127.0.0.3", "127.0.0.4"
    statuses: list[int] = []
    for attempt in range(60):
        statuses.append(_login(deployment, attacker, ALICE[0], f"guess-{attempt}"))
        if statuses.count(429) >= 6:
            break
    assert set(statuses) <= {401, 429}, statuses
    assert statuses[:5] == [401] * 5  # five wrong passwords are just wrong ...
    assert statuses.count(429) >= 6, statuses  # ... and then that client is slowed down
    # everyone else signs in on every worker, the attacked user included, from her own machine
    for _ in range(8):
        assert _login(deployment, alice_desk, *ALICE) == 200
        assert _login(deployment, bob_desk, *BOB) == 200
    with deployment.client(ALICE, source=alice_desk) as alice:
        assert alice.get("/api/2.0/mlflow/experiments/search", params={"max_results": 1}).status_code == 200


# ------------------------------------------------------------------------------ 3. browser session
def _browser_session_works_on_every_worker(deployment: Deployment) -> None:
    from playwright.sync_api import expect, sync_playwright

    chromium = require_tool("chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(ignore_https_errors=True)
            page = context.new_page()
            page.set_default_timeout(30_000)
            page.goto(deployment.caddy.url + "/")
            page.get_by_label("User name").fill(BOB[0])
            page.get_by_label("Password").fill(BOB[1])
            page.get_by_role("button", name="Sign in").click()
            expect(page.locator(".topbar .who")).to_contain_text(BOB[0], timeout=30_000)
            for _ in range(4):  # the proxy spreads these page loads over the servers
                page.reload()
                expect(page.locator(".topbar .who")).to_contain_text(BOB[0], timeout=30_000)
            cookie = next(c for c in context.cookies() if c["name"] == "bakehouse_session")
            assert cookie["secure"] is True  # the proxy said https, and the servers trust it
        finally:
            browser.close()
    headers = {"Cookie": f"bakehouse_session={cookie['value']}", "Host": "localhost"}
    for server in deployment.servers:
        workers = server.worker_pids()
        assert len(workers) == 2
        for serving in workers:
            # freeze the other worker: only `serving` can accept the next connection
            others = [pid for pid in workers if pid != serving]
            for pid in others:
                os.kill(pid, signal.SIGSTOP)
            try:
                status = http_status(
                    f"{server.url}/ajax-api/2.0/mlflow/experiments/search?max_results=5", headers
                )
            finally:
                for pid in others:
                    os.kill(pid, signal.SIGCONT)
            assert status == 200, f"worker {serving} of the server on {server.port} refused the session"


# ------------------------------------------------------------------------------------- 4. /metrics
def _metrics_parse_and_hold_no_user_data(deployment: Deployment, run_id: str) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    with deployment.client() as anonymous:  # probes and scrapers carry no credentials
        through_proxy = anonymous.get("/metrics")
    assert through_proxy.status_code == 200
    assert through_proxy.headers["content-type"].startswith("text/plain")
    texts = [through_proxy.text]
    for server in deployment.servers:
        direct = httpx.get(server.url + "/metrics", timeout=30)
        assert direct.status_code == 200
        texts.append(direct.text)
    for text in texts:
        families = {family.name: family for family in text_string_to_metric_families(text)}
        assert families["bakehouse_http_requests"].type == "counter"
        assert families["bakehouse_http_request_duration_seconds"].type == "histogram"
        assert {
            "bakehouse_db_pool_connections_in_use",
            "bakehouse_db_pool_connections_max",
        } <= families.keys()
        assert "bakehouse_logged_metric_points" in families
        capacity = families["bakehouse_db_pool_connections_max"].samples[0].value
        assert 0 < capacity <= 20  # both workers together stay inside BAKEHOUSE_SQL_MAX_CONNECTIONS
        for secret in (run_id, "kill-9-survival", ALICE[0], BOB[0], ADMIN[1]):
            assert secret not in text
    # batches logged since the servers' restarts are counted under the route's template, with their points
    logged = 0.0
    for text in texts[1:]:
        families = {family.name: family for family in text_string_to_metric_families(text)}
        batches = sum(
            s.value
            for s in families["bakehouse_http_requests"].samples
            if s.labels.get("route") == "/api/2.0/mlflow/runs/log-batch" and s.labels.get("status") == "200"
        )
        points = families["bakehouse_logged_metric_points"].samples[0].value
        assert points >= 2 * batches  # two metrics per batch
        logged += batches
    assert logged > 0


# ------------------------------------------------------------------------------------ 5. readiness
def _readiness_follows_the_database(deployment: Deployment) -> None:
    for server in deployment.servers:
        assert http_status(server.url + "/ready") == 200
    deployment.postgres.stop()
    try:
        for server in deployment.servers:
            response = httpx.get(server.url + "/ready", timeout=30)
            assert response.status_code == 503
            checks = response.json()["checks"]
            assert checks["database"].startswith("unavailable") and checks["artifacts"] == "ok", checks
            assert http_status(server.url + "/health") == 200  # alive: no reason to restart it
        with deployment.client(ADMIN) as admin:
            response = admin.get("/api/2.0/mlflow/experiments/search", params={"max_results": 1})
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
        with deployment.client(CAROL) as carol:  # credentials no worker has seen: the auth layer needs the DB
            response = carol.get("/api/2.0/mlflow/experiments/search", params={"max_results": 1})
        assert (
            response.status_code == 503
            and json.loads(response.text)["error_code"] == "TEMPORARILY_UNAVAILABLE"
        )
    finally:
        deployment.postgres.start()
    for server in deployment.servers:
        wait_until(lambda server=server: http_status(server.url + "/ready") == 200, 60, "ready again")
    with deployment.client(ADMIN) as admin:
        assert admin.get("/api/2.0/mlflow/experiments/search", params={"max_results": 1}).status_code == 200
