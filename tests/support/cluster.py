"""A handle on the local cluster (cluster/localk8s) for the cluster tests.

Waits are on conditions, never fixed sleeps; a wait that times out prints the pods and the
last log lines of every pod that is not ready (`localk8s.__main__.diagnose`).
"""

from __future__ import annotations

import json
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
from localk8s.tools import helm, kubectl  # noqa: E402

__all__ = ["NAMESPACE", "RELEASE", "ROOT", "Cluster", "diagnose", "helm", "kubectl", "layout", "lifecycle", "workloads"]

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

    def wait_for(self, check: Callable[[], bool], timeout: float, what: str, interval: float = 3.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(interval)
        diagnose(self.layout)
        print(self.k("logs", f"{RELEASE}-ingest-driver", "--tail=40", check=False), file=sys.stderr)
        raise AssertionError(f"{what}: not within {timeout:.0f} s")
