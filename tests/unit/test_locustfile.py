"""The locustfile's pure parts: configuration, Zipf popularity, the seed burst and shape.

The locustfile is a black-box client, so it is imported by path (it is no package module),
and with Locust's gevent monkey-patching off: patching this test process would change
threads and sockets under every other test in the session.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import sys
from collections import Counter
from pathlib import Path

import pytest

LOCUSTFILE = Path(__file__).resolve().parents[2] / "loadtest" / "locustfile.py"


def load_locustfile(monkeypatch, name: str, **env: str):
    """A fresh copy of the locustfile module, read under ``env``."""
    monkeypatch.setenv("LOCUST_SKIP_MONKEY_PATCH", "1")  # read by the first `import locust` of the process
    for key in [k for k in os.environ if k.startswith("STOCKPULSE_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    spec = importlib.util.spec_from_file_location(name, LOCUSTFILE)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def lf(monkeypatch):
    return load_locustfile(monkeypatch, "stockpulse_locustfile")


def test_locustfile_imports_nothing_from_stockpulse():
    source = LOCUSTFILE.read_text()
    assert "import stockpulse" not in source and "from stockpulse" not in source


def test_defaults_are_the_seeds_twelve_tickers_and_a_check_heavy_mix(lf):
    config = lf.load_config({})
    seed = "MSFT,AAPL,AMZN,GOOG,BABA,FB,INTC,NVDA,CRM,PYPL,TSLA,AMD"
    assert config.tickers == tuple(seed.split(","))
    weights = config.weights
    assert weights["check"] > weights["buy"] + weights["sell"] + weights["burst"]
    assert weights["buy"] > 0 and weights["sell"] > 0 and weights["burst"] > 0
    assert config.shape == ""


def test_config_reads_every_stockpulse_variable(lf):
    config = lf.load_config(
        {
            "STOCKPULSE_TICKERS": " aapl, tsla ,AAPL",
            "STOCKPULSE_ZIPF_S": "0",
            "STOCKPULSE_MIX": "check:5, sell:1",
            "STOCKPULSE_WAIT": "0,0.5",
            "STOCKPULSE_SESSION_TASKS": "2,3",
            "STOCKPULSE_LOAD_SHAPE": "SEED",
            "STOCKPULSE_SEED_USERS": "3",
            "STOCKPULSE_SEED_DURATION": "12.5",
            "STOCKPULSE_ORDER_RETRY_S": "90",
            "STOCKPULSE_ORDER_REPLAY_SHARE": "0.25",
            "STOCKPULSE_LEDGER": "/tmp/answers.jsonl",
        }
    )
    assert config.tickers == ("AAPL", "TSLA")
    assert config.zipf_s == 0
    assert config.weights == {"check": 5, "buy": 0, "sell": 1, "burst": 0}
    assert config.wait == (0.0, 0.5)
    assert config.session_tasks == (2, 3)
    assert (config.shape, config.seed_users, config.seed_duration) == ("seed", 3, 12.5)
    assert (config.order_retry_s, config.ledger) == (90.0, "/tmp/answers.jsonl")
    assert config.order_replay_share == 0.25


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("STOCKPULSE_TICKERS", " , "),
        ("STOCKPULSE_TICKERS", "AAPL,<script>"),
        ("STOCKPULSE_ZIPF_S", "steep"),
        ("STOCKPULSE_ZIPF_S", "-1"),
        ("STOCKPULSE_MIX", "check:0,buy:0"),
        ("STOCKPULSE_MIX", "check=80"),
        ("STOCKPULSE_MIX", "hold:3"),
        ("STOCKPULSE_WAIT", "2,1"),
        ("STOCKPULSE_WAIT", "1"),
        ("STOCKPULSE_SESSION_TASKS", "0,4"),
        ("STOCKPULSE_LOAD_SHAPE", "spike"),
        ("STOCKPULSE_SEED_USERS", "0"),
        ("STOCKPULSE_SEED_DURATION", "-3"),
        ("STOCKPULSE_ORDER_RETRY_S", "soon"),
        ("STOCKPULSE_ORDER_RETRY_S", "-1"),
        ("STOCKPULSE_ORDER_REPLAY_SHARE", "half"),
        ("STOCKPULSE_ORDER_REPLAY_SHARE", "1.5"),
        ("STOCKPULSE_ORDER_REPLAY_SHARE", "-0.1"),
    ],
)
def test_malformed_variable_is_rejected_with_its_name(lf, variable, value):
    with pytest.raises(lf.ConfigError, match=variable):
        lf.load_config({variable: value})


def test_zipf_weights_follow_one_over_rank_to_the_s(lf):
    weights = lf.zipf_weights(4, 1.0)
    total = 1 + 1 / 2 + 1 / 3 + 1 / 4
    assert weights == pytest.approx([1 / total, 0.5 / total, (1 / 3) / total, 0.25 / total])
    assert lf.zipf_weights(5, 0) == pytest.approx([0.2] * 5)
    steep = lf.zipf_weights(12, 2.0)
    assert sum(steep) == pytest.approx(1.0)
    assert steep[0] / steep[1] == pytest.approx(4.0)
    with pytest.raises(ValueError):
        lf.zipf_weights(0, 1.0)


def test_ticker_picker_prefers_the_first_tickers(lf):
    picker = lf.TickerPicker(["A", "B", "C", "D"], 1.5, random.Random(3))
    counts = Counter(picker.pick() for _ in range(20_000))
    assert counts["A"] > counts["B"] > counts["C"] > counts["D"] > 0
    expected = lf.zipf_weights(4, 1.5)[0] * 20_000
    assert abs(counts["A"] - expected) < 0.05 * 20_000


def test_seed_burst_matches_the_seed_script_ranges(lf):
    rng = random.Random(11)
    tickers = lf.SEED_TICKERS
    bursts = [lf.plan_seed_burst(rng, tickers, {"check": 1, "buy": 1, "sell": 1}) for _ in range(3000)]
    assert {b.requests for b in bursts} == set(range(1, 11))
    assert {b.quantity for b in bursts} == set(range(1, 51))
    assert {b.ticker for b in bursts} == set(tickers)
    assert {b.action for b in bursts} == {"check", "buy", "sell"}
    checks_only = {lf.plan_seed_burst(rng, tickers, {"check": 1, "buy": 0, "sell": 0}).action for _ in range(200)}
    assert checks_only == {"check"}


def test_without_a_shape_only_the_customers_run(lf):
    from locust.util.load_locustfile import is_shape_class, is_user_class

    assert is_user_class(lf.Customer)
    assert not is_user_class(lf.SeedCustomer)
    assert not is_shape_class(lf.SeedShape)
    task_names = {t.__name__ for t in lf.Customer.tasks}
    assert task_names == {"check_quote", "buy", "sell", "burst"}
    assert Counter(t.__name__ for t in lf.Customer.tasks)["check_quote"] == 80


def test_seed_shape_runs_its_users_until_the_duration_then_stops(monkeypatch):
    from locust.util.load_locustfile import is_shape_class, is_user_class

    lf = load_locustfile(
        monkeypatch,
        "stockpulse_locustfile_seed",
        STOCKPULSE_LOAD_SHAPE="seed",
        STOCKPULSE_SEED_USERS="2",
        STOCKPULSE_SEED_DURATION="30",
    )
    assert is_shape_class(lf.SeedShape)
    assert is_user_class(lf.SeedCustomer) and not is_user_class(lf.Customer)
    shape = lf.SeedShape()
    assert shape.tick_at(0) == (2, 2.0, [lf.SeedCustomer])
    assert shape.tick_at(29.9) == (2, 2.0, [lf.SeedCustomer])
    assert shape.tick_at(30) is None
    assert shape.tick() == (2, 2.0, [lf.SeedCustomer])  # just started


def test_seed_shape_without_a_duration_leaves_the_end_to_locust(monkeypatch):
    lf = load_locustfile(monkeypatch, "stockpulse_locustfile_seed_open", STOCKPULSE_LOAD_SHAPE="seed")
    assert lf.SeedShape().tick_at(86_400) == (1, 1.0, [lf.SeedCustomer])


@pytest.mark.parametrize(
    ("status", "retry_after", "waited", "delay"),
    [
        (504, "1", 0.0, 1.0),  # in doubt: same key again after Retry-After
        (503, "2", 10.0, 2.0),  # refused before anything was sent
        (409, "30", 0.0, 5.0),  # an attempt in progress: waits are capped
        (0, None, 0.0, 0.5),  # no answer at all (connection refused or reset)
        (504, "bogus", 0.0, 0.5),
        (504, "10", 57.0, 3.0),  # never past the budget
        (504, "1", 60.0, None),  # budget spent: the last answer stands
        (201, None, 0.0, None),
        (422, None, 0.0, None),
        (500, None, 0.0, None),
    ],
)
def test_orders_are_retried_only_while_their_outcome_is_open(lf, status, retry_after, waited, delay):
    assert lf.retry_delay(status, retry_after, waited, 60.0) == delay


def test_ledger_appends_one_json_line_per_answer(lf, tmp_path):
    path = tmp_path / "answers.jsonl"
    ledger = lf.Ledger(str(path))
    ledger.record(kind="order", status=504, order_id="o-1")
    ledger.record(kind="check", status=200)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(a["kind"], a["status"]) for a in lines] == [("order", 504), ("check", 200)]
    assert all(isinstance(a["t"], float) for a in lines)
    lf.Ledger("").record(kind="check", status=200)  # no ledger: nothing written, no error
