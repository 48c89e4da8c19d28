"""prometheus-operator and one Prometheus in namespace ``monitoring``, both from our images.

The operator's own example manifests (its Go module, at the version the chart's
ServiceMonitor/PodMonitor/PrometheusRule CRDs come from) with our images put in; the
Prometheus selects every monitor and rule labelled ``release: <MONITORING_RELEASE>``,
which is what the chart's ``monitoring.release`` sets on its objects.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from .layout import Layout
from .tools import apply, kubectl, namespace, pinned_module_dir, say

NAMESPACE = "monitoring"
MONITORING_RELEASE = "stockpulse-monitoring"
PROMETHEUS = "stockpulse"
#: images/prometheus builds this version from its Go module.
PROMETHEUS_VERSION = "v3.5.0"


def _module_dir() -> Path:
    return pinned_module_dir("github.com/prometheus-operator/prometheus-operator", "PROMETHEUS_OPERATOR_VERSION")


def _docs(folder: Path) -> list[dict]:
    docs = []
    for path in sorted(folder.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def _into_namespace(docs: list[dict]) -> None:
    """The examples name `default` or no namespace at all; everything goes to ours."""
    for doc in docs:
        if doc["kind"] not in ("ClusterRole", "ClusterRoleBinding"):
            doc["metadata"]["namespace"] = NAMESPACE
        for subject in doc.get("subjects", []):
            subject["namespace"] = NAMESPACE


def operator_manifests(module: Path, tag: str) -> list[dict]:
    image = f"localhost/stockpulse-prometheus-operator:{tag}"
    docs = [d for d in _docs(module / "example/rbac/prometheus-operator") if d["kind"] != "ServiceMonitor"]
    _into_namespace(docs)
    for doc in docs:
        if doc["kind"] == "Deployment":
            (container,) = doc["spec"]["template"]["spec"]["containers"]
            container["image"] = image
            container["imagePullPolicy"] = "Never"
            container["args"] = [
                f"--prometheus-config-reloader={image}" if a.startswith("--prometheus-config-reloader=") else a
                for a in container["args"]
            ]
    return docs


def prometheus_manifests(module: Path, tag: str) -> list[dict]:
    docs = [d for d in _docs(module / "example/rbac/prometheus") if d["kind"] != "Prometheus"]
    _into_namespace(docs)
    service_account = next(d["metadata"]["name"] for d in docs if d["kind"] == "ServiceAccount")
    selector = {"matchLabels": {"release": MONITORING_RELEASE}}
    docs.append(
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "Prometheus",
            "metadata": {"name": PROMETHEUS, "namespace": NAMESPACE},
            "spec": {
                "image": f"localhost/stockpulse-prometheus:{tag}",
                "version": PROMETHEUS_VERSION,
                "imagePullPolicy": "Never",
                "serviceAccountName": service_account,
                "replicas": 1,
                "scrapeInterval": "15s",
                "evaluationInterval": "15s",
                "retention": "1d",
                "serviceMonitorSelector": selector,
                "podMonitorSelector": selector,
                "ruleSelector": selector,
                "serviceMonitorNamespaceSelector": {},
                "podMonitorNamespaceSelector": {},
                "ruleNamespaceSelector": {},
                "resources": {"requests": {"cpu": "50m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": 65534,
                    "fsGroup": 65534,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
            },
        }
    )
    return docs


def install(layout: Layout, tag: str) -> None:
    say("installing prometheus-operator and a Prometheus")
    module = _module_dir()
    apply(layout, [namespace(NAMESPACE)])
    # The CRDs are too large for a client-side apply's last-applied annotation, and
    # kubectl reads them itself (PyYAML takes their `=` enum value for a YAML tag).
    kubectl(
        layout, "apply", "--server-side", "--force-conflicts", "-f", str(module / "example/prometheus-operator-crd")
    )
    kubectl(layout, "wait", "--for=condition=Established", "crd", "--all", "--timeout=120s")
    apply(layout, operator_manifests(module, tag))
    kubectl(layout, "-n", NAMESPACE, "rollout", "status", "deploy/prometheus-operator", "--timeout=300s")
    apply(layout, prometheus_manifests(module, tag))


def wait_prometheus(layout: Layout) -> None:
    """The operator made the StatefulSet and its pod is ready."""
    kubectl(layout, "-n", NAMESPACE, "wait", "--for=create", f"statefulset/prometheus-{PROMETHEUS}", "--timeout=300s")
    kubectl(layout, "-n", NAMESPACE, "rollout", "status", f"statefulset/prometheus-{PROMETHEUS}", "--timeout=300s")
