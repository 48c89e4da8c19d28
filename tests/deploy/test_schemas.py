"""Every rendered object validates against its schema, offline.

- core objects: `kubernetes-validate --strict` (PyPI kubernetes-validate) for 1.31 and the newest version it ships;
- every object but Strimzi's: `kubectl-validate` (the API server's validation code, CEL rules included) for
  Kubernetes 1.35 with the SparkApplication (spark-operator) and ServiceMonitor/PodMonitor (prometheus-operator)
  CRDs taken from those projects' Go modules;
- Strimzi kafka.strimzi.io/v1 objects: decoded strictly into the typed models of github.com/scholzj/strimzi-go
  by tests/deploy/strimzi-check (unknown or misspelled fields rejected).

Each validator is also shown to fail on a misspelled field, so a green run means something.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from tests.support.chart import (
    CRDS,
    STRIMZI_VALUE_SETS,
    VENV_BIN,
    core_docs,
    dump,
    group,
    name_of,
    render,
    run,
    tool,
    tool_file,
)

KUBECTL_VALIDATE_VERSION = "1.35"


def newest_kubernetes_validate_version() -> str:
    import kubernetes_validate.utils as kv

    return kv.latest_version()


K8S_VERSIONS = ["1.31.0", newest_kubernetes_validate_version()]


def kubernetes_validate(docs: list[dict], version: str, tmp_path: Path) -> tuple[int, str]:
    path = dump(docs, tmp_path / f"core-{version}.yaml")
    exe = VENV_BIN / "kubernetes-validate"
    if not exe.exists():
        pytest.fail("kubernetes-validate is not installed in .venv: run `make setup`", pytrace=False)
    proc = run([exe, "--strict", "--quiet", "-k", version, path], check=False)
    return proc.returncode, proc.stdout + proc.stderr


def kubectl_validate(docs: list[dict], tmp_path: Path) -> dict[str, str]:
    """Failures by object name (empty when all pass)."""
    crds = tool_file(CRDS)
    exe = tool("kubectl-validate")
    files = {}
    for i, doc in enumerate(docs):
        files[name_of(doc)] = dump([doc], tmp_path / f"{i:03d}.yaml")
    proc = run(
        [exe, *files.values(), "--local-crds", crds, "--version", KUBECTL_VALIDATE_VERSION, "-o", "json"],
        check=False,
    )
    try:
        results = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"kubectl-validate output is not JSON ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    failures = {}
    for name, path in files.items():
        for status in results[str(path)]:
            if status.get("status") != "Success":
                failures[name] = status.get("message", str(status))
    return failures


def strimzi_check(docs: list[dict], tmp_path: Path) -> tuple[int, str]:
    path = dump(docs, tmp_path / "strimzi.yaml")
    proc = run([tool("strimzi-check"), path], check=False)
    return proc.returncode, proc.stdout + proc.stderr


def strimzi_docs(docs: list[dict]) -> list[dict]:
    return [d for d in docs if group(d) == "kafka.strimzi.io"]


def non_strimzi_docs(docs: list[dict]) -> list[dict]:
    return [d for d in docs if group(d) != "kafka.strimzi.io"]


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_core_objects_validate_strictly_with_kubernetes_validate(value_set: str, version: str, tmp_path) -> None:
    docs = core_docs(render(value_set))
    assert len(docs) >= 10
    rc, out = kubernetes_validate(docs, version, tmp_path)
    assert rc == 0, out


def test_objects_and_custom_resources_validate_with_kubectl_validate(value_set: str, tmp_path) -> None:
    docs = non_strimzi_docs(render(value_set))
    kinds = {d["kind"] for d in docs}
    assert "SparkApplication" in kinds
    if value_set.startswith("all-on"):
        assert "PodMonitor" in kinds
    assert kubectl_validate(docs, tmp_path) == {}


@pytest.mark.parametrize("strimzi_set", STRIMZI_VALUE_SETS)
def test_strimzi_resources_decode_strictly_into_typed_v1_models(strimzi_set: str, tmp_path) -> None:
    docs = strimzi_docs(render(strimzi_set))
    assert {d["kind"] for d in docs} == {"Kafka", "KafkaNodePool", "KafkaTopic"}
    rc, out = strimzi_check(docs, tmp_path)
    assert rc == 0, out
    assert f"{len(docs)} Strimzi documents checked, 0 failures" in out


# ---- each check fails on a misspelled field -------------------------------------------------------


def misspell(doc: dict, path: str, wrong: str) -> dict:
    """Copy of doc with the key at dotted path renamed to `wrong`."""
    doc = copy.deepcopy(doc)
    *parents, last = path.split(".")
    node = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[wrong] = node.pop(last)
    return doc


def find(docs: list[dict], kind: str) -> dict:
    return next(d for d in docs if d["kind"] == kind)


def test_kubernetes_validate_rejects_a_misspelled_field(tmp_path) -> None:
    docs = core_docs(render("default"))
    bad = misspell(find(docs, "Deployment"), "spec.template.spec.containers.0.readinessProbe", "readynessProbe")
    rc, out = kubernetes_validate([bad], K8S_VERSIONS[-1], tmp_path)
    assert rc != 0 and "readynessProbe" in out, out


@pytest.mark.parametrize(
    ("kind", "path", "wrong"),
    [
        ("SparkApplication", "spec.restartPolicy", "restartPolicies"),
        ("SparkApplication", "spec.driver.coreLimit", "coreLimits"),
        ("PodMonitor", "spec.podMetricsEndpoints", "podMetricEndpoints"),
        ("Deployment", "spec.template.spec.securityContext.runAsNonRoot", "runAsNonroot"),
    ],
)
def test_kubectl_validate_rejects_a_misspelled_field(kind: str, path: str, wrong: str, tmp_path) -> None:
    doc = find(render("all-on"), kind)
    failures = kubectl_validate([misspell(doc, path, wrong)], tmp_path)
    assert list(failures) == [name_of(doc)]
    assert wrong in failures[name_of(doc)]


@pytest.mark.parametrize(
    ("kind", "path", "wrong"),
    [
        ("Kafka", "spec.kafka.listeners", "listener"),
        ("KafkaNodePool", "spec.storage.volumes.0.kraftMetadata", "kraftmetadata"),
        ("KafkaTopic", "spec.partitions", "partition"),
    ],
)
def test_strimzi_check_rejects_a_misspelled_field(kind: str, path: str, wrong: str, tmp_path) -> None:
    doc = find(render("default"), kind)
    rc, out = strimzi_check([misspell(doc, path, wrong)], tmp_path)
    assert rc != 0
    assert re.search(rf"unknown field \"[^\"]*\b{wrong}\"", out), out


def test_strimzi_check_rejects_an_unknown_strimzi_kind(tmp_path) -> None:
    doc = copy.deepcopy(find(render("default"), "KafkaTopic"))
    doc["kind"] = "KafkaTopik"
    rc, out = strimzi_check([doc], tmp_path)
    assert rc != 0 and "KafkaTopik" in out


def test_kubectl_validate_rejects_a_value_outside_the_crd_enum(tmp_path) -> None:
    doc = copy.deepcopy(find(render("default"), "SparkApplication"))
    doc["spec"]["restartPolicy"]["type"] = "Allways"
    failures = kubectl_validate([doc], tmp_path)
    assert "Allways" in failures.get(name_of(doc), ""), failures
