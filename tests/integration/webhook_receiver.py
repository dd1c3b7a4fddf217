"""A real HTTP endpoint on 127.0.0.1 that records every webhook POST (headers, body) it receives.

``fail_first(n)`` makes it answer 503 to the first ``n`` attempts of each delivery (keyed by the
``X-MLflow-Delivery-Id`` header), so retries can be observed.
"""

from __future__ import annotations

import http.server
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str
    status: int  # what the receiver answered


@dataclass
class Receiver:
    server: http.server.ThreadingHTTPServer
    requests: list[Received] = field(default_factory=list)
    failures_per_delivery: int = 0
    fixed_status: int | None = None  # answer every request with this status instead
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def fail_first(self, attempts: int) -> None:
        self.failures_per_delivery = attempts

    def always_answer(self, status: int) -> None:
        self.fixed_status = status

    def accepted(self) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.status == 200]

    def wait_for(self, count: int, timeout: float = 60.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.accepted()
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"expected {count} accepted webhook requests, got {len(self.accepted())}")

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_receiver() -> Receiver:
    holder: dict[str, Any] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver: Receiver = holder["receiver"]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8")
            delivery = self.headers.get("X-MLflow-Delivery-Id", "")
            with receiver.lock:
                earlier = sum(
                    1 for r in receiver.requests if r.headers.get("X-MLflow-Delivery-Id") == delivery
                )
                status = 503 if earlier < receiver.failures_per_delivery else 200
                if receiver.fixed_status is not None:
                    status = receiver.fixed_status
                receiver.requests.append(Received(self.path, dict(self.headers.items()), body, status))
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status == 200 else b"try again")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(server)
    holder["receiver"] = receiver
    threading.Thread(target=server.serve_forever, args=(0.05,), name="webhook-receiver", daemon=True).start()
    return receiver
