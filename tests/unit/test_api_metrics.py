"""The API's /metrics: order outcomes for the availability SLO, price-cache counters, series that exist at zero."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from stockpulse.api import create_app
from stockpulse.api.metrics import order_outcome
from stockpulse.prices import SimulatedPrices

from tests.support import MemoryIdempotencyStore


def scrape(client) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Samples by name, then by their sorted labels, and each family's type under ``("# TYPE", name)``."""
    out: dict = {}
    for family in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True)):
        out[("# TYPE", family.name)] = family.type
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def outcome(samples, name: str) -> float:
    return samples["stockpulse_order_requests_total"][(("outcome", name),)]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (201, "accepted"),
        (200, "accepted"),
        (404, "rejected"),
        (422, "rejected"),
        (503, "refused"),
        (504, "in_doubt"),
        (500, "failed"),
    ],
)
def test_order_status_maps_to_an_slo_outcome(status, expected):
    assert order_outcome(status) == expected


def test_order_requests_are_counted_by_outcome_and_other_routes_are_not(client, publisher):
    before = scrape(client)
    assert client.post("/stocks/GOOG/orders", json={"side": "buy", "quantity": 2}).status_code == 201
    assert client.post("/AMZN/sell/3").status_code == 201
    assert client.post("/stocks/GOOG/orders", json={"side": "hold", "quantity": 2}).status_code == 422
    assert client.post("/NOPE/buy/1").status_code == 404
    assert client.get("/stocks/GOOG").status_code == 200  # a quote is no order
    publisher.refuse = True
    assert client.post("/stocks/GOOG/orders", json={"side": "buy", "quantity": 1}).status_code == 503
    publisher.refuse, publisher.doubt = False, True
    assert client.post("/stocks/GOOG/orders", json={"side": "buy", "quantity": 1}).status_code == 504
    after = scrape(client)
    names = ("accepted", "rejected", "refused", "in_doubt", "failed")
    delta = {name: outcome(after, name) - outcome(before, name) for name in names}
    assert delta == {"accepted": 2, "rejected": 2, "refused": 1, "in_doubt": 1, "failed": 0}


def test_failure_series_exist_at_zero_before_any_failure(client):
    samples = scrape(client)
    failed = samples["stockpulse_events_failed_total"]
    assert {dict(labels)["topic"] for labels in failed} == {"stock_call", "stock_operation", "default_call"}
    assert (("outcome", "in_doubt"),) in samples["stockpulse_order_requests_total"]


class CountingCache(SimulatedPrices):
    """Simulated prices that report cache hits and misses, as the live provider does."""

    def __init__(self) -> None:
        super().__init__(clock=lambda: 1_790_000_000.0)
        self.hits = self.misses = 0

    def quote(self, ticker):
        self.hits += 2
        self.misses += 1
        return super().quote(ticker)

    def cache_stats(self) -> tuple[int, int]:
        return self.hits, self.misses


def test_price_cache_hits_and_misses_are_counters_that_add_what_the_cache_saw(settings, publisher):
    prices = CountingCache()
    client = create_app(
        settings, publisher=publisher, prices=prices, idempotency=MemoryIdempotencyStore()
    ).test_client()
    before = scrape(client)
    for _ in range(3):
        client.get("/stocks/MSFT")
    after = scrape(client)
    assert after[("# TYPE", "stockpulse_price_cache_hits")] == "counter"
    assert after[("# TYPE", "stockpulse_price_cache_misses")] == "counter"
    hits = after["stockpulse_price_cache_hits_total"][()] - before["stockpulse_price_cache_hits_total"][()]
    misses = after["stockpulse_price_cache_misses_total"][()] - before["stockpulse_price_cache_misses_total"][()]
    assert (hits, misses) == (6, 3)
