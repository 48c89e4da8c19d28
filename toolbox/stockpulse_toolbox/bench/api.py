"""API throughput and latency at fixed concurrency: the ceiling, check-only, order-only and mixed loads."""

from __future__ import annotations

import os
import time
import urllib.request
from pathlib import Path
from typing import Any

from stockpulse.settings import Settings

from ..devstack.paths import venv_bin
from ..devstack.process import ManagedProcess, group_stats, port_open, wait_until
from .wrk import WrkResult, run_wrk

#: The loads in the order they run; the ceiling first, on its own server.
SCENARIOS = ("ceiling", "check", "order", "mixed")
CONNECTIONS = 50


class GunicornServer:
    """A WSGI app under the API's gunicorn config: same workers, threads, worker class, keep-alive."""

    def __init__(self, settings: Settings, name: str, app_uri: str) -> None:
        self.settings = settings
        self.app_uri = app_uri
        self.process = ManagedProcess(name, settings.run_dir)
        host, port = settings.api.bind.rsplit(":", 1)
        self.host, self.port = host, int(port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        env = {
            **os.environ,
            **self.settings.to_env(),
            "PROMETHEUS_MULTIPROC_DIR": str(self.settings.run_dir / "prometheus" / self.process.name),
        }
        argv = [venv_bin("gunicorn"), "-c", "python:stockpulse.api.gunicorn_config", self.app_uri]
        self.process.start(argv, env=env, cwd=Path.cwd())
        wait_until(lambda: port_open(self.host, self.port), timeout, self.process.name, alive=self.process.running)

    def stop(self) -> bool:
        return self.process.stop(30)


class CeilingServer(GunicornServer):
    """``bench.ceiling:app``, the constant answer, on the API's gunicorn settings."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, "ceiling", "stockpulse_toolbox.bench.ceiling:app")


def group_cpu_seconds(pgid: int | None, reaped: bool = False) -> float:
    """CPU time (user + system) of every live process in the process group ``pgid`` (gunicorn and
    its workers); with ``reaped``, also of the children those processes waited for."""
    if pgid is None:
        return 0.0
    fields = (11, 12, 13, 14) if reaped else (11, 12)
    ticks = sum(int(stat[i]) for stat in group_stats(pgid) for i in fields)
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine spent not idle, since boot (``/proc/stat``)."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def metric_sum(base_url: str, prefix: str) -> float:
    """Sum of the Prometheus samples whose line starts with ``prefix``."""
    with urllib.request.urlopen(base_url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))


ORDERS_ACKED = 'stockpulse_events_produced_total{topic="stock_operation"}'
EVENTS_FAILED = "stockpulse_events_failed_total"


def metrics_url(settings: Settings) -> str:
    """Where the API under gunicorn answers ``/metrics``: its probe port."""
    return f"http://{settings.api.probe_bind}"


def _counters(api_url: str | None) -> tuple[float, float]:
    if api_url is None:
        return 0.0, 0.0
    return metric_sum(api_url, ORDERS_ACKED), metric_sum(api_url, EVENTS_FAILED)


def measure(
    wrk: str,
    url: str,
    mix: str,
    tickers: tuple[str, ...],
    seconds: float,
    warmup: float,
    pgid: int | None,
    api_url: str | None,
    others: dict[str, int | None] | None = None,
) -> dict[str, Any]:
    """A warm-up run (discarded), then the measured run with server CPU and Kafka acknowledgements
    around it; ``others`` names process groups (broker, ingest...) whose CPU is reported too."""
    fixed = "/" if mix == "ceiling" else None
    if warmup > 0:
        run_wrk(wrk, url, mix, tickers, warmup, CONNECTIONS, fixed_path=fixed)
        time.sleep(1.0)
    acked0, failed0 = _counters(api_url)
    cpu0, busy0 = group_cpu_seconds(pgid), machine_busy_seconds()
    others0 = {name: group_cpu_seconds(group) for name, group in (others or {}).items()}
    load0 = os.getloadavg()[0]
    result: WrkResult = run_wrk(wrk, url, mix, tickers, seconds, CONNECTIONS, fixed_path=fixed)
    cpu, busy = group_cpu_seconds(pgid) - cpu0, machine_busy_seconds() - busy0
    others_cpu = {name: round(group_cpu_seconds(group) - others0[name], 2) for name, group in (others or {}).items()}
    time.sleep(1.0)  # orders still in flight when wrk stopped are answered (and acked) by now
    acked1, failed1 = _counters(api_url)
    figures = result.as_dict()
    figures.update(
        connections=CONNECTIONS,
        server_cpu_s=round(cpu, 2),
        server_cores_busy=round(cpu / result.duration_s, 2) if result.duration_s else None,
        wrk_cores_busy=round(result.cpu_s / result.duration_s, 2) if result.duration_s else None,
        loadavg_1m_before=round(load0, 2),
    )
    if others:
        figures["others_cpu_s"] = others_cpu
    if result.duration_s:
        # what else ran meanwhile (other work on the machine takes cores from the server)
        figures["machine_cores_busy"] = round(busy / result.duration_s, 2)
        figures["other_cores_busy"] = round(max(busy - cpu - result.cpu_s, 0.0) / result.duration_s, 2)
    if api_url is not None:
        sent_orders = result.sent["orders"]
        acked = int(acked1 - acked0)
        failed = int(failed1 - failed0)
        figures.update(orders_acked_by_kafka=acked, events_failed=failed)
        if sent_orders:
            # wrk counts what it sent; up to one request per connection was cut off when it stopped
            figures["every_order_acked"] = (
                result.failed == 0 and failed == 0 and sent_orders - CONNECTIONS <= acked <= sent_orders
            )
    return figures


def measure_pipeline(
    wrk: str, settings: Settings, api_pgid: int | None, seconds: float, warmup: float, others: dict[str, int | None]
) -> dict[str, Any]:
    """The API loads while the broker, the metastore and the ingest run and consume, as users run it."""
    return {
        scenario: measure(
            wrk, settings.api.url, scenario, settings.tickers, seconds, warmup, api_pgid, metrics_url(settings), others
        )
        for scenario in SCENARIOS
        if scenario != "ceiling"
    }


def measure_all(
    wrk: str,
    settings: Settings,
    ceiling: CeilingServer,
    api_pgid: int | None,
    seconds: float,
    warmup: float,
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for scenario in SCENARIOS:
        if scenario == "ceiling":
            results[scenario] = measure(
                wrk, ceiling.url, scenario, settings.tickers, seconds, warmup, ceiling.process.pid(), None
            )
        else:
            results[scenario] = measure(
                wrk, settings.api.url, scenario, settings.tickers, seconds, warmup, api_pgid, metrics_url(settings)
            )
    ceiling_rps = results["ceiling"]["rps"]
    results["mixed_share_of_ceiling"] = round(results["mixed"]["rps"] / ceiling_rps, 3) if ceiling_rps else None
    return results
