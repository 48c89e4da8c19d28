"""skaffold.yaml: schema-valid, builds every image the chart runs, deploys the chart with the built images."""

from __future__ import annotations

import copy
import json
import re

import jsonschema
import pytest
import yaml

from tests.support.chart import CHART, ROOT, SKAFFOLD_SCHEMA, render, tool_file

SKAFFOLD = ROOT / "skaffold.yaml"
EXPECTED_ARTIFACTS = {
    "stockpulse-api",
    "stockpulse-spark",
    "stockpulse-locust",
    "stockpulse-hive-metastore",
    "stockpulse-kafka",
    "stockpulse-postgres",
}
# Images of the local cluster itself (make images), which the chart does not run.
CLUSTER_ONLY = {
    "stockpulse-pause",
    "stockpulse-go-builder",
    "stockpulse-spark-operator",
    "stockpulse-prometheus-operator",
    "stockpulse-prometheus",
}


def config() -> dict:
    return yaml.safe_load(SKAFFOLD.read_text())


def schema_errors(doc: dict) -> list[str]:
    schema = json.loads(tool_file(SKAFFOLD_SCHEMA).read_text())
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def apply_patches(doc: dict, patches: list[dict]) -> dict:
    """The JSON-patch subset skaffold profiles here use (add/replace)."""
    doc = copy.deepcopy(doc)
    for patch in patches:
        *parents, last = patch["path"].strip("/").split("/")
        node = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if patch["op"] == "add" and last == "-":
            node.append(patch["value"])
        elif patch["op"] in {"add", "replace"}:
            node[int(last) if isinstance(node, list) else last] = patch["value"]
        else:
            raise AssertionError(f"unsupported patch op {patch['op']}")
    return doc


def release(doc: dict) -> dict:
    (rel,) = doc["deploy"]["helm"]["releases"]
    return rel


def test_skaffold_yaml_validates_against_the_skaffold_schema() -> None:
    doc = config()
    assert doc["apiVersion"] == "skaffold/v4beta13"
    assert schema_errors(doc) == []
    for profile in doc["profiles"]:
        patched = apply_patches(doc, profile.get("patches", []))
        assert schema_errors(patched) == [], profile["name"]


def test_skaffold_schema_check_rejects_a_misspelled_field() -> None:
    doc = config()
    doc["build"]["artifacts"][0]["docker"]["dockerFile"] = doc["build"]["artifacts"][0]["docker"].pop("dockerfile")
    assert schema_errors(doc)
    doc = config()
    release(doc)["setValueTemplate"] = release(doc).pop("setValueTemplates")
    assert schema_errors(doc)


def test_every_artifact_context_exists_with_its_dockerfile() -> None:
    artifacts = config()["build"]["artifacts"]
    assert {a["image"] for a in artifacts} == EXPECTED_ARTIFACTS
    for artifact in artifacts:
        context = ROOT / artifact.get("context", ".")
        assert context.is_dir(), artifact["image"]
        dockerfile = context / artifact.get("docker", {}).get("dockerfile", "Dockerfile")
        assert dockerfile.is_file(), f"{artifact['image']}: {dockerfile}"
        # component folder, image and artifact share one word
        assert dockerfile.parent.name == artifact["image"].removeprefix("stockpulse-")
    folders = {p.name for p in (ROOT / "images").iterdir() if (p / "Dockerfile").is_file()}
    assert {f"stockpulse-{f}" for f in folders} == EXPECTED_ARTIFACTS | CLUSTER_ONLY


def test_value_templates_use_each_artifact_and_name_real_values() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    templates = release(config())["setValueTemplates"]
    for key in templates:
        node = values
        for part in key.split("."):
            assert isinstance(node, dict) and part in node, f"{key} is not a chart value"
            node = node[part]
    used = set(re.findall(r"\{\{\s*\.IMAGE_(?:REPO|TAG)_(\w+)\s*\}\}", " ".join(templates.values())))
    assert used == {a.replace("-", "_") for a in EXPECTED_ARTIFACTS}


def fake_build_values(templates: dict[str, str]) -> tuple[list[str], set[str]]:
    """--set arguments with each template resolved as skaffold would, and the resulting image refs."""
    args, resolved = [], {}
    for key, template in templates.items():
        value = re.sub(r"\{\{\s*\.IMAGE_REPO_(\w+)\s*\}\}", r"registry.test/\1", template)
        value = re.sub(r"\{\{\s*\.IMAGE_TAG_(\w+)\s*\}\}", r"built-\1", value)
        assert "{{" not in value, f"{key}: unresolved template {template}"
        args += ["--set-string", f"{key}={value}"]
        resolved[key] = value
    images = {
        f"{resolved[k]}:{resolved[k.replace('.repository', '.tag')]}" for k in resolved if k.endswith(".repository")
    }
    return args, images


@pytest.mark.parametrize("profile", ["local", "gke"])
def test_every_image_the_chart_runs_is_built_by_skaffold(profile: str) -> None:
    doc = config()
    prof = next(p for p in doc["profiles"] if p["name"] == profile)
    rel = release(apply_patches(doc, prof.get("patches", [])))
    args, built = fake_build_values(rel["setValueTemplates"])
    for values_file in rel.get("valuesFiles", []):
        assert (ROOT / values_file).is_file(), values_file
        args += ["-f", str(ROOT / values_file)]
    for key, value in rel.get("setValues", {}).items():
        args += ["--set", f"{key}={str(value).lower() if isinstance(value, bool) else value}"]
    # everything on, so that every image the chart can run shows up (the Kafka image runs
    # in statefulset mode)
    args += ["-f", str(CHART / "ci" / "all-on-values.yaml"), "--set", "kafka.mode=statefulset"]
    docs = render("default", tuple(args))
    text = yaml.safe_dump_all(docs)
    used = set(re.findall(r"^\s*(?:- )?image: '?\"?([^'\"\s]+)", text, flags=re.M))
    assert used, "no image rendered"
    assert used <= built, f"images not built by skaffold: {used - built}"
    assert used == built, f"built but unused: {built - used}"


def test_port_forwards_reach_the_api_and_locust_ui() -> None:
    doc = config()
    rel = release(doc)
    forwards = {(f["resourceName"], f["port"], f["localPort"]) for f in doc["portForward"]}
    docs = render("all-on")
    services = {d["metadata"]["name"]: {p["port"] for p in d["spec"]["ports"]} for d in docs if d["kind"] == "Service"}
    assert rel["name"] == "stockpulse"  # render() uses the same release name
    for name, port, local in forwards:
        assert name in services and port in services[name], f"no Service {name}:{port}"
        assert local == port
    assert {p for _, p, _ in forwards} == {8000, 8089}
    assert all(f["namespace"] == rel["namespace"] for f in doc["portForward"])


def test_profiles_local_and_gke() -> None:
    profiles = {p["name"]: p for p in config()["profiles"]}
    assert {"local", "gke"} <= set(profiles)
    assert profiles["local"]["build"]["local"]["push"] is False
    assert profiles["gke"]["build"]["local"]["push"] is True
    gke = apply_patches(config(), profiles["gke"]["patches"])
    assert "charts/stockpulse/values-gke.yaml" in release(gke)["valuesFiles"]
