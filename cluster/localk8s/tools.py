"""kubectl and helm against the local cluster, as the admin."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .layout import ROOT, Layout

HELM = ROOT / ".tools" / "bin" / "helm"


class CommandError(RuntimeError):
    pass


def run(argv: list[str], input: str | None = None, check: bool = True, timeout: float | None = None) -> str:
    result = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise CommandError(f"{' '.join(argv[:4])} ... failed ({result.returncode}): {result.stderr.strip()[-3000:]}")
    return result.stdout


def kubectl(layout: Layout, *args: str, input: str | None = None, check: bool = True, timeout: float = 600) -> str:
    return run([layout.binary("kubectl"), "--kubeconfig", str(layout.kubeconfig), *args], input, check, timeout)


def apply(layout: Layout, docs: list[dict]) -> None:
    """``kubectl apply`` of ``docs`` (objects as dicts), in one call."""
    kubectl(layout, "apply", "-f", "-", input="\n---\n".join(json.dumps(d) for d in docs))


def namespace(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def pinned_module_dir(module: str, version_variable: str) -> Path:
    """The Go module at the version ``scripts/setup-k8s-tools.sh`` pins in ``version_variable`` (the one
    the CRDs come from), from the module cache (``go mod download`` fetches it once)."""
    version = next(
        line.split('"')[1]
        for line in (ROOT / "scripts/setup-k8s-tools.sh").read_text().splitlines()
        if line.startswith(f"{version_variable}=")
    )
    return Path(json.loads(run(["go", "mod", "download", "-json", f"{module}@{version}"]))["Dir"])


def helm(layout: Layout, *args: str, timeout: float = 1800) -> str:
    if not HELM.exists():
        raise CommandError(f"{HELM} is missing: run make setup")
    return run([str(HELM), "--kubeconfig", str(layout.kubeconfig), *args], timeout=timeout)


def say(message: str) -> None:
    print(f"[k8s] {message}", file=sys.stderr, flush=True)
