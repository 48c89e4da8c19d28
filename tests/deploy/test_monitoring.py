"""The chart ships the same rules and dashboards the local stack's Prometheus runs and the tests evaluate."""

from __future__ import annotations

import json

import yaml

from tests.support.chart import CHART, render


def test_prometheusrule_is_the_rules_file_unchanged() -> None:
    rules = [d for d in render("all-on") if d["kind"] == "PrometheusRule"]
    assert len(rules) == 1
    assert rules[0]["metadata"]["labels"]["release"] == "prometheus"
    assert rules[0]["spec"] == yaml.safe_load((CHART / "rules" / "stockpulse.rules.yaml").read_text())


def test_prometheusrule_is_opt_in() -> None:
    assert not [d for d in render("default") if d["kind"] == "PrometheusRule"]
    off = render("all-on", ("--set", "monitoring.rules.enabled=false"))
    assert not [d for d in off if d["kind"] == "PrometheusRule"]


def test_every_dashboard_file_ships_in_a_sidecar_configmap() -> None:
    shipped = {
        key: json.loads(body)
        for d in render("all-on")
        if d["kind"] == "ConfigMap" and d["metadata"]["labels"].get("grafana_dashboard") == "1"
        for key, body in d["data"].items()
    }
    files = {path.name: json.loads(path.read_text()) for path in sorted((CHART / "dashboards").glob("*.json"))}
    assert set(files) == {"api.json", "pipeline.json", "business.json"}
    assert shipped == files
