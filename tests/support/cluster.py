"""A handle on the local cluster (cluster/localk8s) for the cluster tests.

Waits are on conditions, never fixed sleeps; a wait that times out prints the pods and the
last log lines of every pod that is not ready (`localk8s.__main__.diagnose`).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "cluster"))

from localk8s import lifecycle, workloads  # noqa: E402
from localk8s.__main__ import diagnose  # noqa: E402
from localk8s.layout import Layout, layout  # noqa: E402
from localk8s.tools import CommandError, helm, kubectl  # noqa: E402

__all__ = [
    "NAMESPACE",
    "RELEASE",
    "ROOT",
    "Cluster",
    "diagnose",
    "helm",
    "kubectl",
    "layout",
    "lifecycle",
    "port_forward",
    "workloads",
]

NAMESPACE = workloads.NAMESPACE
RELEASE = workloads.RELEASE


@dataclass
class Cluster:
    layout: Layout

    def kubectl(self, *args: str, check: bool = True, timeout: float = 600, input: str | None = None) -> str:
        return kubectl(self.layout, *args, input=input, check=check, timeout=timeout)

    def k(self, *args: str, check: bool = True, timeout: float = 600) -> str:
        """kubectl in the release's namespace."""
        return self.kubectl("-n", NAMESPACE, *args, check=check, timeout=timeout)

    def helm_upgrade(self, *sets: str, wait: bool = False) -> None:
        args = ["upgrade", RELEASE, str(workloads.CHART), "-n", NAMESPACE, "--reuse-values"]
        for item in sets:
            args += ["--set", item]
        if wait:
            args += ["--wait", "--timeout", "10m"]
        helm(self.layout, *args)

    def json(self, *args: str) -> dict:
        return json.loads(self.k(*args, "-o", "json"))

    def sql(self, query: str) -> list[dict]:
        return [json.loads(line) for line in workloads.sql(self.layout, query).splitlines() if line.startswith("{")]

    def order_in_lake(self, order_id: str) -> bool:
        """Whether ``stock_operation`` holds the order; False too while the ingest has not created its tables."""
        try:
            return bool(self.sql(f"SELECT order_id FROM stock_operation WHERE order_id = '{order_id}'"))
        except CommandError as exc:
            if "does not exist" not in str(exc):
                raise
            return False

    def wait_for(self, check: Callable[[], bool], timeout: float, what: str, interval: float = 3.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(interval)
        diagnose(self.layout)
        print(self.k("logs", f"{RELEASE}-ingest-driver", "--tail=40", check=False), file=sys.stderr)
        raise AssertionError(f"{what}: not within {timeout:.0f} s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_forward(cluster: Cluster, target: str, port: int, namespace: str = NAMESPACE) -> subprocess.Popen:
    local = free_port()
    proc = subprocess.Popen(
        [
            cluster.layout.binary("kubectl"),
            "--kubeconfig",
            str(cluster.layout.kubeconfig),
            "-n",
            namespace,
            "port-forward",
            "--address",
            "127.0.0.1",
            target,
            f"{local}:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    proc.local_port = local  # type: ignore[attr-defined]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", local), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise AssertionError(f"port-forward to {target} did not open")
