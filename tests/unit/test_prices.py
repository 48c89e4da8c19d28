from __future__ import annotations

import threading

import pytest
from stockpulse.prices import LivePrices, PriceUnavailable, ReplayPrices, SimulatedPrices, make_provider
from stockpulse.prices.simulated import START_PRICES, TRADING_DAYS, daily_history

NOW = 1_790_000_000.0


def test_simulated_quote_is_deterministic_per_minute():
    a = SimulatedPrices(clock=lambda: NOW).quote("GOOG")
    b = SimulatedPrices(clock=lambda: NOW + 10).quote("GOOG")
    c = SimulatedPrices(clock=lambda: NOW + 3600).quote("GOOG")
    assert a == b
    assert a.price != c.price


def test_simulated_history_is_a_year_ending_near_a_realistic_price():
    history = daily_history("NVDA")
    assert len(history) == TRADING_DAYS + 1
    assert history[-1] == START_PRICES["NVDA"]
    quote = SimulatedPrices(clock=lambda: NOW).quote("NVDA")
    assert abs(quote.price / START_PRICES["NVDA"] - 1) <= 0.01
    assert quote.yearly_return == pytest.approx(quote.price / history[0] - 1, abs=1e-6)
    assert quote.currency == "USD" and quote.source == "simulated" and quote.stale is False


def test_fb_is_quoted_as_meta():
    quote = SimulatedPrices(clock=lambda: NOW).quote("FB")
    assert quote.ticker == "FB" and quote.symbol == "META"
    assert abs(quote.price / START_PRICES["META"] - 1) <= 0.01


def test_replay_uses_the_last_close_and_a_year_back(tmp_path):
    csv = tmp_path / "prices.csv"
    csv.write_text(
        "date,ticker,close\n2025-01-02,GOOG,100\n2025-06-02,GOOG,110\n2026-01-05,GOOG,150\n2026-01-05,META,600\n"
    )
    from datetime import date

    prices = ReplayPrices(csv, today=date(2026, 1, 10))
    quote = prices.quote("GOOG")
    assert quote.price == 150 and quote.as_of == "2026-01-05"
    assert quote.yearly_return == pytest.approx(0.5)
    assert prices.quote("FB").price == 600
    with pytest.raises(PriceUnavailable):
        prices.quote("TSLA")


def test_replay_file_without_the_columns_is_refused(tmp_path):
    csv = tmp_path / "prices.csv"
    csv.write_text("day,symbol,price\n2025-01-02,GOOG,100\n")
    with pytest.raises(ValueError, match="missing columns"):
        make_provider(f"replay:{csv}", ["GOOG"])


class FakeYahoo:
    """Stands in for the network call to Yahoo Finance, which cannot run here."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.fail = False
        self.price = 100.0

    def __call__(self, symbols, timeout):
        self.calls.append(tuple(symbols))
        if self.fail:
            raise TimeoutError("Yahoo timed out")
        return {s: ([self.price / 2, self.price], "USD") for s in symbols}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_live_prices_batch_one_download_for_all_tickers_and_cache_it():
    yahoo, clock = FakeYahoo(), Clock()
    live = LivePrices(["GOOG", "FB", "MSFT"], ttl_s=30, downloader=yahoo, clock=clock)
    quotes = [live.quote(t) for t in ("GOOG", "FB", "MSFT", "GOOG")]
    assert yahoo.calls == [("GOOG", "META", "MSFT")]
    assert [q.price for q in quotes] == [100.0] * 4
    assert quotes[0].yearly_return == pytest.approx(1.0)
    assert live.cache_stats() == (3, 1)
    clock.now += 31
    live.quote("GOOG")
    assert len(yahoo.calls) == 2


def test_concurrent_misses_share_one_download():
    yahoo = FakeYahoo()
    live = LivePrices(["GOOG", "MSFT"], downloader=yahoo, clock=Clock())
    threads = [threading.Thread(target=live.quote, args=("GOOG",)) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(yahoo.calls) == 1


def test_failures_serve_stale_quotes_then_open_the_breaker():
    yahoo, clock = FakeYahoo(), Clock()
    live = LivePrices(["GOOG"], ttl_s=10, failure_threshold=2, cooldown_s=60, downloader=yahoo, clock=clock)
    assert live.quote("GOOG").stale is False
    yahoo.fail = True
    clock.now += 11
    first, second = live.quote("GOOG"), live.quote("GOOG")
    assert first.stale and second.stale and first.price == 100.0
    assert live.breaker.open
    calls = len(yahoo.calls)
    live.quote("GOOG")
    assert len(yahoo.calls) == calls, "an open breaker must not call Yahoo"
    clock.now += 61
    yahoo.fail = False
    yahoo.price = 120.0
    quote = live.quote("GOOG")
    assert quote.price == 120.0 and not quote.stale and not live.breaker.open


def test_a_ticker_never_fetched_is_unavailable_while_yahoo_fails():
    yahoo = FakeYahoo()
    yahoo.fail = True
    live = LivePrices(["GOOG"], downloader=yahoo, clock=Clock())
    with pytest.raises(PriceUnavailable):
        live.quote("GOOG")
