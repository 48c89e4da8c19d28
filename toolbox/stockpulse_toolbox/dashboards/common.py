"""What every stockpulse dashboard shares: the data source and namespace variables, panel builders.

Queries select ``namespace="$namespace"``: in a cluster every target has its namespace
label; the local stack's Prometheus gives its targets ``namespace="local"``. Rates use
Grafana's ``$__rate_interval``, which always spans enough scrapes for ``rate()``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from grafana_foundation_sdk.builders.bargauge import Panel as BarGauge
from grafana_foundation_sdk.builders.dashboard import Dashboard, DatasourceVariable, QueryVariable, Row
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.builders.stat import Panel as Stat
from grafana_foundation_sdk.builders.timeseries import Panel as Timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import BarGaugeDisplayMode, VizOrientation
from grafana_foundation_sdk.models.dashboard import DataSourceRef, VariableRefresh

DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
NS = 'namespace="$namespace"'
RATE = "$__rate_interval"

#: (PromQL, legend) of one query of a panel.
Query = tuple[str, str]


def percentiles(buckets: str, quantiles: Sequence[float], by: str = "") -> list[Query]:
    """``histogram_quantile`` queries of a histogram's ``_bucket`` selector, one per quantile (legend ``p95``)."""
    labels = f"le, {by}" if by else "le"
    suffix = f" {{{{{by}}}}}" if by else ""
    return [
        (f"histogram_quantile({q}, sum by ({labels}) (rate({buckets}[{RATE}])))", f"p{round(q * 100)}{suffix}")
        for q in quantiles
    ]


def dashboard(uid: str, title: str, description: str, namespace_metric: str) -> Dashboard:
    """A dashboard with the data source and namespace variables; ``namespace_metric`` lists the namespaces."""
    return (
        Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["stockpulse"])
        .refresh("30s")
        .time("now-1h", "now")
        .timezone("utc")
        .readonly()
        .with_variable(DatasourceVariable("datasource").label("Data source").type("prometheus"))
        .with_variable(
            QueryVariable("namespace")
            .label("Namespace")
            .datasource(DATASOURCE)
            .query(f"label_values({namespace_metric}, namespace)")
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        )
    )


def row(title: str) -> Row:
    return Row(title)


def _targets(queries: Sequence[Query], instant: bool = False) -> list[Dataquery]:
    targets = []
    for ref, (expr, legend) in zip("ABCDEFGH", queries, strict=False):
        target = Dataquery().expr(expr).legend_format(legend).ref_id(ref)
        targets.append(target.instant() if instant else target)
    return targets


def timeseries(title: str, description: str, unit: str, queries: Sequence[Query], width: int = 12) -> Timeseries:
    panel = Timeseries().title(title).description(description).datasource(DATASOURCE).unit(unit)
    return panel.targets(_targets(queries)).span(width).height(8)


def stat(title: str, description: str, unit: str, queries: Sequence[Query], width: int = 6) -> Stat:
    panel = Stat().title(title).description(description).datasource(DATASOURCE).unit(unit)
    return panel.targets(_targets(queries, instant=True)).span(width).height(4)


def bars(title: str, description: str, unit: str, queries: Sequence[Query], width: int = 12) -> BarGauge:
    panel = BarGauge().title(title).description(description).datasource(DATASOURCE).unit(unit)
    panel = panel.display_mode(BarGaugeDisplayMode.BASIC).orientation(VizOrientation.HORIZONTAL)
    return panel.targets(_targets(queries, instant=True)).span(width).height(8)


def as_json(board: Dashboard) -> dict[str, Any]:
    """The dashboard as Grafana's JSON model, with panel ids numbered in order (the SDK leaves them unset)."""
    model = json.loads(json.dumps(board.build(), cls=JSONEncoder))
    for number, panel in enumerate(model["panels"], start=1):
        panel["id"] = number
    return model
