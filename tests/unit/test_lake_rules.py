"""Which rules version routes a batch: pure logic, no Spark."""

from __future__ import annotations

from stockpulse.lake.rules import RoutingRules, rules_for

V1 = RoutingRules(tickers=("GOOG",), version=1, from_batch=0)
V2 = RoutingRules(tickers=("GOOG", "NEWT"), version=2, from_batch=7)
V3 = RoutingRules(tickers=("NEWT",), version=3, from_batch=7)  # written by a later start before batch 7 ran


def test_a_batch_takes_the_newest_version_started_at_or_before_it():
    assert rules_for([V1, V2], 6) is V1
    assert rules_for([V1, V2], 7) is V2
    assert rules_for([V1, V2], 500) is V2
    assert rules_for([V1, V2, V3], 7) is V3


def test_batches_from_before_rules_were_kept_take_the_first_version():
    late = RoutingRules(tickers=("GOOG",), version=1, from_batch=40)
    assert rules_for([late], 12) is late


def test_version_and_first_batch_do_not_change_what_the_rules_accept():
    assert V1.same_checks(RoutingRules(tickers=("GOOG",)))
    assert not V1.same_checks(V2)
    assert RoutingRules.from_json(V2.to_json()) == V2
