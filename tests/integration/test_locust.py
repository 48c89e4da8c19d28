"""The locustfile against a real API (gunicorn + Kafka): headless runs end with no failure.

Short runs of what the acceptance asks for (``-u 50 -r 25 -t 30s`` against ``make up``),
judged from Locust's own ``--csv`` statistics.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.http import call, metrics_url

pytestmark = pytest.mark.integration

LOCUSTFILE = Path(__file__).resolve().parents[2] / "loadtest" / "locustfile.py"
LOCUST = str(Path(sys.executable).parent / "locust")


def run_locust(tmp_path: Path, host: str, *args: str, exit_code: int = 0, **env: str) -> dict[str, dict[str, str]]:
    """Run Locust headless; return its stats rows by request name (plus "Aggregated").

    Locust exits 1 when a request failed: ``exit_code`` says which code the run must end with.
    """
    prefix = tmp_path / "run"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LOCUST_", "STOCKPULSE_"))}
    result = subprocess.run(
        [
            LOCUST,
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--host",
            host,
            "--csv",
            str(prefix),
            "--only-summary",
            "--stop-timeout",
            "10",
            *args,
        ],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=90,
    )
    stats_file = Path(f"{prefix}_stats.csv")
    assert stats_file.exists(), result.stderr[-3000:]
    with stats_file.open() as fh:
        rows = {row["Name"]: row for row in csv.DictReader(fh)}
    assert result.returncode == exit_code, f"locust exit {result.returncode}: {result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return rows


def metric_sum(settings, prefix: str) -> float:
    """Sum of the API's Prometheus samples whose line starts with ``prefix`` (name, optionally with labels)."""
    text = call(metrics_url(settings), "GET", "/metrics").body
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))


def test_customers_check_buy_and_sell_without_a_failure(api, tmp_path):
    host = api.settings.api.url
    failed_before = metric_sum(api.settings, "stockpulse_events_failed_total")
    orders_before = metric_sum(api.settings, 'stockpulse_events_produced_total{topic="stock_operation"}')
    rows = run_locust(tmp_path, host, "-u", "20", "-r", "20", "-t", "8s", STOCKPULSE_WAIT="0.05,0.3")

    for name in ("/stocks/[ticker]", "/stocks/[ticker]/orders buy", "/stocks/[ticker]/orders sell"):
        assert name in rows, f"{name} missing from {sorted(rows)}"
        assert int(rows[name]["Request Count"]) > 0
        assert int(rows[name]["Failure Count"]) == 0
    total = rows["Aggregated"]
    assert int(total["Request Count"]) > 100
    assert int(total["Failure Count"]) == 0
    assert len(rows) == 4  # the ticker in the URL is grouped: one row per kind, plus "Aggregated"
    assert metric_sum(api.settings, "stockpulse_events_failed_total") == failed_before
    orders = int(rows["/stocks/[ticker]/orders buy"]["Request Count"]) + int(
        rows["/stocks/[ticker]/orders sell"]["Request Count"]
    )
    # every order Locust saw answered 201 was acknowledged by Kafka (orders still in flight when Locust
    # stopped its users were answered too, but are not in its statistics: hence >=)
    orders_after = metric_sum(api.settings, 'stockpulse_events_produced_total{topic="stock_operation"}')
    assert orders_after - orders_before >= orders


def test_seed_shape_replays_the_seed_script_on_the_seed_routes(api, tmp_path):
    rows = run_locust(
        tmp_path,
        api.settings.api.url,
        "-t",
        "20s",
        STOCKPULSE_LOAD_SHAPE="seed",
        STOCKPULSE_SEED_USERS="4",
        STOCKPULSE_SEED_DURATION="5",
        STOCKPULSE_MIX="check:2,buy:1,sell:1",
    )
    assert set(rows) <= {"/[ticker]", "/[ticker]/buy/[quantity]", "/[ticker]/sell/[quantity]", "Aggregated"}
    assert int(rows["Aggregated"]["Request Count"]) > 0
    assert int(rows["Aggregated"]["Failure Count"]) == 0
    assert "/[ticker]" in rows


def test_retrying_customers_record_every_answer_even_when_no_server_answers(tmp_path):
    """What the fault suite's books rest on: a refused connection is an answer too (status 0), recorded,
    and the order is sent again with the same key until the retry budget is spent."""
    from stockpulse_toolbox.devstack.process import free_port

    ledger = tmp_path / "answers.jsonl"
    rows = run_locust(
        tmp_path,
        f"http://127.0.0.1:{free_port()}",
        "-u",
        "2",
        "-r",
        "2",
        "-t",
        "3s",
        exit_code=1,
        STOCKPULSE_MIX="buy:1",
        STOCKPULSE_WAIT="0,0",
        STOCKPULSE_ORDER_RETRY_S="2",
        STOCKPULSE_LEDGER=str(ledger),
    )
    answers = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert answers and {a["status"] for a in answers} == {0}
    assert len(answers) >= int(rows["Aggregated"]["Request Count"])  # Locust stops counting at its run time
    by_key: dict[str, list[int]] = {}
    for answer in answers:
        by_key.setdefault(answer["key"], []).append(answer["attempt"])
    assert all(attempts == list(range(1, len(attempts) + 1)) for attempts in by_key.values())
    assert max(len(attempts) for attempts in by_key.values()) > 2, "retried with the same key"


def test_replayed_orders_get_their_first_answer_again(api, tmp_path):
    """A customer that lost its answer sends the same order again: the API replays the 201, and the
    locustfile checks it is the same answer (a difference would be a Locust failure, exit 1)."""
    ledger = tmp_path / "answers.jsonl"
    run_locust(
        tmp_path,
        api.settings.api.url,
        "-u",
        "4",
        "-r",
        "4",
        "-t",
        "4s",
        STOCKPULSE_MIX="buy:1,sell:1",
        STOCKPULSE_WAIT="0,0.1",
        STOCKPULSE_ORDER_REPLAY_SHARE="0.5",
        STOCKPULSE_LEDGER=str(ledger),
    )
    answers = [json.loads(line) for line in ledger.read_text().splitlines()]
    by_key: dict[str, list[dict]] = {}
    for answer in answers:
        by_key.setdefault(answer["key"], []).append(answer)
    replays = [a for a in answers if a["replayed"]]
    assert len(replays) >= 5, f"too few replays to prove anything: {len(replays)} of {len(answers)} answers"
    for key, sent in by_key.items():
        assert [a["status"] for a in sent] in ([201], [201, 201]), (key, sent)
        assert [a["replayed"] for a in sent] == [False, True][: len(sent)], (key, sent)
        assert len({a["order_id"] for a in sent}) == 1, (key, sent)
    # about half of the orders were sent twice
    assert 0.25 < len(replays) / len(by_key) < 0.75, (len(replays), len(by_key))
