"""The load tool: ``wrk`` (Debian's package), driven by a generated Lua script.

Why wrk: it is C on epoll, a few microseconds of CPU per request, so on this 2-core
machine it takes a small share of one core while gunicorn's Python workers take the
rest (the bench records both processes' CPU time to show it). Locust would need a
core of its own per few thousand requests per second, which the server needs here.
wrk is a closed-loop tool: with 50 connections there are never more than 50 requests in
flight, and latency is measured from send to last byte of the answer.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MARKER = "BENCH_JSON "

#: Request mixes: share of quote checks, the rest are orders (half buy, half sell).
CHECK_SHARE = {"check": 100, "order": 0, "mixed": 80}

_LUA = r"""
local tickers = {%(tickers)s}
local check_share = %(check_share)d
local fixed_path = %(fixed_path)s
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  checks = 0
  orders = 0
  math.randomseed(os.time() * 1000 + math.floor(os.clock() * 1e6))
end

function request()
  if fixed_path then
    checks = checks + 1
    return wrk.format("GET", fixed_path)
  end
  local ticker = tickers[math.random(#tickers)]
  if math.random(100) <= check_share then
    checks = checks + 1
    return wrk.format("GET", "/stocks/" .. ticker, {["X-User-Id"] = "bench"})
  end
  orders = orders + 1
  local side = (math.random(2) == 1) and "buy" or "sell"
  local body = '{"side":"' .. side .. '","quantity":' .. math.random(50) .. '}'
  return wrk.format("POST", "/stocks/" .. ticker .. "/orders",
    {["Content-Type"] = "application/json", ["X-User-Id"] = "bench"}, body)
end

function done(summary, latency, requests)
  local sent_checks, sent_orders = 0, 0
  for _, thread in ipairs(threads) do
    sent_checks = sent_checks + thread:get("checks")
    sent_orders = sent_orders + thread:get("orders")
  end
  local e = summary.errors
  io.write(string.format(
    '%(marker)s{"requests":%%d,"duration_us":%%d,"bytes":%%d,' ..
    '"errors":{"connect":%%d,"read":%%d,"write":%%d,"status":%%d,"timeout":%%d},' ..
    '"latency_us":{"p50":%%d,"p90":%%d,"p95":%%d,"p99":%%d,"max":%%d,"mean":%%.1f},' ..
    '"sent":{"checks":%%d,"orders":%%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean, sent_checks, sent_orders))
end
"""


class WrkError(RuntimeError):
    pass


@dataclass(frozen=True)
class WrkResult:
    requests: int
    duration_s: float
    errors: dict[str, int]
    latency_ms: dict[str, float]
    sent: dict[str, int]
    cpu_s: float  # user + system time wrk itself used

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    def as_dict(self) -> dict:
        return {
            "requests": self.requests,
            "duration_s": round(self.duration_s, 3),
            "rps": round(self.rps, 1),
            "latency_ms": self.latency_ms,
            "errors": self.errors,
            "sent": self.sent,
            "wrk_cpu_s": round(self.cpu_s, 2),
        }


def ensure_wrk() -> str:
    """The wrk binary; installed from Debian's packages when missing and we are root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise WrkError("wrk is not installed; install it with `apt-get install -y wrk` (Debian package `wrk`)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise WrkError(f"`{' '.join(argv)}` failed: {(result.stderr or result.stdout).strip()[-500:]}")
    found = shutil.which("wrk")
    if not found:
        raise WrkError("apt-get installed wrk but it is not on PATH")
    return found


def wrk_version(binary: str) -> str:
    result = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    line = (result.stdout or result.stderr).strip().splitlines()
    return line[0].split(" [", 1)[0] if line else "unknown"


def lua_script(mix: str, tickers: Sequence[str], fixed_path: str | None = None) -> str:
    return _LUA % {
        "tickers": ", ".join(json.dumps(t) for t in tickers),
        "check_share": CHECK_SHARE.get(mix, 100),
        "fixed_path": json.dumps(fixed_path) if fixed_path else "nil",
        "marker": MARKER,
    }


def parse_output(stdout: str) -> dict:
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER) :])
    raise WrkError(f"wrk printed no figures:\n{stdout[-2000:]}")


def run_wrk(
    binary: str,
    url: str,
    mix: str,
    tickers: Sequence[str],
    seconds: float,
    connections: int = 50,
    threads: int = 2,
    fixed_path: str | None = None,
) -> WrkResult:
    """One closed-loop run of ``seconds`` against ``url``; the figures from the Lua ``done`` hook."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(lua_script(mix, tickers, fixed_path))
        script = Path(fh.name)
    argv = [
        binary,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    finally:
        script.unlink(missing_ok=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise WrkError(f"wrk exited {result.returncode}: {result.stderr.strip()[-1000:]}")
    figures = parse_output(result.stdout)
    lat = figures["latency_us"]
    return WrkResult(
        requests=figures["requests"],
        duration_s=figures["duration_us"] / 1e6,
        errors=figures["errors"],
        latency_ms={k: round(v / 1000.0, 3) for k, v in lat.items()},
        sent=figures["sent"],
        cpu_s=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
    )
