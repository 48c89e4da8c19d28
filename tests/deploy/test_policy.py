"""Restricted pod security and resource hygiene for every container the chart renders.

Covers Deployments, StatefulSets and Jobs (containers and init containers), the SparkApplication's
driver and executor, and the Strimzi containers the chart templates (Kafka, topic operator).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.support.chart import STRIMZI_VALUE_SETS, name_of, render, render_text

WORKLOADS = {"Deployment", "StatefulSet", "Job", "DaemonSet", "CronJob"}


def pod_specs(doc: dict) -> Iterator[dict]:
    if doc["kind"] == "CronJob":
        yield doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    elif doc["kind"] in WORKLOADS:
        yield doc["spec"]["template"]["spec"]


def containers(docs: list[dict]) -> Iterator[tuple[str, dict, dict]]:
    """(where, container, pod spec) for every container and init container.

    The pod spec gets a `_claims` key: names of the StatefulSet's volumeClaimTemplates.
    """
    for doc in docs:
        claims = {t["metadata"]["name"] for t in doc.get("spec", {}).get("volumeClaimTemplates", [])}
        for pod in pod_specs(doc):
            pod = {**pod, "_claims": claims}
            for key in ("initContainers", "containers"):
                for c in pod.get(key, []):
                    yield f"{name_of(doc)} {key}/{c['name']}", c, pod


def assert_restricted(where: str, ctx: dict, pod_ctx: dict) -> None:
    run_as_non_root = ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot"))
    assert run_as_non_root is True, f"{where}: runAsNonRoot"
    assert ctx.get("readOnlyRootFilesystem") is True, f"{where}: readOnlyRootFilesystem"
    assert ctx.get("allowPrivilegeEscalation") is False, f"{where}: allowPrivilegeEscalation"
    assert ctx.get("privileged", False) is False, f"{where}: privileged"
    assert "ALL" in ctx.get("capabilities", {}).get("drop", []), f"{where}: capabilities.drop ALL"
    assert not ctx.get("capabilities", {}).get("add"), f"{where}: capabilities.add"
    seccomp = ctx.get("seccompProfile", pod_ctx.get("seccompProfile", {}))
    assert seccomp.get("type") == "RuntimeDefault", f"{where}: seccompProfile"


def test_every_container_is_restricted_and_bounded(value_set: str) -> None:
    seen = 0
    for where, c, pod in containers(render(value_set)):
        seen += 1
        assert_restricted(where, c.get("securityContext", {}), pod.get("securityContext", {}))
        resources = c.get("resources", {})
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources.get(kind, {})), f"{where}: {kind}"
        assert not pod.get("hostNetwork") and not pod.get("hostPID"), where
        # writable directories are volumes, the root filesystem stays read-only
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for mount in c.get("volumeMounts", []):
            assert mount["name"] in volumes or mount["name"] in pod["_claims"], f"{where}: {mount['name']}"
    assert seen >= 3


def test_every_serving_container_has_probes(value_set: str) -> None:
    for where, c, _ in containers(render(value_set)):
        if "initContainers/" in where:
            assert "livenessProbe" not in c and "readinessProbe" not in c, where
            continue
        if c.get("ports"):
            assert "livenessProbe" in c and "readinessProbe" in c, f"{where} serves but has no probes"


def test_every_pod_sets_restricted_pod_security_context(value_set: str) -> None:
    for doc in render(value_set):
        for pod in pod_specs(doc):
            ctx = pod.get("securityContext", {})
            assert ctx.get("runAsNonRoot") is True, name_of(doc)
            assert ctx.get("seccompProfile", {}).get("type") == "RuntimeDefault", name_of(doc)
            assert isinstance(ctx.get("runAsUser"), int) and ctx["runAsUser"] > 0, name_of(doc)


def test_spark_driver_and_executor_are_restricted_and_bounded(value_set: str) -> None:
    apps = [d for d in render(value_set) if d["kind"] == "SparkApplication"]
    assert apps
    for app in apps:
        for role in ("driver", "executor"):
            spec = app["spec"][role]
            where = f"{name_of(app)} {role}"
            assert_restricted(where, spec.get("securityContext", {}), spec.get("podSecurityContext", {}))
            assert spec.get("podSecurityContext", {}).get("runAsNonRoot") is True, where
            assert spec.get("cores") or spec.get("coreRequest"), f"{where}: CPU request"
            assert spec.get("coreLimit"), f"{where}: CPU limit"
            assert spec.get("memory") and spec.get("memoryLimit"), f"{where}: memory request/limit"
            mounts = {m["mountPath"] for m in spec.get("volumeMounts", [])}
            assert "/tmp" in mounts, f"{where}: /tmp must be a volume with a read-only root filesystem"


@pytest.mark.parametrize("strimzi_set", STRIMZI_VALUE_SETS)
def test_strimzi_containers_are_restricted(strimzi_set: str) -> None:
    docs = render(strimzi_set)
    pool = next(d for d in docs if d["kind"] == "KafkaNodePool")
    kafka = next(d for d in docs if d["kind"] == "Kafka")
    template = pool["spec"]["template"]
    pod_ctx = template["pod"]["securityContext"]
    assert_restricted("KafkaNodePool kafka", template["kafkaContainer"]["securityContext"], pod_ctx)
    eo = kafka["spec"]["entityOperator"]["template"]
    topic_operator_ctx = eo["topicOperatorContainer"]["securityContext"]
    assert_restricted("Kafka topic-operator", topic_operator_ctx, eo["pod"]["securityContext"])
    for resources in (pool["spec"]["resources"], kafka["spec"]["entityOperator"]["topicOperator"]["resources"]):
        assert {"cpu", "memory"} <= set(resources["requests"]) and {"cpu", "memory"} <= set(resources["limits"])


def images(value_set: str) -> set[str]:
    found = set(re.findall(r"^\s*(?:- )?image: \"?([^\"\s]+)\"?\s*$", render_text(value_set), flags=re.M))
    assert found
    return found


def test_no_image_uses_latest_or_no_tag(value_set: str) -> None:
    for image in images(value_set):
        name = image.split("@")[0]
        last = name.rsplit("/", 1)[-1]
        assert ":" in last or "@sha256:" in image, f"{image}: untagged"
        assert not name.endswith(":latest"), f"{image}: latest"
    assert "latest" not in render_text(value_set).split()


def test_policy_check_catches_a_writable_root_filesystem() -> None:
    docs = render("default")
    where, c, pod = next(containers(docs))
    ctx = {k: v for k, v in c["securityContext"].items() if k != "readOnlyRootFilesystem"}
    try:
        assert_restricted(where, ctx, pod.get("securityContext", {}))
    except AssertionError as err:
        assert "readOnlyRootFilesystem" in str(err)
    else:
        raise AssertionError("assert_restricted accepted a container without readOnlyRootFilesystem")
