"""The JSON Schema of every event topic: the contract both the API and the ingest job check against."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from .topics import DEFAULT_CALL, STOCK_CALL, STOCK_INSIGHTS, STOCK_OPERATION

_FILES = {
    STOCK_CALL: "stock_call.v1.schema.json",
    STOCK_OPERATION: "stock_operation.v1.schema.json",
    DEFAULT_CALL: "default_call.v1.schema.json",
    STOCK_INSIGHTS: "stock_insights.v1.schema.json",
}


@cache
def json_schema(topic: str) -> dict[str, Any]:
    text = resources.files(__package__).joinpath(_FILES[topic]).read_text(encoding="utf-8")
    return json.loads(text)


@cache
def validator(topic: str):
    # imported here: the Spark image runs the ingest, which needs the schemas but not jsonschema
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json_schema(topic))


def validation_errors(topic: str, event: Any) -> list[str]:
    """Every way ``event`` breaks its topic's schema, as readable strings (empty when valid)."""
    return [
        f"{'/'.join(map(str, err.absolute_path)) or '<root>'}: {err.message}"
        for err in sorted(validator(topic).iter_errors(event), key=lambda e: list(map(str, e.path)))
    ]
