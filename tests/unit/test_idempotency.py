"""``Idempotency-Key`` on both order routes, and the in-doubt answers, through the app factory.

The recording publisher and a memory store stand in for Kafka and Postgres here;
tests/integration/test_idempotency_postgres.py and test_idempotency_replicas.py prove the same
against the real database, broker and gunicorn, and the fault suite against the lake.
"""

from __future__ import annotations

import uuid

import pytest

from tests.support import MemoryIdempotencyStore

JSON = "application/json"


def keyed(client, key, body=None, ticker="GOOG", user="u-1", **headers):
    return client.post(
        f"/stocks/{ticker}/orders",
        json=body or {"side": "buy", "quantity": 5},
        headers={"Idempotency-Key": key, "X-User-Id": user, **headers},
    )


def orders(publisher):
    return [event for topic, _, event in publisher.events if topic == "stock_operation"]


def test_same_key_and_body_get_the_original_answer_and_one_event(client, publisher):
    key = str(uuid.uuid4())
    first = keyed(client, key)
    second = keyed(client, key)
    assert first.status_code == second.status_code == 201
    assert second.get_json() == first.get_json()  # same order id, price and timestamp
    assert "Idempotent-Replayed" not in first.headers
    assert second.headers["Idempotent-Replayed"] == "true"
    [event] = orders(publisher)
    assert event["order_id"] == first.get_json()["order_id"]


def test_same_key_with_another_body_is_422_and_no_event(client, publisher):
    key = str(uuid.uuid4())
    assert keyed(client, key).status_code == 201
    for body in ({"side": "sell", "quantity": 5}, {"side": "buy", "quantity": 6}):
        response = keyed(client, key, body)
        assert response.status_code == 422
        assert response.get_json()["error"]["code"] == "idempotency_key_reused"
    other_ticker = keyed(client, key, ticker="AMZN")
    assert other_ticker.status_code == 422
    assert len(orders(publisher)) == 1


def test_seed_route_takes_a_key_too(client, publisher):
    headers = {"Idempotency-Key": "seed-key-1"}
    first = client.post("/AMZN/sell/3", headers=headers)
    again = client.post("/AMZN/sell/3", headers=headers)
    assert (first.status_code, first.get_json()) == (201, {"task": "sold_3_AMZN"})
    assert (again.status_code, again.get_json()) == (201, {"task": "sold_3_AMZN"})
    assert client.post("/AMZN/sell/4", headers=headers).status_code == 422
    # the same order through the other route is another request: the key is taken
    assert client.post("/stocks/AMZN/orders", json={"side": "sell", "quantity": 3}, headers=headers).status_code == 422
    assert len(orders(publisher)) == 1


def test_keys_are_per_customer(client, publisher):
    a = keyed(client, "shared-key", user="alice")
    b = keyed(client, "shared-key", user="bob")
    assert a.status_code == b.status_code == 201
    assert a.get_json()["order_id"] != b.get_json()["order_id"]
    assert len({e["event_id"] for e in orders(publisher)}) == 2


def test_quoted_key_is_the_same_key(client, publisher):
    first = keyed(client, "abc-123")
    again = keyed(client, '"abc-123"')
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert len(orders(publisher)) == 1


def test_orders_without_a_key_are_new_orders_each_time(client, publisher):
    body = {"side": "buy", "quantity": 2}
    ids = {client.post("/stocks/GOOG/orders", json=body).get_json()["order_id"] for _ in range(2)}
    assert len(ids) == 2 and len(orders(publisher)) == 2


@pytest.mark.parametrize(
    "key",
    ["", " ", "a b", "k" * 129, 'quote"inside', '"unbalanced', "ünïcode", "tab\there", "semi;colon", '""'],
)
def test_malformed_key_is_400_and_no_event(client, publisher, key):
    response = keyed(client, key)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_idempotency_key"
    assert publisher.events == []


def test_longest_key_is_accepted(client):
    assert keyed(client, "k" * 128).status_code == 201


def test_in_doubt_is_504_and_the_retry_resends_the_same_event(client, publisher):
    key = str(uuid.uuid4())
    publisher.doubt = True
    doubtful = keyed(client, key)
    assert doubtful.status_code == 504
    assert doubtful.headers["Retry-After"] == "1"
    error = doubtful.get_json()["error"]
    assert error["code"] == "order_in_doubt" and "same Idempotency-Key" in error["message"]
    publisher.doubt = False
    retried = keyed(client, key)
    assert retried.status_code == 201
    assert retried.get_json()["order_id"] == error["order_id"]
    first, second = orders(publisher)
    assert first == second  # byte-identical resend: the lake's MERGE keeps one row
    assert keyed(client, key).get_json() == retried.get_json()
    assert len(orders(publisher)) == 2


def test_a_refused_retry_of_an_order_in_doubt_is_still_in_doubt(client, publisher):
    key = str(uuid.uuid4())
    publisher.doubt = True
    assert keyed(client, key).status_code == 504
    publisher.doubt, publisher.refuse = False, True
    still = keyed(client, key)
    assert still.status_code == 504, "the first attempt may land: 503 'not placed' would be a lie"
    publisher.refuse = False
    assert keyed(client, key).status_code == 201


def test_refused_order_is_503_and_its_retry_is_a_fresh_attempt(client, publisher):
    key = str(uuid.uuid4())
    publisher.refuse = True
    refused = keyed(client, key)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
    assert "not placed" in refused.get_json()["error"]["message"]
    assert orders(publisher) == []
    publisher.refuse = False
    placed = keyed(client, key)
    assert placed.status_code == 201 and "Idempotent-Replayed" not in placed.headers
    assert placed.get_json()["order_id"] == refused.get_json()["error"]["order_id"]
    assert len(orders(publisher)) == 1


