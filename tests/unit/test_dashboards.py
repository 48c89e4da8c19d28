"""Dashboards as code: the committed JSON is what the code renders, and every query is scoped and documented."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from stockpulse.settings import PROJECT_ROOT
from stockpulse_toolbox.dashboards.render import DASHBOARDS, OUT_DIR, rendered, stale

STOCKPULSE = str(Path(sys.executable).parent / "stockpulse")
METRIC = re.compile(r"\b((?:stockpulse|kafka)_[a-z0-9_]+)")
RECORDED = re.compile(r"\bnamespace:[a-z0-9_]+:[a-z0-9_]+")
RULES = PROJECT_ROOT / "charts" / "stockpulse" / "rules" / "stockpulse.rules.yaml"


def panels(name: str) -> list[dict]:
    return [p for p in json.loads(rendered()[f"{name}.json"])["panels"] if p["type"] != "row"]


def test_committed_dashboards_are_what_the_code_renders():
    assert stale() == [], "run `.venv/bin/stockpulse dashboards` and commit charts/stockpulse/dashboards/"


def test_check_fails_on_a_hand_edited_or_unknown_file(tmp_path):
    for path in OUT_DIR.glob("*.json"):
        shutil.copy(path, tmp_path / path.name)
    ok = subprocess.run([STOCKPULSE, "dashboards", "--check", "--out", str(tmp_path)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    edited = tmp_path / "api.json"
    edited.write_text(edited.read_text().replace("Requests per second", "Requests a second"))
    (tmp_path / "ingest.json").write_text("{}")
    bad = subprocess.run([STOCKPULSE, "dashboards", "--check", "--out", str(tmp_path)], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "api.json" in bad.stdout and "ingest.json" in bad.stdout and "business.json" not in bad.stdout


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_panel_queries_the_chosen_data_source_and_namespace(name):
    board = json.loads(rendered()[f"{name}.json"])
    assert board["uid"] == f"stockpulse-{name}"
    assert [v["name"] for v in board["templating"]["list"]] == ["datasource", "namespace"]
    namespaces = board["templating"]["list"][1]["query"]
    assert re.fullmatch(r"label_values\(\w+, namespace\)", namespaces), namespaces  # not filtered by itself
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in panels(name):
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"] and panel["description"], panel["title"]
        for target in panel["targets"]:
            selectors = re.findall(r"\{([^}]*)\}", re.sub(r"\{\{[^}]*\}\}", "", target["expr"]))
            assert selectors and all('namespace="$namespace"' in s for s in selectors), target["expr"]


def exprs() -> list[str]:
    return [t["expr"] for name in DASHBOARDS for p in panels(name) for t in p["targets"]]


def test_every_metric_the_dashboards_and_rules_use_is_documented():
    text = "\n".join([*exprs(), RULES.read_text()])
    used = {re.sub(r"_(bucket|count|sum)$", "", m) for m in METRIC.findall(RECORDED.sub("", text))}
    used |= set(RECORDED.findall(text))
    documented = (PROJECT_ROOT / "docs" / "observability.md").read_text()
    assert sorted(m for m in used if f"`{m}" not in documented) == []


def test_recorded_series_the_dashboards_use_are_recorded_by_the_rules():
    recorded = set(re.findall(r"^\s*- record: (\S+)$", RULES.read_text(), flags=re.MULTILINE))
    used = {m for expr in exprs() for m in RECORDED.findall(expr)}
    assert used and used <= recorded
