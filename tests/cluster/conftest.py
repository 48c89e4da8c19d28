"""The chart running on the local one-node cluster (cluster/localk8s, `make k8s-up`).

One fixture builds the images, brings the cluster up with spark-operator and the chart,
and takes all of it down after the last test of this folder, whatever happened.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.support.cluster import ROOT, Cluster, diagnose, layout, lifecycle


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
