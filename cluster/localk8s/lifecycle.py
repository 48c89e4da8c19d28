"""Bring the whole local cluster up in order, and take all of it down again."""

from __future__ import annotations

import contextlib
import glob
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

from stockpulse_toolbox.devstack.process import ManagedProcess

from . import controlplane, monitoring, node, pki, workloads
from .layout import ROOT, Layout
from .tools import CommandError, kubectl, run, say

IMAGES = [
    "pause",
    "postgres",
    "kafka",
    "hive-metastore",
    "api",
    "locust",
    "spark",
    "spark-operator",
    "prometheus-operator",
    "prometheus",
]


def build_binaries(layout: Layout) -> None:
    run(["bash", str(ROOT / "cluster/build/build.sh"), str(layout.bin_dir)], timeout=3600)


def up(layout: Layout, install: bool = True) -> None:
    if os.geteuid() != 0:
        raise CommandError("the local cluster runs containers and changes iptables: run it as root")
    started = time.monotonic()
    layout.root.mkdir(parents=True, exist_ok=True)
    build_binaries(layout)
    tag = workloads.image_tag()
    pki.ensure(layout)
    pki.kubeconfig(layout, "admin", layout.kubeconfig)
    node.enable_forwarding()
    steps = [
        ("etcd", lambda: controlplane.start_etcd(layout)),
        ("kube-apiserver", lambda: controlplane.start_apiserver(layout)),
        ("kube-controller-manager", lambda: controlplane.start_controller_manager(layout)),
        ("kube-scheduler", lambda: controlplane.start_scheduler(layout)),
        ("containerd", lambda: node.start_containerd(layout, tag)),
        ("images", lambda: workloads.load_images(layout, IMAGES if install else ["pause"], tag)),
        ("kubelet", lambda: node.start_kubelet(layout)),
        ("node Ready", lambda: wait_node_ready(layout)),
        # Pods that were running when the node stopped (k8s-down) come back Failed: gone.
        ("stale pods", lambda: kubectl(layout, "delete", "pods", "-A", "--field-selector=status.phase=Failed")),
        ("kube-proxy", lambda: node.start_kube_proxy(layout)),
        ("coredns", lambda: node.start_coredns(layout, lambda *a, **k: kubectl(layout, *a, **k))),
        ("storage", lambda: workloads.storage(layout)),
    ]
    if install:
        steps += [
            ("spark-operator", lambda: workloads.install_spark_operator(layout, tag)),
            ("prometheus-operator", lambda: monitoring.install(layout, tag)),
            ("stockpulse chart", lambda: workloads.install_chart(layout)),
            ("ingest running", lambda: workloads.wait_ingest_running(layout)),
            ("prometheus running", lambda: monitoring.wait_prometheus(layout)),
        ]
    for name, step in steps:
        t0 = time.monotonic()
        say(f"{name} ...")
        step()
        say(f"{name}: ready in {time.monotonic() - t0:.1f} s")
    say(f"cluster up in {time.monotonic() - started:.0f} s; kubeconfig {layout.kubeconfig}")


def wait_node_ready(layout: Layout, timeout: float = 180) -> None:
    """Wait for the node object, then for its Ready condition: kubelet answers healthz a moment
    before it has registered the node, and ``kubectl wait`` on a missing object fails at once."""
    deadline = time.monotonic() + timeout
    while kubectl(layout, "get", "node", layout.node_name, "-o", "name", check=False).strip() == "":
        if time.monotonic() > deadline:
            raise CommandError(f"node {layout.node_name} never registered within {timeout:.0f} s")
        time.sleep(1)
    remaining = max(10, int(deadline - time.monotonic()))
    kubectl(layout, "wait", "node", layout.node_name, "--for=condition=Ready", f"--timeout={remaining}s")


def _stop(layout: Layout, name: str, timeout: float = 20) -> None:
    if ManagedProcess(name, layout.root).stop(timeout):
        say(f"stopped {name}")


def _processes() -> dict[int, list[bytes]]:
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                found[int(entry)] = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
    return found


def _containerd_shims(layout: Layout) -> list[int]:
    """Shims started by our containerd: their command line names our socket."""
    socket = str(layout.containerd_socket).encode()
    return [
        pid
        for pid, argv in _processes().items()
        if argv and argv[0].endswith(b"containerd-shim-runc-v2") and socket in argv
    ]


def _in_a_pod(pid: int) -> bool:
    """A container's process: kubelet (cgroupfs driver) puts pods under the kubepods cgroup."""
    try:
        return "/kubepods" in Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return False


def leftovers(layout: Layout) -> list[str]:
    """Processes of ours still alive: anything run from our binaries or naming our state
    folder or containerd socket on its command line (shims), and any process of a pod."""
    marks = [str(layout.root).encode(), str(layout.bin_dir).encode()]
    me = os.getpid()
    return [
        f"{pid}: {b' '.join(argv).decode(errors='replace')[:160]}"
        for pid, argv in _processes().items()
        if pid != me and (any(mark in part for part in argv for mark in marks) or _in_a_pod(pid))
    ]


