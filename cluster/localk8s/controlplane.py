"""etcd, kube-apiserver, kube-controller-manager and kube-scheduler as local processes."""

from __future__ import annotations

from . import pki
from .health import http_ok
from .layout import Layout
from .procs import ensure_running

CONTROLLER_MANAGER_PORT = 10257
SCHEDULER_PORT = 10259


def start_etcd(layout: Layout) -> None:
    data = layout.root / "etcd"
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(0o700)
    url = f"http://127.0.0.1:{layout.etcd_port}"
    peer = f"http://127.0.0.1:{layout.etcd_port + 1}"
    ensure_running(
        layout,
        "etcd",
        [
            layout.binary("etcd"),
            "--name=local",
            f"--data-dir={data}",
            f"--listen-client-urls={url}",
            f"--advertise-client-urls={url}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=local={peer}",
            "--listen-metrics-urls=",
            "--log-level=warn",
            "--quota-backend-bytes=2147483648",
        ],
        lambda: http_ok(f"{url}/health"),
        60,
    )


def start_apiserver(layout: Layout) -> None:
    p = layout.pki
    cert = (str(p / "admin.crt"), str(p / "admin.key"))
    ensure_running(
        layout,
        "kube-apiserver",
        [
            layout.binary("kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{layout.etcd_port}",
            # Pods reach the API server through the `kubernetes` Service, whose endpoint is
            # the advertised address; it must not be loopback (docs/deploy.md, "Facts about this kind of machine").
            f"--bind-address={layout.node_ip}",
            f"--advertise-address={layout.node_ip}",
            f"--secure-port={layout.apiserver_port}",
            f"--service-cluster-ip-range={layout.service_cidr}",
            "--service-node-port-range=30000-32767",
            f"--client-ca-file={p / 'ca.crt'}",
            f"--tls-cert-file={p / 'apiserver.crt'}",
            f"--tls-private-key-file={p / 'apiserver.key'}",
            f"--service-account-key-file={p / 'sa.pub'}",
            f"--service-account-signing-key-file={p / 'sa.key'}",
            f"--service-account-issuer=https://kubernetes.default.svc.{layout.cluster_domain}",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            # logs and exec dial the kubelet by the node's address, not its name.
            "--kubelet-preferred-address-types=InternalIP,Hostname",
            f"--kubelet-client-certificate={p / 'apiserver-kubelet-client.crt'}",
            f"--kubelet-client-key={p / 'apiserver-kubelet-client.key'}",
            "--profiling=false",
            "--v=0",
        ],
        lambda: http_ok(f"{layout.apiserver_url}/readyz", cert=cert),
        120,
    )


def _start_controller(layout: Layout, name: str, identity: str, port: int, *flags: str) -> None:
    """A control-plane controller: its own client certificate, health on loopback HTTPS."""
    kubeconfig = layout.root / "kubeconfigs" / f"{identity}.kubeconfig"
    pki.kubeconfig(layout, identity, kubeconfig)
    ensure_running(
        layout,
        name,
        [
            layout.binary(name),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={port}",
            "--leader-elect=false",
            "--profiling=false",
            "--v=0",
            *flags,
        ],
        lambda: http_ok(f"https://127.0.0.1:{port}/healthz"),
        60,
    )


def start_controller_manager(layout: Layout) -> None:
    p = layout.pki
    _start_controller(
        layout,
        "kube-controller-manager",
        "controller-manager",
        CONTROLLER_MANAGER_PORT,
        f"--cluster-signing-cert-file={p / 'ca.crt'}",
        f"--cluster-signing-key-file={p / 'ca.key'}",
        f"--root-ca-file={p / 'ca.crt'}",
        f"--service-account-private-key-file={p / 'sa.key'}",
        "--use-service-account-credentials=true",
        f"--service-cluster-ip-range={layout.service_cidr}",
        # IPs come from the bridge plugin's host-local ranges, not from node CIDRs.
        "--allocate-node-cidrs=false",
    )


def start_scheduler(layout: Layout) -> None:
    _start_controller(layout, "kube-scheduler", "scheduler", SCHEDULER_PORT)


PROCESSES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
