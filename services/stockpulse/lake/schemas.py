"""Spark schemas derived from the events' JSON Schemas, so the ingest job can never drift from the API.

JSON Schema ``string``/``number``/``integer``/``boolean`` become Spark
``StringType``/``DoubleType``/``LongType``/``BooleanType``. Every field is nullable
when parsing: missing fields are found by validation and quarantined with a reason,
not silently dropped by the parser.
"""

from __future__ import annotations

from pyspark.sql.types import BooleanType, DataType, DoubleType, LongType, StringType, StructField, StructType

from ..events.schema import json_schema

_TYPES: dict[str, DataType] = {
    "string": StringType(),
    "number": DoubleType(),
    "integer": LongType(),
    "boolean": BooleanType(),
}


def _spark_type(prop: dict) -> DataType:
    kinds = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
    kinds = [k for k in kinds if k != "null"]
    if len(kinds) != 1 or kinds[0] not in _TYPES:
        raise ValueError(f"no Spark type for JSON Schema type {prop['type']!r}")
    return _TYPES[kinds[0]]


def event_schema(topic: str) -> StructType:
    """The parse schema of ``topic``'s events, in the JSON Schema's field order."""
    schema = json_schema(topic)
    return StructType([StructField(name, _spark_type(prop), True) for name, prop in schema["properties"].items()])


def required_fields(topic: str) -> list[str]:
    """Fields that must be present and non-null (nullable-by-contract fields are allowed to be null)."""
    schema = json_schema(topic)
    return [
        name
        for name in schema["required"]
        if "null"
        not in (
            schema["properties"][name]["type"]
            if isinstance(schema["properties"][name]["type"], list)
            else [schema["properties"][name]["type"]]
        )
    ]
