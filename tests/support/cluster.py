"""A handle on the local cluster (cluster/localk8s) for the cluster tests.

Waits are on conditions, never fixed sleeps; a wait that times out prints the pods and the
last log lines of every pod that is not ready (`localk8s.__main__.diagnose`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
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
    "keyed_order",
    "keyed_order_through",
    "kubectl",
    "layout",
    "lifecycle",
    "paused",
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
        """``sets`` as ``--set``, except ``key:=json`` as ``--set-json`` (``--set`` makes 0.2 a string)."""
        args = ["upgrade", RELEASE, str(workloads.CHART), "-n", NAMESPACE, "--reuse-values"]
        for item in sets:
            key, is_json, value = item.partition(":=")
            args += ["--set-json", f"{key}={value}"] if is_json else ["--set", item]
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


def keyed_order(base_url: str, key: str, timeout: float = 20) -> tuple[int, bytes, dict[str, str]]:
    """One sell of 7 NVDA with ``Idempotency-Key: key``: status, body and headers."""
    request = urllib.request.Request(
        f"{base_url}/stocks/NVDA/orders",
        data=json.dumps({"side": "sell", "quantity": 7}).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Idempotency-Key": key, "X-User-Id": "u-cluster"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def _pod_processes(uid: str) -> list[int]:
    """The node's processes of the pod with this uid (kubelet's cgroupfs driver puts them under
    ``/kubepods/.../pod<uid>/``)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if f"pod{uid}/" in Path(f"/proc/{entry}/cgroup").read_text():
                    found.append(int(entry))
            except OSError:
                continue
    return found


@contextlib.contextmanager
def paused(cluster: Cluster, pod: str) -> Iterator[None]:
    """Every process of ``pod`` stopped (SIGSTOP) for the block, then continued: a broker that holds
    every message without closing a connection, as a long GC pause or a stalled disk would."""
    uid = cluster.json("get", "pod", pod)["metadata"]["uid"]
    pids = _pod_processes(uid)
    assert pids, f"no process of pod {pod} (uid {uid}) on this node"
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def keyed_order_through(cluster: Cluster, target: str, key: str) -> tuple[int, bytes, dict[str, str]]:
    """``keyed_order`` through a port-forward to ``target`` (``svc/...`` or ``pod/...``)."""
    forward = port_forward(cluster, target, 8000)
    try:
        return keyed_order(f"http://127.0.0.1:{forward.local_port}", key)  # type: ignore[attr-defined]
    finally:
        forward.kill()
        forward.wait()
