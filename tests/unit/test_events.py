from __future__ import annotations

import json

import pytest
from stockpulse.events import (
    ALL_TOPICS,
    SEED_HEADERS,
    STOCK_CALL,
    STOCK_OPERATION,
    default_call_event,
    json_schema,
    stock_call_event,
    stock_operation_event,
    validation_errors,
)

from tests.support import contract_vectors

TOPICS = [spec.name for spec in ALL_TOPICS]
CONTEXT = {"user_id": "u1", "session_id": "s1", "headers": {"Accept": "*/*", "User-Agent": "x" * 5000}}


def test_topics_are_the_seeds_and_the_insights():
    assert TOPICS == ["stock_call", "stock_operation", "default_call", "stock_insights"]
    assert [spec.cleanup_policy for spec in ALL_TOPICS] == ["delete", "delete", "delete", "compact"]


@pytest.mark.parametrize("topic", TOPICS)
def test_valid_contract_vectors_pass_the_schema(topic):
    for event in contract_vectors(topic)["valid"]:
        assert validation_errors(topic, event) == []


@pytest.mark.parametrize("topic", TOPICS)
def test_invalid_contract_vectors_fail_the_schema(topic):
    invalid = contract_vectors(topic)["invalid"]
    assert invalid
    for case in invalid:
        assert validation_errors(topic, case["event"]), case["reason"]


def test_constructors_build_schema_valid_events_with_every_contract_field():
    quote = {"price": 10.5, "yearly_return": 0.1, "currency": "USD", "as_of": "2026-01-01", "source": "simulated"}
    call = stock_call_event("GOOG", quote, CONTEXT)
    order = stock_operation_event("AMZN", "sell", 3, 10.5, CONTEXT)
    root = default_call_event(CONTEXT)
    assert validation_errors(STOCK_CALL, call) == []
    assert validation_errors(STOCK_OPERATION, order) == []
    assert validation_errors("default_call", root) == []
    for event in (call, order, root):
        for name in (
            "event_id",
            "schema_version",
            "event_type",
            "event_timestamp",
            "user_id",
            "session_id",
            *SEED_HEADERS,
        ):
            assert name in event
        json.dumps(event, allow_nan=False)
    assert call["event_type"] == "check_stock_GOOG" and call["query_timestamp"] == call["event_timestamp"]
    assert order["event_type"] == "sell_AMZN" and order["transaction_amount"] == 31.5
    assert len(order["User-Agent"]) == 512, "hostile header values are truncated"


def test_schema_required_fields_match_the_constructors():
    quote = {"price": 1.0}
    call = stock_call_event("GOOG", quote, {})
    assert set(json_schema(STOCK_CALL)["required"]) == set(call)
    order = stock_operation_event("GOOG", "buy", 1, 1.0, {})
    assert set(json_schema(STOCK_OPERATION)["required"]) == set(order)


def test_an_unknown_side_is_refused():
    with pytest.raises(ValueError):
        stock_operation_event("GOOG", "hold", 1, 1.0, {})


def test_topic_spec_parses_what_the_chart_passes() -> None:
    from stockpulse.events.topics import TopicSpec

    assert TopicSpec.parse("stock_call:6:3:2:604800000") == TopicSpec("stock_call", 6, 604800000, 3, 2)


@pytest.mark.parametrize("text", ["stock_call:6:3:2", ":1:1:1:1", "t:0:1:1:1", "t:1:1:2:1", "t:x:1:1:1", "t:1:1:1:-5"])
def test_topic_spec_refuses_malformed_or_impossible_topics(text: str) -> None:
    from stockpulse.events.topics import TopicSpec

    with pytest.raises(ValueError):
        TopicSpec.parse(text)
