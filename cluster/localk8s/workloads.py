"""What runs on the cluster: the images, storage, spark-operator and the stockpulse chart."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from . import node
from .layout import ROOT, Layout
from .tools import CommandError, apply, helm, kubectl, namespace, pinned_module_dir, say

CHART = ROOT / "charts" / "stockpulse"
LOCAL_VALUES = CHART / "values-local-cluster.yaml"
NAMESPACE = "stockpulse"
RELEASE = "stockpulse"
OPERATOR_NAMESPACE = "spark-operator"
STORAGE_CLASS = "local-hostpath"
VOLUMES = 8

PODMAN_ENV = {
    **os.environ,
    "CONTAINERS_CONF": str(ROOT / "cluster/podman/containers.conf"),
    "CONTAINERS_STORAGE_CONF": str(ROOT / "cluster/podman/storage.conf"),
}


def image_tag() -> str:
    for line in (CHART / "Chart.yaml").read_text().splitlines():
        if line.startswith("appVersion:"):
            return line.split(":", 1)[1].strip().strip('"')
    raise RuntimeError("Chart.yaml has no appVersion")


def podman_image_id(ref: str) -> str | None:
    result = subprocess.run(
        ["podman", "image", "inspect", "--format", "{{.Id}}", ref], capture_output=True, text=True, env=PODMAN_ENV
    )
    return result.stdout.strip() if result.returncode == 0 else None


def load_images(layout: Layout, names: list[str], tag: str) -> None:
    """Copy images from podman's storage into containerd's k8s.io namespace (pods use
    imagePullPolicy IfNotPresent/Never: no registry answers). An image whose podman id
    was loaded before is skipped."""
    stamps = layout.image_stamps
    stamps.mkdir(parents=True, exist_ok=True)
    for name in names:
        ref = f"localhost/stockpulse-{name}:{tag}"
        image_id = podman_image_id(ref)
        if image_id is None:
            raise CommandError(f"{ref} is not built: run make images")
        stamp = stamps / f"{name}-{tag}.id"
        if stamp.exists() and stamp.read_text() == image_id:
            continue
        _check_room(layout, ref)
        started = time.monotonic()
        save = subprocess.Popen(
            ["podman", "save", "--format", "docker-archive", ref], stdout=subprocess.PIPE, env=PODMAN_ENV
        )
        loaded = node.ctr(layout, "images", "import", "--no-unpack=false", "-", stdin=save.stdout, capture_output=True)
        save.stdout.close()
        if save.wait() != 0 or loaded.returncode != 0:
            raise CommandError(f"loading {ref} into containerd failed: {loaded.stderr.decode()[-2000:]}")
        stamp.write_text(image_id)
        say(f"loaded {ref} into containerd in {time.monotonic() - started:.0f} s")


#: containerd keeps an imported image twice (the archive's blobs and the unpacked
#: snapshot), and pods write into their own layer: room to leave beyond that.
DISK_MARGIN = 2 * 1024**3


def _check_room(layout: Layout, ref: str) -> None:
    """Fail before the import, with what to do, rather than halfway with ENOSPC."""
    inspected = subprocess.run(
        ["podman", "image", "inspect", "--format", "{{.Size}}", ref], capture_output=True, text=True, env=PODMAN_ENV
    )
    size = int(inspected.stdout.strip() or 0)
    free = shutil.disk_usage(layout.image_store).free
    if free < 2 * size + DISK_MARGIN:
        raise CommandError(
            f"loading {ref} needs about {(2 * size + DISK_MARGIN) / 1024**3:.1f} GiB free under {layout.root}, "
            f"{free / 1024**3:.1f} GiB is: remove superseded images (podman image prune) or an old "
            f"cluster's images (make k8s-down, then delete {layout.image_store})"
        )


def forget_built_image(layout: Layout, name: str, tag: str) -> None:
    """Drop a throwaway tag from podman (a test's changed image). containerd keeps its
    copy, which running pods may still need; it shares every layer but the config."""
    subprocess.run(["podman", "rmi", f"localhost/stockpulse-{name}:{tag}"], capture_output=True, env=PODMAN_ENV)
    (layout.image_stamps / f"{name}-{tag}.id").unlink(missing_ok=True)


def storage(layout: Layout) -> None:
    """A StorageClass and hostPath PersistentVolumes under .run/k8s/volumes: this cluster
    has no provisioner. Reclaim policy Retain: an uninstall keeps the data."""
    docs = [
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": STORAGE_CLASS},
            "provisioner": "kubernetes.io/no-provisioner",
            "volumeBindingMode": "WaitForFirstConsumer",
            "reclaimPolicy": "Retain",
        }
    ]
    for i in range(VOLUMES):
        path = layout.volumes_dir / f"pv-{i:02d}"
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o777)  # pods run as their own non-root uids; hostPath ignores fsGroup
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": f"local-pv-{i:02d}"},
                "spec": {
                    "storageClassName": STORAGE_CLASS,
                    "capacity": {"storage": "50Gi"},
                    "accessModes": ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": "Retain",
                    "hostPath": {"path": str(path), "type": "Directory"},
                },
            }
        )
    apply(layout, docs)


def spark_operator_chart() -> Path:
    """The spark-operator chart from the same Go module (and version) the CRDs come from."""
    module = pinned_module_dir("github.com/kubeflow/spark-operator/v2", "SPARK_OPERATOR_VERSION")
    return module / "charts" / "spark-operator-chart"


def install_spark_operator(layout: Layout, tag: str) -> None:
    say("installing spark-operator (controller and webhook)")
    # The operator's chart puts its job-namespace RBAC there: the namespace comes first.
    apply(layout, [namespace(NAMESPACE)])
    helm(
        layout,
        "upgrade",
        "--install",
        "spark-operator",
        str(spark_operator_chart()),
        "--namespace",
        OPERATOR_NAMESPACE,
        "--create-namespace",
        "--set",
        "image.registry=localhost",
        "--set",
        "image.repository=stockpulse-spark-operator",
        "--set",
        f"image.tag={tag}",
        "--set",
        "image.pullPolicy=Never",
        "--set",
        f"spark.jobNamespaces={{{NAMESPACE}}}",
        # The stockpulse chart brings the ingest's own ServiceAccount and Role.
        "--set",
        "spark.serviceAccount.create=false",
        "--set",
        "spark.rbac.create=false",
        "--set",
        "controller.workers=2",
        "--wait",
        "--timeout",
        "10m",
    )


def install_chart(layout: Layout, *extra: str) -> None:
    say(f"installing the stockpulse chart ({LOCAL_VALUES.relative_to(ROOT)})")
    helm(
        layout,
        "upgrade",
        "--install",
        RELEASE,
        str(CHART),
        "--namespace",
        NAMESPACE,
        "--create-namespace",
        "--values",
        str(LOCAL_VALUES),
        *extra,
        "--wait",
        "--timeout",
        "15m",
    )


def wait_ingest_running(layout: Layout, timeout: float = 600) -> None:
    """The streaming application is RUNNING, at least one executor pod runs, and its driver
    logged "ingest started": the tables exist and the query consumes, so an order placed now
    is in the lake after one micro-batch, not after the driver's start-up."""
    name = f"{RELEASE}-ingest"
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        state = kubectl(
            layout,
            "-n",
            NAMESPACE,
            "get",
            "sparkapplication",
            name,
            "-o",
            "jsonpath={.status.applicationState.state}",
            check=False,
        ).strip()
        executors = kubectl(
            layout,
            "-n",
            NAMESPACE,
            "get",
            "pods",
            "-l",
            f"spark-role=executor,sparkoperator.k8s.io/app-name={name}",
            "--field-selector=status.phase=Running",
            "-o",
            "name",
            check=False,
        ).split()
        if state == "PENDING_RERUN":
            _forget_dead_executors(layout, name)
        started = state == "RUNNING" and executors and INGEST_STARTED in _driver_log(layout, name)
        if started:
            _forget_dead_executors(layout, name)  # an earlier run's, failed when its node stopped
            return
        time.sleep(3)
    raise CommandError(
        f"SparkApplication {name} not RUNNING with an executor and a started query after {timeout:.0f} s "
        f"(state {state!r})"
    )


#: What the ingest driver logs once its streaming query runs (``jobs.ingest``).
INGEST_STARTED = '"message": "ingest started"'


def _forget_dead_executors(layout: Layout, name: str) -> None:
    """After ``k8s-down`` the API server still lists the last run's executor pods; their node
    restarted, so nothing will ever finish them, spark-operator waits for them to go before it
    resubmits the application (PENDING_RERUN), and failed ones would stay listed. They are
    gone: delete every executor of the application that is not running."""
    kubectl(
        layout,
        "-n",
        NAMESPACE,
        "delete",
        "pods",
        "-l",
        f"spark-role=executor,sparkoperator.k8s.io/app-name={name}",
        "--field-selector=status.phase!=Running",
        "--force",
        "--grace-period=0",
        check=False,
    )


def _driver_log(layout: Layout, name: str) -> str:
    return kubectl(layout, "-n", NAMESPACE, "logs", f"{name}-driver", "--tail=-1", check=False)


def sql(layout: Layout, query: str) -> str:
    """``stockpulse sql --json`` in the chart's lake-shell pod (a pod of the Spark image)."""
    return kubectl(
        layout,
        "-n",
        NAMESPACE,
        "exec",
        f"deploy/{RELEASE}-lake-shell",
        "--",
        "stockpulse",
        "sql",
        "--json",
        query,
        timeout=600,
    )


def access_notes(layout: Layout) -> str:
    k = f"kubectl --kubeconfig {layout.kubeconfig} -n {NAMESPACE}"
    return f"""
The local cluster runs (make k8s-down stops it).
  {k} get pods
API:
  {k} port-forward svc/{RELEASE}-api 8000:8000
  curl http://127.0.0.1:8000/stocks/AAPL
  curl -X POST -H 'Content-Type: application/json' -d '{{"side":"buy","quantity":3}}' http://127.0.0.1:8000/stocks/AAPL/orders
Lake:
  make k8s-sql Q="SELECT COUNT(*) AS n FROM stock_operation"
Locust (web UI):
  helm --kubeconfig {layout.kubeconfig} -n {NAMESPACE} upgrade {RELEASE} charts/stockpulse \\
    --reuse-values --set locust.enabled=true
  {k} port-forward svc/{RELEASE}-locust-master 8089:8089    # then open http://127.0.0.1:8089
"""
