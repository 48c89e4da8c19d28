"""Experiment only, never deployed: the product API with one Kafka poll thread per producer.

``python -m stockpulse.bench.compare`` serves it beside the product API to measure what the
change suggested in docs/performance.md would give. The product code is not changed.
"""

from __future__ import annotations

from ..api import create_app
from ..events.publisher import KafkaPublisher
from .publisher_latency import OnePollerPerProducer

KafkaPublisher._poll_loop = OnePollerPerProducer._poll_loop  # type: ignore[method-assign]

__all__ = ["create_app"]
