"""The toolbox's load driver against a tiny in-process HTTP server on loopback: every answer is
counted once, every 2xx keeps its event id, every 201 its order id, and a refusal is a failure."""

from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from stockpulse_toolbox.customers import CHECK, ORDER, Customers

REFUSED = "REFU"  # orders of this ticker are answered 503, as when Kafka is down


class Api(BaseHTTPRequestHandler):
    ids = itertools.count()

    def log_message(self, *args) -> None:
        pass

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        if status < 300:
            self.send_header("X-Event-Id", f"e{next(self.ids)}")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._answer(200, {"ticker": self.path.rsplit("/", 1)[-1]})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if REFUSED in self.path:
            self._answer(503, {"error": {"code": "kafka_unavailable"}})
        else:
            self._answer(201, {"order_id": f"o{next(self.ids)}"})


@pytest.fixture
def api_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_sessions_count_every_answer_once_and_keep_every_acknowledged_id(api_url) -> None:
    customers = Customers(api_url, ("AAA", "BBB", REFUSED), "t", seed=3)
    answers = customers.sessions(20, concurrency=4)
    assert answers.requests == sum(answers.by_status.values()) > 40
    assert answers.acknowledged[CHECK] == answers.by_status["check 200"] == len(answers.event_ids[CHECK])
    assert answers.acknowledged[ORDER] == answers.by_status["order 201"] == len(answers.event_ids[ORDER])
    assert (
        len(set(answers.event_ids[CHECK] + answers.event_ids[ORDER])) == answers.requests - answers.failed["POST 503"]
    )
    assert answers.failed["POST 503"] == answers.by_status["order 503"] > 0
    assert len(answers.orders) == answers.acknowledged[ORDER]


def test_a_burst_returns_the_ids_of_its_own_orders(api_url) -> None:
    customers = Customers(api_url, ("AAA",), "t")
    customers.check("AAA", {})
    ids = customers.burst("AAA", orders=12)
    assert len(ids) == len(set(ids)) == 12
    assert set(ids) <= set(customers.answers.event_ids[ORDER]) and not set(ids) & set(
        customers.answers.event_ids[CHECK]
    )


def test_a_steady_run_paces_its_requests_and_stops(api_url) -> None:
    run = Customers(api_url, ("AAA", "BBB"), "t").steady(rate=40.0, check_share=0.5)
    started = time.time()
    run.start()
    time.sleep(1.0)
    run.stop()
    assert not run.is_alive()
    sent = run.answers.requests
    assert 20 <= sent <= 45, sent
    assert run.answers.orders_between(started, time.time()) == run.answers.orders
