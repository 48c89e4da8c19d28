"""Kafka topic names (contract: the seed's three topics) and how they are created."""

from __future__ import annotations

from dataclasses import dataclass

STOCK_CALL = "stock_call"
STOCK_OPERATION = "stock_operation"
DEFAULT_CALL = "default_call"

#: Topics that the ingest job lands in lake tables (``default_call`` is kept on Kafka only).
LAKE_TOPICS = (STOCK_CALL, STOCK_OPERATION)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int


ALL_TOPICS = (
    TopicSpec(STOCK_CALL, partitions=3, retention_ms=7 * 24 * 3600 * 1000),
    TopicSpec(STOCK_OPERATION, partitions=3, retention_ms=30 * 24 * 3600 * 1000),
    TopicSpec(DEFAULT_CALL, partitions=1, retention_ms=7 * 24 * 3600 * 1000),
)
