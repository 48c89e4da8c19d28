"""The insights view and snapshots: overwrite semantics, folding, windows, ranks, scores and signals.

Expected values are worked out by hand in each test, never by the code under test.
"""

from __future__ import annotations

import json

from stockpulse.events import STOCK_INSIGHTS, validation_errors
from stockpulse.insights.snapshot import build_snapshots, unusual
from stockpulse.insights.view import Bucket, InsightsView

T0 = 1_795_999_500_000  # a bucket (and 15-minute) boundary: divisible by 900_000
MIN = 60_000


def view(**kw) -> InsightsView:
    return InsightsView(kw.pop("tickers", ("AAA", "BBB", "CCC")), kw.pop("watermark_ms", 60_000), kw.pop("days", 7))


def test_a_bucket_emitted_again_replaces_its_totals_instead_of_adding():
    v = view()
    v.apply(0, [("AAA", T0, Bucket(checks=2, checkers=frozenset({"u1"})))])
    v.apply(1, [("AAA", T0, Bucket(checks=5, checkers=frozenset({"u1", "u2"})))])
    v.apply(1, [("AAA", T0, Bucket(checks=5, checkers=frozenset({"u1", "u2"})))])  # a replayed batch
    snap = build_snapshots(v, T0 + 5_000)["AAA"]
    assert snap["windows"]["1m"]["checks"] == 5
    assert snap["windows"]["1m"]["customers"] == 2


def test_windows_sum_their_buckets_and_compute_imbalance_customers_and_conversion():
    v = view()
    now = T0 + 30 * MIN + 5_000
    rows = [
        # 20 s ago: in every window
        ("AAA", T0 + 30 * MIN - 20_000, Bucket(checks=4, checkers=frozenset({"u1", "u2", "u3", "u4"}))),
        (
            "AAA",
            T0 + 30 * MIN - 10_000,
            Bucket(buy_orders=2, buy_shares=30, buy_amount=300.0, orderers=frozenset({"u1"})),
        ),
        # 10 minutes ago: in 15m and 1h only
        ("AAA", T0 + 20 * MIN, Bucket(sell_orders=1, sell_shares=10, sell_amount=95.5, orderers=frozenset({"u9"}))),
        # 40 minutes ago: in 1h only
        ("AAA", T0 - 10 * MIN, Bucket(checks=1, checkers=frozenset({"u5"}))),
    ]
    v.apply(0, rows)
    snap = build_snapshots(v, now)["AAA"]
    w1, w15, w60 = snap["windows"]["1m"], snap["windows"]["15m"], snap["windows"]["1h"]
    assert (w1["checks"], w1["buy_shares"], w1["sell_shares"], w1["orders"]) == (4, 30, 0, 2)
    assert w1["imbalance"] == 1.0
    assert w1["customers"] == 4 and w1["conversion"] == 0.25  # u1 of u1..u4 ordered
    assert (w15["buy_shares"], w15["sell_shares"], w15["orders"]) == (30, 10, 3)
    assert w15["imbalance"] == 0.5  # (30 - 10) / 40
    assert w15["sell_amount"] == 95.5 and w15["buy_amount"] == 300.0
    assert w15["customers"] == 5  # u1..u4 and u9
    assert (w60["checks"], w60["customers"]) == (5, 6)
    assert w60["conversion"] == 0.2  # 1 of 5 checkers ordered
    # windows end at as_of and start at a bucket boundary one window length back (current bucket included)
    assert w1["end"] == now and w1["start"] == T0 + 30 * MIN - 50_000


def test_attention_rank_orders_tickers_by_15_minute_checks_and_ties_share_a_rank():
    v = view()
    v.apply(0, [("AAA", T0, Bucket(checks=3)), ("BBB", T0, Bucket(checks=7)), ("CCC", T0, Bucket(checks=3))])
    snaps = build_snapshots(v, T0 + 1_000)
    assert {t: s["attention_rank"] for t, s in snaps.items()} == {"BBB": 1, "AAA": 2, "CCC": 2}
    assert [s["code"] for s in snaps["BBB"]["signals"]] == ["most_checked"]


def test_buckets_behind_the_watermark_fold_into_15_minute_history_once():
    v = view(watermark_ms=60_000)
    v.apply(0, [("AAA", T0 + 1 * MIN, Bucket(checks=2)), ("AAA", T0 + 16 * MIN, Bucket(checks=3, buy_orders=1))])
    # newest bucket T0+16m, watermark T0+15m: only the first window's bucket is final
    assert v.history == {("AAA", T0): 2}
    v.apply(1, [("AAA", T0 + 40 * MIN, Bucket(checks=1))])
    v.apply(2, [("AAA", T0 + 40 * MIN, Bucket(checks=1))])
    assert v.history == {("AAA", T0): 2, ("AAA", T0 + 15 * MIN): 4}
    # complete windows before T0+30m; BBB had no events in them: zeros
    assert v.baseline("AAA", T0 + 30 * MIN) == [2, 4]
    assert v.baseline("BBB", T0 + 30 * MIN) == [0, 0]


def test_the_unusual_score_is_a_z_score_with_a_poisson_floor():
    assert unusual(5, [])["score"] is None
    # mean 4, std 2 (values 2 and 6), sqrt(mean) = 2: (10 - 4) / 2
    assert unusual(10, [2, 6]) == {
        "score": 3.0,
        "events": 10,
        "baseline_mean": 4.0,
        "baseline_std": 2.0,
        "baseline_windows": 2,
    }
    # a perfectly regular history (std 0) is floored by sqrt(mean) = 3
    assert unusual(18, [9, 9, 9])["score"] == 3.0


def test_a_burst_is_flagged_unusual_and_its_buy_pressure_named():
    v = view(watermark_ms=10_000)
    history = [("AAA", T0 - k * 15 * MIN, Bucket(checks=2)) for k in range(1, 9)]
    history += [("BBB", T0 - k * 15 * MIN, Bucket(checks=2)) for k in range(1, 9)]
    v.apply(0, history)
    now = T0 + 2 * MIN
    v.apply(1, [("AAA", T0 + MIN, Bucket(buy_orders=30, buy_shares=300, sell_orders=5, sell_shares=100))])
    snaps = build_snapshots(v, now)
    aaa = snaps["AAA"]
    assert aaa["unusual"]["baseline_windows"] == 8 and aaa["unusual"]["baseline_mean"] == 2.0
    # 35 events against mean 2, spread max(0, sqrt 2, 1) = 1.41421...: (35 - 2) / sqrt(2)
    assert aaa["unusual"]["score"] == 23.3345
    codes = [s["code"] for s in aaa["signals"]]
    assert "unusual_attention" in codes and "buy_pressure" in codes
    assert "buyers outweigh sellers 3.0 to 1" in json.dumps(aaa["signals"])
    assert snaps["BBB"]["unusual"]["score"] == round((0 - 2) / 2**0.5, 4)


def test_snapshots_satisfy_the_contract_and_the_view_survives_a_save_and_load():
    v = view()
    v.apply(3, [("AAA", T0, Bucket(checks=1, buy_orders=1, buy_shares=5, buy_amount=50.0, orderers=frozenset({"u"})))])
    for snap in build_snapshots(v, T0 + 1_000).values():
        assert validation_errors(STOCK_INSIGHTS, snap) == []
    copy = view()
    copy.load_json(v.to_json())
    assert copy.buckets == v.buckets and copy.history == v.history and copy.batch_id == 3
    assert build_snapshots(copy, T0 + 1_000) == build_snapshots(v, T0 + 1_000)
