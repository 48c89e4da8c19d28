"""Probes that do not wait behind orders: the broker stalled (SIGSTOP) for 40 s while 16 clients
keep placing orders on an API of 2 workers x 8 threads, and ``/healthz`` polled with a 2 s
timeout, as the kubelet does. The probe port answers every poll; the API's own port, where
the orders hold the threads, is polled alongside to show the load really held them."""

from __future__ import annotations

import json
import signal
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator

import pytest
from stockpulse_toolbox.devstack.kafka import KafkaBroker
from stockpulse_toolbox.devstack.local_stack import LocalStack

from tests.support.stacks import api_settings, start_broker

STALL_S = 40.0
CLIENTS = 16


@pytest.fixture
def stalled_api(tmp_path) -> Iterator[tuple[LocalStack, KafkaBroker]]:
    broker = start_broker(tmp_path / "kafka")
    try:
        # each order in flight holds its thread until Kafka's ack or this timeout: 16 of them fill every thread
        held = {"workers": 2, "threads": 8, "order_ack_timeout_ms": 20_000}
        settings = api_settings(tmp_path / "api", broker.bootstrap, api=held)
        with LocalStack(settings, "api") as stack:
            yield stack, broker
    finally:
        broker.process.signal(signal.SIGCONT)
        broker.stop()


def probe(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2.0) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def test_liveness_on_the_probe_port_answers_while_orders_hold_every_thread(stalled_api) -> None:
    stack, broker = stalled_api
    api = stack.settings.api
    probe_url = f"http://{api.probe_bind}/healthz"
    assert probe(probe_url)
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    stop = threading.Event()

    def customer() -> None:
        body = json.dumps({"side": "buy", "quantity": 1}).encode()
        while not stop.is_set():
            request = urllib.request.Request(
                f"{api.url}/stocks/AMD/orders", body, {"Content-Type": "application/json"}, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except (urllib.error.URLError, OSError):
                status = 0
            with lock:
                statuses[status] += 1

    broker.process.signal(signal.SIGSTOP)
    clients = [threading.Thread(target=customer, daemon=True) for _ in range(CLIENTS)]
    for client in clients:
        client.start()
    polls = {"probe port": Counter(), "api port": Counter()}
    deadline = time.monotonic() + STALL_S
    while time.monotonic() < deadline:
        polls["probe port"][probe(probe_url)] += 1
        polls["api port"][probe(f"{api.url}/healthz")] += 1
        time.sleep(0.5)
    broker.process.signal(signal.SIGCONT)
    stop.set()
    for client in clients:
        client.join(timeout=40)
    print(f"polls {dict(polls)}; order answers {dict(statuses)}")
    assert polls["probe port"][False] == 0 and polls["probe port"][True] >= 20
    # the fault happened: orders were held (504: sent, not confirmed), and so were the API's threads
    assert statuses[504] >= 4
    assert polls["api port"][False] >= 3
