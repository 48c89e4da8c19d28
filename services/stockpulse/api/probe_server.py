"""The probes on a port of their own, answered by a thread of each worker that no order can hold.

Every request thread of a worker may be waiting for Kafka (an order waits for its ack up to
``STOCKPULSE_ORDER_ACK_TIMEOUT_MS``); a liveness probe queued behind them would time out and the
kubelet would restart a pod that is only waiting. So each worker also listens on
``STOCKPULSE_API_PROBE_BIND`` (``SO_REUSEPORT``: the kernel spreads probes over the workers
alive) and answers ``/healthz`` and ``/readyz`` there from its own thread, with the same bodies
as the routes of ``routes.health``. ``/metrics`` is served here too (every worker's samples, as
the multiprocess collector sums them), not on the port customers reach.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from .metrics import exposition

log = logging.getLogger(__name__)


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True
    allow_reuse_port = True  # one socket per worker on the same port
    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: Any) -> None:
        self.app = app
        super().__init__(address, _Probe)


class _Probe(BaseHTTPRequestHandler):
    server: _Server
    timeout = 5  # a client that sends nothing does not keep a thread

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self._answer(200, {"status": "ok"})
        elif self.path == "/readyz":
            reachable = self.server.app.extensions["stockpulse.publisher"].kafka_reachable()
            self._answer(200, {"status": "ready", "kafka": "reachable" if reachable else "unreachable"})
        elif self.path == "/metrics":
            self._send(200, exposition(self.server.app), CONTENT_TYPE_LATEST)
        else:
            message = "this port serves /healthz, /readyz and /metrics"
            self._answer(404, {"error": {"code": "not_found", "message": message}})

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        self._send(status, json.dumps(body).encode(), "application/json")

    def _send(self, status: int, raw: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # probes every few seconds would drown the log


class ProbeServer:
    """The probe port of one worker; ``start`` returns once it listens."""

    def __init__(self, bind: str, app: Any) -> None:
        host, port = bind.rsplit(":", 1)
        self._server = _Server((host, int(port)), app)
        self._thread = threading.Thread(target=self._server.serve_forever, name="probes", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
