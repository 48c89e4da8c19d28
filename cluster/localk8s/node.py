"""The node: containerd, the bridge CNI network, kubelet, kube-proxy and CoreDNS."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from . import pki
from .health import http_ok
from .layout import Layout
from .procs import ensure_running, write_if_changed

KUBELET_HEALTHZ_PORT = 10248
KUBE_PROXY_HEALTHZ_PORT = 10256
COREDNS_HEALTH_PORT = 10054
PAUSE_IMAGE = "localhost/stockpulse-pause"
NETWORK = "stockpulse-local"  # the CNI network's name, also in the iptables rules it writes


def ctr(layout: Layout, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(["ctr", "--address", str(layout.containerd_socket), "--namespace", "k8s.io", *args], **kwargs)


def containerd_config(layout: Layout, pause_tag: str) -> Path:
    d = layout.containerd_dir
    d.mkdir(parents=True, exist_ok=True)
    config = d / "config.toml"
    config.write_text(
        f"""version = 2
root = "{layout.containerd_root}"
state = "{d / "state"}"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "{layout.containerd_socket}"

[plugins."io.containerd.internal.v1.opt"]
  path = "{d / "opt"}"

[plugins."io.containerd.grpc.v1.cri"]
  # No registry answers here: the pause image is built locally (images/pause).
  sandbox_image = "{PAUSE_IMAGE}:{pause_tag}"
  # oom_score_adj -998 cannot be set on this kind of machine; without this every pod
  # sandbox fails with "can't get final child's PID from pipe: EOF" (docs/deploy.md, machine facts).
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{layout.root / "cni" / "net.d"}"
"""
    )
    return config


def cni_config(layout: Layout) -> None:
    net = layout.root / "cni" / "net.d"
    net.mkdir(parents=True, exist_ok=True)
    conf = {
        "cniVersion": "1.0.0",
        "name": NETWORK,
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": True,
                "ipMasq": True,
                # A pod reaching itself through a Service comes back over the same port.
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": layout.pod_cidr}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(layout.root / "cni" / "ipam"),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }
    (net / "10-stockpulse.conflist").write_text(json.dumps(conf, indent=2))


def start_containerd(layout: Layout, pause_tag: str) -> None:
    config = containerd_config(layout, pause_tag)
    cni_config(layout)
    ensure_running(
        layout,
        "containerd",
        ["containerd", "--config", str(config)],
        lambda: layout.containerd_socket.exists() and ctr(layout, "version", capture_output=True).returncode == 0,
        60,
    )


def kubelet_config(layout: Layout) -> Path:
    d = layout.root / "kubelet"
    d.mkdir(parents=True, exist_ok=True)
    config = d / "config.yaml"
    config.write_text(
        f"""apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: {{enabled: false}}
  webhook: {{enabled: true}}
  x509: {{clientCAFile: {layout.pki / "ca.crt"}}}
authorization: {{mode: Webhook}}
address: {layout.node_ip}
port: {layout.kubelet_port}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: {KUBELET_HEALTHZ_PORT}
# docs/deploy.md, "Facts about this kind of machine": kubelet 1.35 refuses cgroup v1 unless told; no systemd here.
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
containerRuntimeEndpoint: unix://{layout.containerd_socket}
clusterDNS: [{layout.node_ip}]
clusterDomain: {layout.cluster_domain}
resolvConf: /etc/resolv.conf
# Images cannot be pulled again (no registry): never collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 200Mi
  nodefs.available: 2%
  imagefs.available: 2%
serializeImagePulls: false
maxPods: 110
"""
    )
    return config


def start_kubelet(layout: Layout) -> None:
    kubeconfig = layout.root / "kubeconfigs" / "kubelet.kubeconfig"
    pki.kubeconfig(layout, f"kubelet-{layout.node_name}", kubeconfig)
    root_dir = layout.root / "kubelet" / "root"
    root_dir.mkdir(parents=True, exist_ok=True)
    ensure_running(
        layout,
        "kubelet",
        [
            layout.binary("kubelet"),
            f"--config={kubelet_config(layout)}",
            f"--kubeconfig={kubeconfig}",
            f"--root-dir={root_dir}",
            f"--cert-dir={layout.root / 'kubelet' / 'pki'}",
            f"--hostname-override={layout.node_name}",
            f"--node-ip={layout.node_ip}",
            "--v=0",
        ],
        lambda: http_ok(f"http://127.0.0.1:{KUBELET_HEALTHZ_PORT}/healthz"),
        60,
    )


def start_kube_proxy(layout: Layout) -> None:
    kubeconfig = layout.root / "kubeconfigs" / "kube-proxy.kubeconfig"
    pki.kubeconfig(layout, "kube-proxy", kubeconfig)
    config = write_if_changed(
        layout.root / "kube-proxy.yaml",
        f"""apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: {kubeconfig}
mode: iptables
clusterCIDR: {layout.pod_cidr}
hostnameOverride: {layout.node_name}
healthzBindAddress: 127.0.0.1:{KUBE_PROXY_HEALTHZ_PORT}
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: [primary]
# The conntrack sysctls are not writable here: leave them as they are.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
""",
    )
    ensure_running(
        layout,
        "kube-proxy",
        [layout.binary("kube-proxy"), f"--config={config}", "--v=0"],
        lambda: http_ok(f"http://127.0.0.1:{KUBE_PROXY_HEALTHZ_PORT}/healthz"),
        60,
    )


COREDNS_RBAC = """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: system:coredns
rules:
  - apiGroups: [""]
    resources: [endpoints, services, pods, namespaces]
    verbs: [list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: system:coredns
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: system:coredns
subjects:
  - apiGroup: rbac.authorization.k8s.io
    kind: User
    name: system:coredns
"""


def start_coredns(layout: Layout, kubectl) -> None:
    """CoreDNS on the node address, port 53: the pods' nameserver (kubelet's clusterDNS)."""
    kubectl("apply", "-f", "-", input=COREDNS_RBAC)
    kubeconfig = layout.root / "kubeconfigs" / "coredns.kubeconfig"
    pki.kubeconfig(layout, "coredns", kubeconfig)
    corefile = layout.root / "Corefile"
    corefile.write_text(
        f""".:53 {{
    bind {layout.node_ip}
    errors
    health 127.0.0.1:{COREDNS_HEALTH_PORT}
    kubernetes {layout.cluster_domain} in-addr.arpa ip6.arpa {{
        kubeconfig {kubeconfig} stockpulse-local
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    forward . /etc/resolv.conf
    cache 30
    loadbalance
}}
"""
    )
    ensure_running(
        layout,
        "coredns",
        [layout.binary("coredns"), "-conf", str(corefile)],
        lambda: http_ok(f"http://127.0.0.1:{COREDNS_HEALTH_PORT}/health"),
        60,
        cwd=layout.root,
    )


def enable_forwarding() -> None:
    """Pods route through the host: IPv4 forwarding, and bridged traffic through iptables
    so a Service backed by a pod on the same bridge answers (kube-proxy's rules)."""
    for path in ("/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/bridge/bridge-nf-call-iptables"):
        if os.path.exists(path):
            with open(path) as fh:
                if fh.read().strip() == "1":
                    continue
            with open(path, "w") as fh:
                fh.write("1")


PROCESSES = ("containerd", "kubelet", "kube-proxy", "coredns")
