"""The tool set-up itself: missing tools fail loudly, every version is pinned."""

from __future__ import annotations

import re

import pytest

from tests.support import chart
from tests.support.chart import ROOT

SCRIPT = ROOT / "scripts" / "setup-k8s-tools.sh"


def test_a_missing_tool_fails_with_the_setup_hint(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(chart, "BIN", tmp_path / "bin")
    monkeypatch.setattr(chart, "VENV_BIN", tmp_path / "venv-bin")
    with pytest.raises(pytest.fail.Exception, match="make setup"):
        chart.tool("helm")
    with pytest.raises(pytest.fail.Exception, match="make setup"):
        chart.tool_file(tmp_path / "crds")


def test_setup_script_pins_every_version() -> None:
    text = SCRIPT.read_text()
    assert "set -euo pipefail" in text
    versions = dict(re.findall(r"^([A-Z_]+_VERSION)=\"([^\"]+)\"", text, flags=re.M))
    assert {
        "KUBECTL_LAYER_VERSION",
        "KUBECTL_VALIDATE_VERSION",
        "SPARK_OPERATOR_VERSION",
        "PROMETHEUS_OPERATOR_VERSION",
        "SKAFFOLD_VERSION",
        "STRIMZI_GO_VERSION",
    } <= set(versions)
    for name, version in versions.items():
        assert re.match(r"^v?\d+\.\d+\.\d+", version), f"{name}={version} is not an exact version"
    assert not re.search(r"@(latest|main|master)\b", text)
    go_mod = (ROOT / "tests" / "deploy" / "strimzi-check" / "go.mod").read_text()
    assert f"github.com/scholzj/strimzi-go {versions['STRIMZI_GO_VERSION']}" in go_mod
    assert (ROOT / "tests" / "deploy" / "strimzi-check" / "go.sum").is_file()


def test_installed_tools_are_the_pinned_ones() -> None:
    helm = chart.tool("helm")
    out = chart.run([helm, "version", "--short"]).stdout
    assert out.startswith("v4.1.4"), out
    kubectl = chart.tool("kubectl")
    out = chart.run([kubectl, "version", "--client"]).stdout
    assert "v1.35.2" in out, out
