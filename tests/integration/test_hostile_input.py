"""Hostile input against the API under gunicorn, with a real broker: never a 5xx, never an answer
the OpenAPI document does not describe, and the server stays healthy throughout.

Two sources of abuse: schemathesis generates well over 1,000 cases from ``/openapi.json``
(valid and invalid ones: wrong types, out-of-range and huge numbers, odd unicode, missing
and extra fields); a hand-written list adds what a generator does not try (path tricks,
1 MB bodies, bad JSON, oversized request lines, headers and keys), sent over raw sockets
so that nothing on the client side cleans them up.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.http import call, metrics_url

pytestmark = pytest.mark.integration

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
ROOT = Path(__file__).resolve().parents[2]
MIN_CASES = 1000


def operations(spec: dict[str, Any]) -> list[tuple[re.Pattern[str], str, set[int]]]:
    """(path regex, method, documented statuses) of every operation, most specific path first."""
    found = []
    for template, ops in spec["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "$")
        for method, operation in ops.items():
            found.append((pattern, method.upper(), {int(code) for code in operation["responses"]}, template))
    # what Flask does: a path with more literal characters wins over a template
    found.sort(key=lambda op: -len(re.sub(r"\{[^}]+\}", "", op[3])))
    return [(pattern, method, codes) for pattern, method, codes, _ in found]


def documented(spec_ops, method: str, path: str) -> set[int] | None:
    """The statuses documented for the operation that serves ``method path``; None if no operation does."""
    path = path.split("?", 1)[0]
    for pattern, op_method, codes in spec_ops:
        if op_method == method and pattern.match(path):
            return codes
    return None


def worker_boots(log_file: Path) -> int:
    return log_file.read_text(errors="replace").count("Booting worker")


@pytest.fixture(scope="module", autouse=True)
def insights_published(api, kafka):
    """One snapshot per ticker on ``stock_insights``, so the insights routes answer 200 and the
    generator exercises them, not only their documented 503 before the first snapshot."""
    from stockpulse.events import STOCK_INSIGHTS
    from stockpulse_toolbox.devstack.produce import produce_records

    from tests.support import contract_vectors, wait_for

    template = contract_vectors(STOCK_INSIGHTS)["valid"][0]
    snapshots = [(STOCK_INSIGHTS, t, {**template, "stock_name": t}) for t in api.settings.tickers]
    produce_records(kafka.bootstrap, snapshots, flush_timeout=30)
    url = api.settings.api.url
    # every worker: each answers 200 only once it has read the topic to its end
    assert wait_for(
        lambda: all(call(url, "GET", "/insights?limit=100").status == 200 for _ in range(10)), timeout=60
    ), call(url, "GET", "/insights?limit=100").body


def test_schemathesis_finds_no_server_error_and_nothing_outside_the_spec(api, tmp_path):
    url = api.settings.api.url
    spec = call(url, "GET", "/openapi.json").body
    boots = worker_boots(api.process.log_file)
    har = tmp_path / "cases.har"
    result = subprocess.run(
        [
            SCHEMATHESIS,
            "run",
            f"{url}/openapi.json",
            "--checks",
            "all",
            "--exclude-checks",
            "ignored_auth,object_level_authorization",
            "--mode",
            "all",
            "--max-examples",
            "250",
            "--seed",
            "2026",
            # one worker: hypothesis parses lambdas with ast, which CPython 3.11.7 cannot do from two threads at once
            "--workers",
            "1",
            "--request-timeout",
            "30",
            "--suppress-health-check",
            "all",
            "--report",
            "har",
            "--report-har-path",
            str(har),
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.support.schemathesis_hooks", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stdout[-6000:]
    entries = json.loads(har.read_text())["log"]["entries"]
    assert len(entries) >= MIN_CASES, f"only {len(entries)} cases"
    spec_ops = operations(spec)
    outside = []
    for entry in entries:
        method, path = entry["request"]["method"], "/" + entry["request"]["url"].split("/", 3)[3]
        status = entry["response"]["status"]
        codes = documented(spec_ops, method, path)
        assert status < 500, (method, path, status)
        if codes is not None and status not in codes and status != 405:
            outside.append((method, path[:80], status))
    assert outside == []
    assert call(url, "GET", "/healthz").status == 200
    assert worker_boots(api.process.log_file) == boots, "a worker died and was replaced"


def raw(host: str, port: int, request: bytes, timeout: float = 30.0) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as is; return the status, headers and body of the answer."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep:
                headers = dict(line.split(": ", 1) for line in head.decode("latin-1").split("\r\n")[1:] if ": " in line)
                length = int(headers.get("Content-Length", headers.get("content-length", "-1")))
                if 0 <= length <= len(body):
                    break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:] if ": " in line)}
    return int(lines[0].split()[1]), headers, body


def http(method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body


JSON = {"Content-Type": "application/json"}
NASTY = [
    # path tricks
    http("GET", "/../../etc/passwd"),
    http("GET", "/stocks/..%2f..%2fetc%2fpasswd"),
    http("GET", "/stocks/GOOG%00"),
    http("GET", "//stocks//GOOG"),
    http("GET", "/stocks/GOOG/../../openapi.json"),
    http("GET", "/%2e%2e/%2e%2e/"),
    http("POST", "/GOOG/buy/1/../../../healthz"),
    http("GET", "/stocks/" + "A" * 3000),
    http("GET", "/" + "x" * 10_000),  # request line over gunicorn's limit
    http("GET", "/stocks/%F0%9F%92%A9"),
    http("GET", "/stocks/GOOG?" + "a=1&" * 500),
    # huge, negative, fractional numbers
    http("POST", "/GOOG/buy/" + "9" * 400),
    http("POST", "/GOOG/buy/-1"),
    http("POST", "/GOOG/buy/1.5"),
    http("POST", "/GOOG/buy/1e3"),
    http("POST", "/GOOG/buy/0x10"),
    http("POST", "/GOOG/buy/%EF%BC%91"),  # a fullwidth digit one
    http("POST", "/stocks/GOOG/orders", b'{"side":"buy","quantity":1e400}', JSON),
    http("POST", "/stocks/GOOG/orders", b'{"side":"buy","quantity":-0}', JSON),
    http("POST", "/stocks/GOOG/orders", b'{"side":"buy","quantity":2.0}', JSON),
    http("POST", "/stocks/GOOG/orders", b'{"side":"buy","quantity":' + b"9" * 5000 + b"}", JSON),
    http("POST", "/stocks/GOOG/orders", b'{"side":"buy","quantity":NaN}', JSON),
    http("POST", "/stocks/GOOG/orders", b'{"side":"buy","quantity":Infinity}', JSON),
    # unicode and control characters
    http("POST", "/stocks/GOOG/orders", '{"side":"b\u0000uy","quantity":1}'.encode(), JSON),
    http("POST", "/stocks/GOOG/orders", '{"side":"\u202ebuy","quantity":1}'.encode(), JSON),
    http("POST", "/stocks/GOOG/orders", b'{"side":"buy","quantity":1,"\xff":1}', JSON),
    http("POST", "/stocks/GOOG/orders", b'\xef\xbb\xbf{"side":"buy","quantity":1}', JSON),
    http("GET", "/stocks/GOOG", headers={"X-User-Id": "\x01\x02\x7f"}),
    http("GET", "/stocks/GOOG", headers={"X-User-Id": "caf\u00e9"}),
    http("POST", "/GOOG/buy/1", headers={"Idempotency-Key": "k\u00e9y"}),
    http("POST", "/GOOG/buy/1", headers={"Idempotency-Key": "key\x00nul"}),
    # bodies: 1 MB, bad JSON, deep nesting, wrong types
    http("POST", "/stocks/GOOG/orders", b"x" * 1_000_000, JSON),
    http("POST", "/stocks/GOOG/orders", b'{"side":"buy","quantity":1' + b" " * 1_000_000 + b"}", JSON),
    http("POST", "/GOOG/buy/1", b"\x00" * 1_000_000, {"Content-Type": "application/octet-stream"}),
    http("POST", "/stocks/GOOG/orders", b"{", JSON),
    http("POST", "/stocks/GOOG/orders", b'{"side": "buy", "quantity": 1,}', JSON),
    http("POST", "/stocks/GOOG/orders", b"[" * 3000 + b"]" * 3000, JSON),
    http("POST", "/stocks/GOOG/orders", b"[" * 2000 + b"]" * 2000, JSON),  # within the body limit
    http("POST", "/stocks/GOOG/orders", b"[" * 4000, JSON),
    http("POST", "/stocks/GOOG/orders", b'{"side":["buy"],"quantity":{"n":1}}', JSON),
    http(
        "POST",
        "/stocks/GOOG/orders",
        b'{"side":"buy","quantity":1}',
        {"Content-Type": "application/json; charset=utf-32"},
    ),
    http("POST", "/stocks/GOOG/orders", b'{"side":"buy","quantity":1}', {"Content-Type": "text/plain"}),
    # oversized headers and keys
    http("GET", "/stocks/GOOG", headers={"X-User-Id": "u" * 65}),
    http("GET", "/stocks/GOOG", headers={"X-Filler": "f" * 9000}),  # one header over gunicorn's limit
    http("GET", "/stocks/GOOG", headers={f"X-H{i}": "v" for i in range(150)}),  # too many headers
    http("POST", "/GOOG/buy/1", headers={"Idempotency-Key": "k" * 129}),
    http("POST", "/GOOG/buy/1", headers={"Idempotency-Key": "k" * 8000}),
    http("POST", "/GOOG/buy/1", headers={"Idempotency-Key": ""}),
    http("POST", "/GOOG/buy/1", headers={"Idempotency-Key": '"'}),
    # methods and protocol oddities
    http("DELETE", "/stocks/GOOG/orders"),
    http("PATCH", "/GOOG/buy/1"),
    http("TRACE", "/"),
    http("BREW", "/stocks/GOOG"),
    http("PROPFIND", "/insights"),
    http("brew", "/stocks/GOOG"),
    http("POST", "/stocks/GOOG/insights", b'{"side":"buy","quantity":1}', JSON),
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    b"GET /stocks/GOOG HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\nConnection: close\r\n\r\n",
    b"POST /GOOG/buy/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello",
    b"POST /GOOG/buy/1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nZZ\r\n",
]


def test_nasty_requests_get_json_errors_the_spec_describes_and_the_server_stays_healthy(api):
    url = api.settings.api.url
    spec_ops = operations(call(url, "GET", "/openapi.json").body)
    boots = worker_boots(api.process.log_file)
    problems = []
    for request in NASTY:
        status, headers, body = raw(api.host, api.port, request)
        request_line = request.split(b"\r\n", 1)[0].decode("latin-1", "replace")
        parts = request_line.split(" ")
        codes = documented(spec_ops, parts[0], parts[1]) if len(parts) == 3 else None
        allowed = (codes or {400, 404, 414, 431}) | {405}
        if status >= 500 or status not in allowed:
            problems.append((request_line[:80], status, "status"))
            continue
        if status >= 400:
            try:
                error = json.loads(body)["error"]
                ok = (
                    headers.get("content-type", "").startswith("application/json")
                    and error["code"]
                    and error["message"]
                )
            except (ValueError, KeyError, TypeError):
                ok = False
            if not ok:
                problems.append((request_line[:80], status, body[:120]))
        assert call(url, "GET", "/healthz").status == 200, request_line[:80]
    assert problems == []
    assert worker_boots(api.process.log_file) == boots, "a worker died and was replaced"


def json_error(answer: tuple[int, dict[str, str], bytes]) -> tuple[int, str, dict[str, str]]:
    """Status, error code and headers of an answer that must be a JSON error."""
    status, headers, body = answer
    assert headers.get("content-type", "").startswith("application/json"), (status, body[:200])
    error = json.loads(body)["error"]
    assert error["message"], error
    return status, error["code"], headers


def test_deeply_nested_json_is_a_400_or_over_the_body_limit_a_413(api):
    deep = raw(api.host, api.port, http("POST", "/stocks/GOOG/orders", b"[" * 2000 + b"]" * 2000, JSON))
    assert json_error(deep)[:2] == (400, "malformed_json")
    huge = raw(api.host, api.port, http("POST", "/stocks/GOOG/orders", b"[" * 100_000 + b"]" * 100_000, JSON))
    assert json_error(huge)[:2] == (413, "payload_too_large")


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "BREW"])
@pytest.mark.parametrize("path", ["/insights", "/stocks/GOOG/insights"])
def test_writing_to_insights_is_a_405_that_allows_only_reads(api, method, path):
    answer = raw(api.host, api.port, http(method, path, b'{"side":"buy","quantity":1}', JSON))
    status, code, headers = json_error(answer)
    assert (status, code) == (405, "method_not_allowed")
    assert {m.strip() for m in headers["allow"].split(",")} == {"GET", "HEAD", "OPTIONS"}


def test_unknown_methods_are_405_and_mint_no_series(api):
    for method in ("BREW", "PROPFIND", "MKCOL", "X-UNHEARD-OF"):
        status, code, _ = json_error(raw(api.host, api.port, http(method, "/stocks/GOOG")))
        assert (status, code) == (405, "method_not_allowed"), method
    text = call(metrics_url(api.settings), "GET", "/metrics").body
    methods = set(re.findall(r'^stockpulse_http_request[a-z_]*\{[^}]*method="([^"]*)"', text, re.MULTILINE))
    assert "other" in methods
    assert methods <= {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other"}, methods


def test_metrics_answer_on_the_probe_port_and_not_on_the_port_customers_reach(api):
    public = call(api.settings.api.url, "GET", "/metrics")
    # the seed's /<ticker> route takes the path: "metrics" is no ticker
    assert public.status == 404 and public.body["error"]["code"] == "unknown_ticker", public
    assert b"stockpulse_" not in public.raw
    assert "/metrics" not in call(api.settings.api.url, "GET", "/openapi.json").body["paths"]
    probe = call(metrics_url(api.settings), "GET", "/metrics")
    assert probe.status == 200 and probe.headers["Content-Type"].startswith("text/plain"), probe
    assert "stockpulse_http_requests_total" in probe.body and "stockpulse_order_requests_total" in probe.body
