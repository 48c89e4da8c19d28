"""The event contract: topic names, the versioned event model and its JSON Schema, the producer."""

from .model import SCHEMA_VERSION, SEED_HEADERS, default_call_event, stock_call_event, stock_operation_event
from .schema import json_schema, validation_errors
from .topics import ALL_TOPICS, DEFAULT_CALL, LAKE_TOPICS, STOCK_CALL, STOCK_INSIGHTS, STOCK_OPERATION

__all__ = [
    "ALL_TOPICS",
    "DEFAULT_CALL",
    "LAKE_TOPICS",
    "SCHEMA_VERSION",
    "SEED_HEADERS",
    "STOCK_CALL",
    "STOCK_INSIGHTS",
    "STOCK_OPERATION",
    "default_call_event",
    "json_schema",
    "stock_call_event",
    "stock_operation_event",
    "validation_errors",
]
