"""Kafka topic names (contract: the seed's three topics and ``stock_insights``) and how they are created."""

from __future__ import annotations

from dataclasses import dataclass

STOCK_CALL = "stock_call"
STOCK_OPERATION = "stock_operation"
DEFAULT_CALL = "default_call"
#: Compacted, keyed by ticker: the latest signals of each ticker, which the API serves.
STOCK_INSIGHTS = "stock_insights"

#: Topics the API produces customer events to.
EVENT_TOPICS = (STOCK_CALL, STOCK_OPERATION, DEFAULT_CALL)
#: Topics that the ingest job lands in lake tables (``default_call`` is kept on Kafka only).
LAKE_TOPICS = (STOCK_CALL, STOCK_OPERATION)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int
    replicas: int = 1
    min_insync_replicas: int = 1
    #: ``delete`` (an event log) or ``compact`` (the latest value per key).
    cleanup_policy: str = "delete"

    @classmethod
    def parse(cls, text: str) -> TopicSpec:
        """``name:partitions:replicas:min_insync_replicas:retention_ms[:delete|compact]``, as the chart passes them."""
        parts = text.split(":")
        policy = parts.pop() if len(parts) == 6 and parts[5] in ("delete", "compact") else "delete"
        if len(parts) != 5 or not parts[0] or not all(p.isdigit() and int(p) > 0 for p in parts[1:]):
            raise ValueError(
                f"a topic is name:partitions:replicas:min_insync_replicas:retention_ms[:delete|compact], got {text!r}"
            )
        name, partitions, replicas, min_isr, retention = parts
        if int(min_isr) > int(replicas):
            raise ValueError(f"topic {name}: min_insync_replicas {min_isr} exceeds replicas {replicas}")
        return cls(name, int(partitions), int(retention), int(replicas), int(min_isr), policy)


ALL_TOPICS = (
    TopicSpec(STOCK_CALL, partitions=3, retention_ms=7 * 24 * 3600 * 1000),
    TopicSpec(STOCK_OPERATION, partitions=3, retention_ms=30 * 24 * 3600 * 1000),
    TopicSpec(DEFAULT_CALL, partitions=1, retention_ms=7 * 24 * 3600 * 1000),
    # One partition: a handful of tickers, and every API worker reads all of it.
    TopicSpec(STOCK_INSIGHTS, partitions=1, retention_ms=7 * 24 * 3600 * 1000, cleanup_policy="compact"),
)
