"""Helpers for the deploy tests (chart, images, skaffold), all offline.

The tools come from `bash scripts/setup-k8s-tools.sh` (run by `make setup`) into
`.tools/` at the repo root. A missing tool fails the test with that hint: a
deploy check that silently skipped would hide a broken chart.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools"
BIN = TOOLS / "bin"
CRDS = TOOLS / "crds"
SKAFFOLD_SCHEMA = TOOLS / "schemas" / "skaffold-v4beta13.json"
CHART = ROOT / "charts" / "stockpulse"
VENV_BIN = ROOT / ".venv" / "bin"

# The value sets every chart check runs against: name -> helm arguments. The chart never
# makes up the metastore's database password (renders must be reproducible), so the
# default set passes one, as `helm install` on a small cluster would.
VALUE_SETS: dict[str, tuple[str, ...]] = {
    "default": ("--set", "postgresql.password=test-only"),
    "local-cluster": ("-f", str(CHART / "values-local-cluster.yaml")),
    "gke": ("-f", str(CHART / "values-gke.yaml")),
    "all-on": ("-f", str(CHART / "ci" / "all-on-values.yaml")),
    "all-on-headless": ("-f", str(CHART / "ci" / "all-on-values.yaml"), "--set", "locust.headless=true"),
}
# The value sets whose Kafka is Strimzi's (the local cluster runs a plain StatefulSet).
STRIMZI_VALUE_SETS = sorted(name for name in VALUE_SETS if name != "local-cluster")

# API groups whose objects are custom resources (validated against CRDs or typed models).
CUSTOM_GROUPS = {"kafka.strimzi.io", "sparkoperator.k8s.io", "monitoring.coreos.com"}

SETUP_HINT = "run `make setup` (or `bash scripts/setup-k8s-tools.sh`) to install the deploy tools into .tools/"


def tool(name: str) -> Path:
    """Path of a tool in .tools/bin (or the venv); fails the test when it is missing."""
    for directory in (BIN, VENV_BIN):
        path = directory / name
        if path.is_file() and os.access(path, os.X_OK):
            return path
    pytest.fail(f"{name} not found in {BIN}: {SETUP_HINT}", pytrace=False)


def tool_file(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"{path} is missing: {SETUP_HINT}", pytrace=False)
    return path


def run(args: list[str], *, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, input=stdin, cwd=ROOT, timeout=120, check=False
    )
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@functools.cache
def render_text(value_set: str, extra: tuple[str, ...] = ()) -> str:
    helm = tool("helm")
    proc = run([helm, "template", "stockpulse", CHART, "--namespace", "stockpulse", *VALUE_SETS[value_set], *extra])
    return proc.stdout


def render(value_set: str, extra: tuple[str, ...] = ()) -> list[dict]:
    """Rendered documents (fresh copies, safe to mutate)."""
    return [d for d in yaml.safe_load_all(render_text(value_set, extra)) if d]


def group(doc: dict) -> str:
    api_version = doc["apiVersion"]
    return api_version.split("/")[0] if "/" in api_version else ""


def core_docs(docs: list[dict]) -> list[dict]:
    return [d for d in docs if group(d) not in CUSTOM_GROUPS]


def name_of(doc: dict) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def dump(docs: list[dict], path: Path) -> Path:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path
