"""The fault suite's books on hand-made ledgers: each verdict can be reached, so the suite can fail."""

from __future__ import annotations

from tests.support.faults.accounting import balance

WHAT = ["GOOG", "buy", 3]


def answer(key, status, order_id=None, attempt=1, user="u1", session="s1", t=0.0, what=WHAT):
    return {
        "t": t + attempt,
        "kind": "order",
        "user": user,
        "session": session,
        "key": key,
        "attempt": attempt,
        "status": status,
        "order_id": order_id,
        "what": what,
    }


def row(order_id, user="u1", session="s1", what=WHAT):
    ticker, side, quantity = what
    return {
        "order_id": order_id,
        "user_id": user,
        "session_id": session,
        "stock_name": ticker,
        "side": side,
        "quantity": quantity,
    }


def books(answers, rows):
    return balance("test", answers, [dict(r) for r in rows], rows, check_rows=[])


def test_an_order_acknowledged_once_and_landed_once_balances():
    result = books([answer("k1", 504, "o1"), answer("k1", 201, "o1", attempt=2)], [row("o1")])
    assert (result.lost, result.duplicated, result.without_2xx, result.unexplained) == ([], [], [], [])
    assert (result.intents, result.acknowledged, result.in_doubt) == (1, 1, 0)


def test_an_acknowledged_order_without_a_row_is_lost():
    assert books([answer("k1", 201, "o1")], []).lost == ["o1"]


def test_two_rows_of_one_order_are_a_duplicate():
    assert books([answer("k1", 201, "o1")], [row("o1"), row("o1")]).duplicated == ["o1"]


def test_one_intent_landing_under_two_orders_is_a_duplicate():
    answers = [answer("k1", 504, "o1"), answer("k1", 201, "o2", attempt=2)]
    assert books(answers, [row("o1"), row("o2")]).duplicated == ["u1/k1"]


def test_a_row_of_an_order_left_in_doubt_is_allowed_once():
    result = books([answer("k1", 504, "o1"), answer("k1", 0, attempt=2)], [row("o1")])
    assert result.without_2xx == ["o1"] and result.unexplained == [] and result.in_doubt == 1


def test_a_row_of_an_order_answered_not_placed_is_unexplained():
    result = books([answer("k1", 503, "o1")], [row("o1")])
    assert [r["order_id"] for r in result.unexplained] == ["o1"]


def test_an_unanswered_intent_explains_one_row_of_its_own_order_not_two():
    answers = [answer("k1", 0), answer("k1", 0, attempt=2)]
    result = books(answers, [row("x1"), row("x2")])
    assert [r["order_id"] for r in result.unexplained] == ["x2"]
    other = books(answers, [row("x1", what=["AMZN", "sell", 1])])
    assert [r["order_id"] for r in other.unexplained] == ["x1"], "another order does not match"


def test_a_201_without_an_order_id_is_flagged():
    assert len(books([answer("k1", 201, None)], []).without_id) == 1


def check(event_id, status=200):
    return {"t": 0.0, "kind": "check", "user": "u1", "session": "s1", "status": status, "event_id": event_id}


def test_checks_are_held_against_their_rows_by_event_id():
    answers = [check("c1"), check("c2"), check("c3"), check(None, status=503)]
    result = balance("test", answers, [], [], check_rows=["c1", "c2", "c2", "c4"])
    assert result.checks_answered == 3 and result.check_rows == 4
    assert (result.checks_lost, result.checks_duplicated, result.checks_without_200) == (["c3"], ["c2"], ["c4"])


def test_checks_that_all_landed_once_balance():
    result = balance("test", [check("c1"), check("c2")], [], [], check_rows=["c2", "c1"])
    assert (result.checks_lost, result.checks_duplicated, result.checks_without_200) == ([], [], [])