def test_in_doubt_without_a_key_says_a_retry_may_place_it_twice(client, publisher):
    publisher.doubt = True
    response = client.post("/stocks/GOOG/orders", json={"side": "buy", "quantity": 1})
    assert response.status_code == 504
    assert "no Idempotency-Key" in response.get_json()["error"]["message"]
    assert client.post("/GOOG/buy/1").status_code == 504


class Crashing:
    """A publisher whose worker 'dies' mid-attempt: the attempt never reports back."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.crash = True

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def publish_sync(self, topic, key, event):
        if self.crash:
            raise RuntimeError("worker died")
        self.inner.publish_sync(topic, key, event)


def test_attempt_in_progress_is_409_until_its_lease_ends_then_taken_over(settings, publisher):
    from stockpulse.api import create_app

    now = [1_000_000.0]
    crashing = Crashing(publisher)
    app = create_app(settings, publisher=crashing, idempotency=MemoryIdempotencyStore(3600, clock=lambda: now[0]))
    client = app.test_client()
    key = str(uuid.uuid4())
    assert keyed(client, key).status_code == 500
    crashing.crash = False
    busy = keyed(client, key)
    assert busy.status_code == 409 and int(busy.headers["Retry-After"]) >= 1
    assert busy.get_json()["error"]["code"] == "request_in_progress"
    assert orders(publisher) == []
    now[0] += settings.api.order_ack_timeout_ms / 1000.0 + 10
    taken_over = keyed(client, key)
    assert taken_over.status_code == 201
    assert len(orders(publisher)) == 1


def test_openapi_documents_the_key_and_the_in_doubt_answer(client):
    spec = client.get("/openapi.json").get_json()
    for path in ("/stocks/{ticker}/orders", "/{stock_name}/{action}/{quantity}"):
        operation = spec["paths"][path]["post"]
        assert "Idempotency-Key" in [p["name"] for p in operation["parameters"]]
        assert {"409", "422", "503", "504"} <= set(operation["responses"])
        assert "Retry-After" in operation["responses"]["504"]["headers"]


class FlakyPrices:
    """Simulated prices that can be told to fail, as a live source does."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.down = False

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def quote(self, ticker):
        from stockpulse.prices import PriceUnavailable

        if self.down:
            raise PriceUnavailable(f"no price for {ticker}")
        return self.inner.quote(ticker)


def test_retry_of_an_order_in_doubt_needs_no_price(settings, publisher):
    from stockpulse.api import create_app
    from stockpulse.prices import SimulatedPrices

    prices = FlakyPrices(SimulatedPrices(clock=lambda: 1_790_000_000.0))
    client = create_app(
        settings, publisher=publisher, prices=prices, idempotency=MemoryIdempotencyStore()
    ).test_client()
    key = str(uuid.uuid4())
    publisher.doubt = True
    assert keyed(client, key).status_code == 504
    publisher.doubt, prices.down = False, True
    assert keyed(client, key).status_code == 201, "the stored event is sent again; nothing to price"
    fresh = keyed(client, str(uuid.uuid4()))
    assert fresh.status_code == 503 and fresh.get_json()["error"]["code"] == "price_unavailable"
    assert len(orders(publisher)) == 2


def test_a_key_store_outage_refuses_keyed_orders_before_sending_and_spares_the_rest(settings, publisher):
    from stockpulse.api import create_app

    store = MemoryIdempotencyStore()
    client = create_app(settings, publisher=publisher, idempotency=store).test_client()
    store.down = True
    refused = keyed(client, str(uuid.uuid4()))
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
    assert refused.get_json()["error"]["code"] == "idempotency_store_unavailable"
    assert orders(publisher) == []
    unkeyed = client.post("/stocks/GOOG/orders", json={"side": "buy", "quantity": 1})
    assert unkeyed.status_code == 201 and len(orders(publisher)) == 1
    assert client.get("/stocks/GOOG").status_code == 200


class FailsAfterSend(MemoryIdempotencyStore):
    """The store goes away between the event's ack and the answer's record."""

    def finish(self, scope, key, answer):
        self.down = True
        super().finish(scope, key, answer)


def test_an_outage_after_the_ack_still_answers_201_and_the_retry_gives_the_same_order(settings, publisher):
    from stockpulse.api import create_app

    now = [1_000_000.0]
    store = FailsAfterSend(clock=lambda: now[0])
    client = create_app(settings, publisher=publisher, idempotency=store).test_client()
    key = str(uuid.uuid4())
    first = keyed(client, key)
    assert first.status_code == 201
    store.down = False
    now[0] += settings.api.order_ack_timeout_ms / 1000.0 + 10  # the first attempt's lease has ended
    retry = keyed(client, key)
    assert retry.status_code == 201 and retry.data == first.data
    # the retry resent the recorded event: two sends of one event_id, which the lake keeps once
    assert [e["event_id"] for e in orders(publisher)] == [first.headers["X-Event-Id"]] * 2


def test_a_key_reused_after_its_record_expired_places_a_new_order_with_new_ids(settings, publisher):
    from stockpulse.api import create_app

    now = [1_000_000.0]
    store = MemoryIdempotencyStore(ttl_s=60, clock=lambda: now[0])
    client = create_app(settings, publisher=publisher, idempotency=store).test_client()
    key = str(uuid.uuid4())
    first = keyed(client, key)
    now[0] += 61
    second = keyed(client, key)
    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in second.headers
    assert first.headers["X-Event-Id"] != second.headers["X-Event-Id"]
    ids = [(e["event_id"], e["order_id"]) for e in orders(publisher)]
    assert len(ids) == 2 and len({i for pair in ids for i in pair}) == 4
