"""What every price source returns, and the few rules they share."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

#: Renamed listings: the customer may still ask for the old symbol.
SYMBOL_ALIASES = {"FB": "META"}


def quote_symbol(ticker: str) -> str:
    """The symbol a price source knows ``ticker`` by (``FB`` -> ``META``)."""
    return SYMBOL_ALIASES.get(ticker.upper(), ticker.upper())


class PriceUnavailable(RuntimeError):
    """No price, not even a stale one, can be given for this ticker now."""


@dataclass(frozen=True)
class Quote:
    ticker: str
    symbol: str
    price: float
    yearly_return: float | None
    currency: str
    as_of: str
    source: str
    stale: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class PriceProvider(Protocol):
    name: str

    def quote(self, ticker: str) -> Quote: ...

    def cache_stats(self) -> tuple[int, int]:
        """(hits, misses) since start; providers without a cache report (0, 0)."""
        ...
