"""The chart running on the local one-node cluster (cluster/localk8s, `make k8s-up`).

One fixture builds the images, brings the cluster up with spark-operator and the chart,
and takes all of it down after the last test of this folder, whatever happened. Waits are on
conditions, never fixed sleeps; a wait that times out prints the pods and the last log
lines of every pod that is not ready (`localk8s.__main__.diagnose`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "cluster"))

from localk8s import lifecycle, workloads  # noqa: E402
from localk8s.__main__ import diagnose  # noqa: E402
from localk8s.layout import Layout, layout  # noqa: E402
from localk8s.tools import helm, kubectl  # noqa: E402

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


@pytest.fixture(scope="package")
def cluster() -> Iterator[Cluster]:
    """Package scope: the cluster is down before the rest of the suite runs, so its pods take
    no CPU or memory from the integration tests."""
    if os.geteuid() != 0:
        pytest.skip("the local cluster needs root (containers, iptables); this machine's CI runs as root")
    lay = layout()
    subprocess.run(["bash", str(ROOT / "scripts" / "images.sh")], check=True, timeout=3600)
    lifecycle.reset(lay)  # a fresh cluster: nothing left from an earlier run
    try:
        try:
            lifecycle.up(lay)
        except Exception:
            if lay.kubeconfig.exists():
                diagnose(lay)
            raise
        yield Cluster(lay)
    finally:
        lifecycle.down(lay)
        assert lifecycle.leftovers(lay) == [], "make k8s-down left processes behind"
