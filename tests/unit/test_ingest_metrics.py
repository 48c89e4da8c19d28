"""The ingest's metrics from progress events and batch counts, read back as Prometheus would."""

from __future__ import annotations

import http.server
import threading

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from stockpulse.jobs.ingest_metrics import IngestMetrics
from stockpulse.lake.batch_stats import BatchCounts
from stockpulse.lake.metastore_probe import call_answered, metastore_addresses, metastore_answers
from stockpulse_toolbox.devstack.process import free_port


def samples(metrics: IngestMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def get(metrics: IngestMetrics, name: str, **labels: str) -> float | None:
    return samples(metrics).get((name, tuple(sorted(labels.items()))))


@pytest.fixture
def metrics() -> IngestMetrics:
    return IngestMetrics(("GOOG", "AMZN"), metastore_uris=None, clock=lambda: 1_000.0)


def progress(start, end, latest, num_input_rows, **extra):
    source = {"description": "KafkaV2[Subscribe[stock_call]]", "startOffset": start, "endOffset": end}
    source["latestOffset"] = latest
    return {"batchId": 3, "numInputRows": num_input_rows, "sources": [source], **extra}


def test_records_and_rates_come_from_kafka_offsets_not_from_sparks_rescanned_row_count(metrics):
    metrics.observe_progress(
        progress(
            start='{"stock_call":{"0":10,"1":5}}',
            end='{"stock_call":{"0":20,"1":5}}',
            latest='{"stock_call":{"0":25,"1":5}}',
            num_input_rows=20,  # the writer scanned the 10 records twice
            inputRowsPerSecond=40.0,
            processedRowsPerSecond=10.0,
            durationMs={"triggerExecution": 1500},
        )
    )
    assert get(metrics, "stockpulse_ingest_input_rows_total") == 10
    assert get(metrics, "stockpulse_ingest_input_rows_per_second") == 20.0
    assert get(metrics, "stockpulse_ingest_processed_rows_per_second") == 5.0
    assert get(metrics, "stockpulse_ingest_offsets_behind_latest", topic="stock_call", partition="0") == 5
    assert get(metrics, "stockpulse_ingest_offsets_behind_latest", topic="stock_call", partition="1") == 0
    assert get(metrics, "stockpulse_ingest_batch_duration_seconds_count") == 1
    assert get(metrics, "stockpulse_ingest_batch_duration_seconds_sum") == 1.5
    assert get(metrics, "stockpulse_ingest_batch_duration_seconds_bucket", le="1.0") == 0
    assert get(metrics, "stockpulse_ingest_batch_duration_seconds_bucket", le="2.0") == 1


def test_a_new_checkpoints_first_batch_counts_from_offset_zero(metrics):
    metrics.observe_progress(
        progress(start=None, end={"stock_operation": {"0": 7}}, latest={"stock_operation": {"0": 9}}, num_input_rows=14)
    )
    assert get(metrics, "stockpulse_ingest_input_rows_total") == 7
    assert get(metrics, "stockpulse_ingest_offsets_behind_latest", topic="stock_operation", partition="0") == 2


def test_a_committed_batch_counts_rows_reasons_tickers_and_freshness(metrics):
    counts = BatchCounts(
        tables={"stock_call": 5, "stock_operation": 1, "quarantine": 2},
        quarantined={("stock_call", "unknown ticker"): 2},
        checks={"GOOG": 5},
        orders={("AMZN", "sell"): 1},
        event_times={"stock_call": [(999.8, 3), (940.0, 2)], "stock_operation": [(1_010.0, 1)]},
    )
    metrics.observe_batch(counts, committed_at=1_000.0)
    assert get(metrics, "stockpulse_ingest_rows_written_total", table="stock_call") == 5
    assert get(metrics, "stockpulse_ingest_rows_written_total", table="quarantine") == 2
    assert get(metrics, "stockpulse_ingest_quarantined_total", topic="stock_call", reason="unknown ticker") == 2
    assert get(metrics, "stockpulse_ingest_checks_total", ticker="GOOG") == 5
    assert get(metrics, "stockpulse_ingest_orders_total", ticker="AMZN", side="sell") == 1
    assert get(metrics, "stockpulse_ingest_last_commit_timestamp_seconds") == 1_000.0
    # ages 0.2 s (x3) and 60 s (x2); cumulative buckets as Prometheus reads them
    fresh = {
        le: get(metrics, "stockpulse_ingest_freshness_seconds_bucket", table="stock_call", le=le)
        for le in ("0.5", "30.0", "60.0", "+Inf")
    }
    assert fresh == {"0.5": 3, "30.0": 3, "60.0": 5, "+Inf": 5}
    assert get(metrics, "stockpulse_ingest_freshness_seconds_count", table="stock_call") == 5
    assert get(metrics, "stockpulse_ingest_freshness_seconds_sum", table="stock_call") == pytest.approx(120.6)
    # an event stamped after the commit (clock skew) counts as fresh, not as negative
    assert get(metrics, "stockpulse_ingest_freshness_seconds_bucket", table="stock_operation", le="0.5") == 1


def test_known_label_values_exist_at_zero_before_any_batch(metrics):
    assert get(metrics, "stockpulse_ingest_checks_total", ticker="AMZN") == 0
    assert get(metrics, "stockpulse_ingest_orders_total", ticker="GOOG", side="buy") == 0
    assert get(metrics, "stockpulse_ingest_rows_written_total", table="stock_operation") == 0
    assert get(metrics, "stockpulse_ingest_freshness_seconds_count", table="stock_operation") == 0
    assert get(metrics, "stockpulse_ingest_last_progress_timestamp_seconds") == 1_000.0
    assert get(metrics, "stockpulse_metastore_reachable") is None  # no metastore configured, no probe


def test_serve_answers_on_the_given_port(metrics):
    import urllib.request

    host, port, stop = metrics.serve("127.0.0.1:0")
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as resp:
            assert b"stockpulse_ingest_rows_written_total" in resp.read()
    finally:
        stop()


def test_metastore_uris_are_parsed_like_hives_list():
    assert metastore_addresses("thrift://a:9083, thrift://b") == [("a", 9083), ("b", 9083)]
    assert metastore_addresses("") == []


def test_the_probe_fails_where_no_thrift_service_answers():
    assert not call_answered("127.0.0.1", free_port(), timeout=1.0)  # nothing listens

    class Http(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # pragma: no cover - the probe never sends a valid HTTP request
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Http)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert not metastore_answers(f"thrift://127.0.0.1:{server.server_port}", timeout=2.0)
    finally:
        server.shutdown()
        server.server_close()