def _kill_containers(layout: Layout) -> None:
    """Every container task of our containerd, SIGKILLed: pods do not outlive k8s-down."""
    if not layout.containerd_socket.exists():
        return
    listed = node.ctr(layout, "tasks", "ls", "-q", capture_output=True, text=True)
    for task in listed.stdout.split():
        node.ctr(layout, "tasks", "kill", "--all", "--signal", "SIGKILL", task, capture_output=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        remaining = node.ctr(layout, "tasks", "ls", "-q", capture_output=True, text=True).stdout.split()
        for task in remaining:
            node.ctr(layout, "tasks", "delete", "--force", task, capture_output=True)
        if not remaining:
            break
        time.sleep(0.5)
    # The containers themselves (and their writable layers) too: the image store outlives this
    # cluster and is shared by every checkout, so what pods wrote must not pile up in it. A
    # later k8s-up recreates the pods (they come back Failed and are replaced anyway).
    listed = node.ctr(layout, "containers", "ls", "-q", capture_output=True, text=True)
    if listed.stdout.split():
        node.ctr(layout, "containers", "delete", *listed.stdout.split(), capture_output=True)


def _unmount_under(root: Path) -> None:
    prefix = str(root) + "/"
    mounts = []
    with open("/proc/self/mounts") as fh:
        for line in fh:
            target = line.split()[1].replace("\\040", " ")
            if target.startswith(prefix):
                mounts.append(target)
    for target in sorted(set(mounts), key=len, reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True)


def reset(layout: Layout) -> None:
    """Stop the cluster and forget its state (etcd, volumes, kubelet, CNI); keep the
    certificates and the images loaded into containerd, which take time to remake."""
    down(layout)
    for name in ("etcd", "volumes", "kubelet", "cni", "kube-proxy.yaml"):
        subprocess.run(["rm", "-rf", str(layout.root / name)], check=False)


#: Chains kubelet makes in every table (its canary, the localnet guard, the hint chain).
KUBELET_CHAINS = ("KUBE-FIREWALL", "KUBE-KUBELET-CANARY", "KUBE-IPTABLES-HINT")


def _remove_iptables_rules(network: str) -> None:
    """What the bridge plugin's ipMasq and kubelet wrote into iptables; kube-proxy's own rules
    go with ``kube-proxy --cleanup``. Pods killed without a CNI DEL leave their rules behind."""
    for iptables in ("iptables", "ip6tables"):
        for table in ("nat", "filter", "mangle"):
            listed = subprocess.run([iptables, "-t", table, "-S"], capture_output=True, text=True)
            chains = set()
            for rule in listed.stdout.splitlines():
                words = shlex.split(rule)
                if words[:1] != ["-A"]:
                    continue
                chain, target = words[1], words[words.index("-j") + 1] if "-j" in words else ""
                mine = any(f'name: "{network}"' in word for word in words)
                if chain.startswith("CNI-") and mine:
                    chains.add(chain)
                elif (mine or target in KUBELET_CHAINS) and not chain.startswith(("CNI-", "KUBE-")):
                    subprocess.run([iptables, "-t", table, "-D", *words[1:]], capture_output=True)
            for chain in (*chains, *KUBELET_CHAINS):
                subprocess.run([iptables, "-t", table, "-F", chain], capture_output=True)
                subprocess.run([iptables, "-t", table, "-X", chain], capture_output=True)


def down(layout: Layout) -> None:
    # kubelet first, so it does not restart what is stopped next.
    _stop(layout, "kubelet")
    _kill_containers(layout)
    _stop(layout, "containerd")
    for pid in _containerd_shims(layout):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _stop(layout, "kube-proxy")
    if (layout.root / "kube-proxy.yaml").exists() and Path(layout.binary("kube-proxy")).exists():
        # Remove the Service rules kube-proxy wrote into iptables.
        subprocess.run([layout.binary("kube-proxy"), "--cleanup"], capture_output=True, timeout=60)
    for name in ("coredns", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"):
        _stop(layout, name)
    _unmount_under(layout.root)
    _unmount_under(layout.image_store)
    # The CRI plugin's files of the containers deleted above (hostname, resolv.conf, ...).
    for kind in ("sandboxes", "containers"):
        subprocess.run(["rm", "-rf", str(layout.containerd_root / "io.containerd.grpc.v1.cri" / kind)], check=False)
    # Pod network namespaces containerd made, and the bridge; no pod runs any more.
    for netns in glob.glob("/run/netns/cni-*"):
        subprocess.run(["umount", netns], capture_output=True)
        Path(netns).unlink(missing_ok=True)
    subprocess.run(["ip", "link", "delete", "cni0"], capture_output=True)
    _remove_iptables_rules(node.NETWORK)
    ipam = layout.root / "cni" / "ipam"
    if ipam.exists():
        subprocess.run(["rm", "-rf", str(ipam)], check=False)
    for line in leftovers(layout):
        say(f"WARNING: still running: {line}")


PROCESSES = controlplane.PROCESSES + node.PROCESSES


def status(layout: Layout) -> dict[str, bool]:
    return {name: ManagedProcess(name, layout.root).running() for name in PROCESSES}
