"""The demo: its lake check compares ids (one loss and one duplicate cannot cancel out), and
it stops the stack it started."""

from __future__ import annotations

import contextlib

from stockpulse_toolbox.demo.run import audit


def test_a_loss_and_a_duplicate_with_equal_counts_are_both_found():
    acknowledged = {"stock_call": ["a", "b", "c"], "stock_operation": ["o1"]}
    in_lake = {"stock_call": ["a", "a", "c"], "stock_operation": ["o1"]}  # b lost, a twice: still 3 rows
    found = audit(acknowledged, in_lake)
    assert not found.exactly_once
    assert found.missing == {"stock_call": ["b"], "stock_operation": []}
    assert found.duplicated == {"stock_call": ["a"], "stock_operation": []}


def test_every_id_once_is_exactly_once_and_extra_rows_are_only_counted():
    acknowledged = {"stock_call": ["a", "b"], "stock_operation": ["o1"]}
    in_lake = {"stock_call": ["b", "a"], "stock_operation": ["o1", "o2"]}  # o2: an order answered 504 that landed
    found = audit(acknowledged, in_lake)
    assert found.exactly_once
    assert found.unacknowledged == {"stock_call": 0, "stock_operation": 1}


def test_an_empty_lake_misses_everything():
    found = audit({"stock_call": ["a"]}, {})
    assert found.missing["stock_call"] == ["a"] and not found.exactly_once


def _demo_that_fails_at_start(monkeypatch, keep_running: bool) -> list[str]:
    """The demo with a stack whose start fails: what it did to the stack afterwards."""
    from stockpulse.settings import load_settings
    from stockpulse_toolbox.demo import run

    calls: list[str] = []

    def up(settings, before=None):
        calls.append("up")
        raise RuntimeError("kafka did not start")

    monkeypatch.setattr(run.stack, "up", up)
    monkeypatch.setattr(run.stack, "down", lambda settings: calls.append("down"))
    with contextlib.suppress(RuntimeError):
        run.demo(load_settings({}), sessions=1, keep_running=keep_running)
    return calls


def test_the_demo_stops_the_stack_it_started_even_when_it_fails(monkeypatch):
    assert _demo_that_fails_at_start(monkeypatch, keep_running=False) == ["up", "down"]


def test_keep_running_leaves_the_stack_up(monkeypatch):
    assert _demo_that_fails_at_start(monkeypatch, keep_running=True) == ["up"]
