"""Explicit topic creation: partitions and retention are decided here, not by broker auto-create."""

from __future__ import annotations

from collections.abc import Iterable

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from .topics import ALL_TOPICS, TopicSpec


def ensure_topics(bootstrap: str, specs: Iterable[TopicSpec] = ALL_TOPICS, timeout: float = 30.0) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=timeout).topics)
    wanted = [
        NewTopic(
            spec.name,
            num_partitions=spec.partitions,
            replication_factor=spec.replicas,
            config={
                "retention.ms": str(spec.retention_ms),
                "min.insync.replicas": str(spec.min_insync_replicas),
                "cleanup.policy": spec.cleanup_policy,
            },
        )
        for spec in specs
        if spec.name not in existing
    ]
    if not wanted:
        return []
    for _name, future in admin.create_topics(wanted, operation_timeout=timeout).items():
        try:
            future.result(timeout=timeout)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
    return [t.topic for t in wanted]


def list_topics(bootstrap: str, timeout: float = 10.0) -> set[str]:
    """The names of the broker's topics (a health check's metadata call)."""
    return set(AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=timeout).topics)


def topic_end_offsets(bootstrap: str, topics: Iterable[str], timeout: float = 10.0) -> dict[str, dict[int, int]]:
    """Latest offset per partition of each topic: what ``status`` compares the lake against."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "stockpulse-offsets", "enable.auto.commit": False})
    try:
        metadata = consumer.list_topics(timeout=timeout)
        result: dict[str, dict[int, int]] = {}
        for topic in topics:
            if topic not in metadata.topics:
                continue
            result[topic] = {}
            for partition in metadata.topics[topic].partitions:
                _low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
                result[topic][partition] = high
        return result
    finally:
        consumer.close()
