"""The chart's Prometheus rules: promtool's checks and unit tests, a firing and a quiet case per alert."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml
from stockpulse.settings import PROJECT_ROOT

RULES_DIR = PROJECT_ROOT / "charts" / "stockpulse" / "rules"
RULES = RULES_DIR / "stockpulse.rules.yaml"
RULE_TESTS = RULES_DIR / "stockpulse.rules.test.yaml"
RUNBOOK = PROJECT_ROOT / "docs" / "observability.md"


def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool (Debian's prometheus package) is missing: run `make setup` as root"
    return found


def alerts() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_promtool_accepts_the_rules():
    result = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_pass():
    result = subprocess.run(
        [promtool(), "test", "rules", RULE_TESTS.name], cwd=RULES_DIR, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("alert", [rule["alert"] for rule in alerts()])
def test_every_alert_has_a_firing_and_a_quiet_case(alert):
    cases = [
        case
        for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case["alertname"] == alert
    ]
    assert any(case.get("exp_alerts") for case in cases), f"no case where {alert} fires"
    assert any(not case.get("exp_alerts") for case in cases), f"no case where {alert} stays quiet"


@pytest.mark.parametrize("rule", alerts(), ids=lambda rule: rule["alert"])
def test_every_alert_has_a_severity_and_a_runbook_section(rule):
    assert rule["labels"]["severity"] in ("critical", "warning")
    anchor = rule["annotations"]["runbook"].removeprefix("docs/observability.md#")
    headings = re.findall(r"^#+ (.+)$", RUNBOOK.read_text(), flags=re.MULTILINE)
    assert anchor in {h.strip().lower().replace(" ", "-").replace("`", "") for h in headings}, anchor
