"""HTTP calls to the API as a client makes them: status, parsed body and headers; a metric's total."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from stockpulse.settings import Settings


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]
    raw: bytes = b""  # the body as sent, for byte-for-byte comparisons


def call(
    base_url: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Reply:
    request = urllib.request.Request(base_url + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            raw, status, hdrs = resp.read(), resp.status, dict(resp.headers)
    except urllib.error.HTTPError as exc:
        raw, status, hdrs = exc.read(), exc.code, dict(exc.headers)
    try:
        parsed: Any = json.loads(raw)
    except ValueError:
        parsed = raw.decode("utf-8", "replace")
    return Reply(status, parsed, hdrs, raw)


def metrics_url(settings: Settings) -> str:
    """Where gunicorn's API answers ``/metrics``: its probe port, not the port customers reach."""
    return f"http://{settings.api.probe_bind}"


def metric_total(settings: Settings, name: str, **labels: str) -> float:
    """Sum of the samples of metric ``name`` (with these labels) that the API's ``/metrics`` shows now."""
    text = call(metrics_url(settings), "GET", "/metrics").body
    total = 0.0
    for line in text.splitlines():
        if not (line.startswith(name + "{") or line.startswith(name + " ")):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total
