"""Where everything of the local cluster lives, and the few numbers it is configured with.

Every value can be overridden from the environment (``STOCKPULSE_K8S_*``), so two
checkouts on one machine can run side by side on other ports (each then also needs its
own ``STOCKPULSE_K8S_IMAGE_STORE``).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
K8S_VERSION = next(
    line.split()[1]
    for line in (ROOT / "cluster/build/go.mod").read_text().splitlines()
    if line.strip().startswith("k8s.io/kubernetes ")
)


def _env(name: str, default: str) -> str:
    return os.environ.get(f"STOCKPULSE_K8S_{name}", default)


def node_ip() -> str:
    """The address of the interface the default route leaves by.

    The API server must advertise a non-loopback address (the ``kubernetes`` Service's
    endpoint), and pods reach the API server and the DNS server through it.
    """
    out = subprocess.run(["ip", "-4", "route", "get", "1.1.1.1"], capture_output=True, text=True, check=True).stdout
    words = out.split()
    return words[words.index("src") + 1]


@dataclass(frozen=True)
class Layout:
    root: Path
    bin_dir: Path
    node_ip: str
    #: containerd's persistent root (image content, snapshots) and the ids of the images
    #: loaded into it. Machine-wide by default, like podman's storage: a fresh clone's
    #: cluster then finds every unchanged image already unpacked instead of spending
    #: minutes on ``podman save | ctr import``.
    image_store: Path = Path.home() / ".cache" / "stockpulse" / "k8s-images"
    node_name: str = _env("NODE_NAME", "stockpulse-local")
    apiserver_port: int = int(_env("APISERVER_PORT", "16443"))
    etcd_port: int = int(_env("ETCD_PORT", "12379"))
    kubelet_port: int = int(_env("KUBELET_PORT", "10250"))
    pod_cidr: str = _env("POD_CIDR", "10.244.0.0/16")  # not podman's 10.88.0.0/16
    service_cidr: str = _env("SERVICE_CIDR", "10.96.0.0/16")
    cluster_domain: str = "cluster.local"

    @property
    def first_service_ip(self) -> str:
        prefix = self.service_cidr.split("/")[0].rsplit(".", 1)[0]
        return f"{prefix}.1"

    @property
    def apiserver_url(self) -> str:
        return f"https://{self.node_ip}:{self.apiserver_port}"

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig: ``kubectl --kubeconfig .run/k8s/kubeconfig``."""
        return self.root / "kubeconfig"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def containerd_dir(self) -> Path:
        return self.root / "containerd"

    @property
    def containerd_root(self) -> Path:
        return self.image_store / "containerd"

    @property
    def image_stamps(self) -> Path:
        """One file per loaded image: the podman image id containerd holds under that tag."""
        return self.image_store / "stamps"

    @property
    def containerd_socket(self) -> Path:
        return self.containerd_dir / "containerd.sock"

    @property
    def volumes_dir(self) -> Path:
        return self.root / "volumes"

    def binary(self, name: str) -> str:
        return str(self.bin_dir / name)


def layout() -> Layout:
    root = Path(_env("DIR", str(ROOT / ".run" / "k8s"))).resolve()
    bin_dir = Path(_env("BIN", str(ROOT / ".tools" / "k8s" / K8S_VERSION / "bin"))).resolve()
    store = Path(_env("IMAGE_STORE", str(Layout.image_store))).resolve()
    return Layout(root=root, bin_dir=bin_dir, node_ip=_env("NODE_IP", "") or node_ip(), image_store=store)
