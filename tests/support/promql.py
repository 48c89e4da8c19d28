"""The committed dashboards' and rules' PromQL, evaluated through a real Prometheus's HTTP API.

Shared by the local stack's observability test and the local cluster's: the same queries must
return data from the Prometheus of `make up` and from the operator-managed one in the cluster.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = sorted((ROOT / "charts" / "stockpulse" / "dashboards").glob("*.json"))
RULES = ROOT / "charts" / "stockpulse" / "rules" / "stockpulse.rules.yaml"


def prom(base: str, expr: str) -> dict:
    """The answer of Prometheus's instant query API (status, data or error) to ``expr``."""
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return json.loads(exc.read())


def dashboard_queries() -> list[tuple[str, str]]:
    """(dashboard/panel, expr) of every panel target in the committed dashboards."""
    out = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                out.append((f"{path.name}/{panel['title']}", target["expr"]))
    return out


def rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def grafana(expr: str, namespace: str) -> str:
    """``expr`` with Grafana's variables as a dashboard on ``namespace`` would fill them in."""
    for variable, value in {"$namespace": namespace, "$__rate_interval": "1m", "$__range": "15m"}.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"a Grafana variable the test does not know: {expr}"
    return expr


def evaluate(base: str, namespace: str) -> tuple[list[tuple], list[tuple]]:
    """(failed, empty): expressions Prometheus refused, and panel queries without a series."""
    empty, failed = [], []
    for where, expr in dashboard_queries():
        answer = prom(base, grafana(expr, namespace))
        if answer["status"] != "success":
            failed.append((where, expr, answer.get("error")))
        elif not answer["data"]["result"]:
            empty.append((where, expr))
    for rule in rules():
        answer = prom(base, rule["expr"])
        if answer["status"] != "success":
            failed.append((rule.get("record") or rule["alert"], rule["expr"], answer.get("error")))
    return failed, empty
