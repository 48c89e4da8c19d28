"""The ceiling: a bare WSGI app that answers a constant, served with the API's own gunicorn settings.

Whatever the API does beyond this (Flask routing, quotes, events, Kafka acks) is what it
costs below this rate. It lives here, not in the product API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

BODY = b'{"ok":true}'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
    start_response("200 OK", HEADERS)
    return [BODY]
