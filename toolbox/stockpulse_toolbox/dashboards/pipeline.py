"""The pipeline dashboard: Kafka in, the streaming ingest's rate, lag, batches, freshness and quarantine."""

from __future__ import annotations

from grafana_foundation_sdk.builders.dashboard import Dashboard

from .common import NS, RATE, dashboard, percentiles, row, stat, timeseries

UID = "stockpulse-pipeline"
FRESHNESS = f"stockpulse_ingest_freshness_seconds_bucket{{{NS}}}"
BATCHES = f"stockpulse_ingest_batch_duration_seconds_bucket{{{NS}}}"


def kafka_messages_in():
    return timeseries(
        "Kafka messages in per topic",
        "Records the brokers appended (JMX exporter, Strimzi's metric names).",
        "ops",
        [
            (
                f'sum by (topic) (rate(kafka_server_brokertopicmetrics_messagesin_total{{{NS},topic!=""}}[{RATE}]))',
                "{{topic}}",
            )
        ],
    )


def ingest_rate():
    return timeseries(
        "Ingest rows per second",
        "Kafka records read by the streaming query, and its last micro-batch's input and processing rates.",
        "rowsps",
        [
            (f"sum(rate(stockpulse_ingest_input_rows_total{{{NS}}}[{RATE}]))", "read"),
            (f"max(stockpulse_ingest_input_rows_per_second{{{NS}}})", "input (last batch)"),
            (f"max(stockpulse_ingest_processed_rows_per_second{{{NS}}})", "processed (last batch)"),
        ],
    )


def lag():
    return timeseries(
        "Lag: records not yet read, per topic",
        "Kafka records after the last micro-batch's end offset, at that batch's start (offsetsBehindLatest).",
        "short",
        [(f"sum by (topic) (stockpulse_ingest_offsets_behind_latest{{{NS}}})", "{{topic}}")],
    )


def batch_duration():
    return timeseries(
        "Micro-batch duration",
        "Wall time of a micro-batch, from the query's progress.",
        "s",
        percentiles(BATCHES, (0.5, 0.95)),
    )


def since_commit():
    return stat(
        "Since the last commit",
        "Seconds since a micro-batch was committed (idle is normal when Kafka has no new records).",
        "s",
        [(f"time() - max(stockpulse_ingest_last_commit_timestamp_seconds{{{NS}}})", "commit")],
    )


def since_heartbeat():
    return stat(
        "Since the last heartbeat",
        "Seconds since the query reported a batch or an idle trigger; over 300 s is a stall.",
        "s",
        [(f"time() - max(stockpulse_ingest_last_progress_timestamp_seconds{{{NS}}})", "heartbeat")],
    )


def freshness():
    return timeseries(
        "Freshness percentiles per table",
        "Commit time minus event time of the events landed: how long a request takes to reach the lake.",
        "s",
        percentiles(FRESHNESS, (0.5, 0.99), by="table"),
    )


def freshness_slo():
    return stat(
        "Freshness (SLO 99 % within 60 s)",
        "Share of the events of the last hour that reached the lake within 60 s.",
        "percentunit",
        [(f"1 - namespace:stockpulse_ingest_late_events:ratio_rate1h{{{NS}}}", "1h")],
    )


def metastore():
    return stat(
        "Metastore reachable",
        "1 when the Hive metastore answered the ingest's thrift call at the last scrape.",
        "bool_yes_no",
        [(f"min(stockpulse_metastore_reachable{{{NS}}})", "metastore")],
    )


def rows_written():
    return timeseries(
        "Rows per second per table",
        "Records routed to each table, quarantine included.",
        "rowsps",
        [(f"sum by (table) (rate(stockpulse_ingest_rows_written_total{{{NS}}}[{RATE}]))", "{{table}}")],
    )


def quarantine():
    return timeseries(
        "Quarantined per second by reason",
        "Records that failed validation, by topic and the first reason's kind; the quarantine table has them whole.",
        "rowsps",
        [
            (
                f"sum by (topic, reason) (rate(stockpulse_ingest_quarantined_total{{{NS}}}[{RATE}]))",
                "{{topic}}: {{reason}}",
            )
        ],
    )


def build() -> Dashboard:
    return (
        dashboard(
            UID,
            "stockpulse / pipeline",
            "Kafka to the lake: the streaming ingest's rate, lag, batches, freshness and quarantine.",
            "stockpulse_ingest_last_progress_timestamp_seconds",
        )
        .with_row(row("Health"))
        .with_panel(since_heartbeat())
        .with_panel(since_commit())
        .with_panel(freshness_slo())
        .with_panel(metastore())
        .with_row(row("Flow"))
        .with_panel(kafka_messages_in())
        .with_panel(ingest_rate())
        .with_panel(lag())
        .with_panel(batch_duration())
        .with_row(row("Landing"))
        .with_panel(freshness())
        .with_panel(rows_written())
        .with_panel(quarantine())
    )
