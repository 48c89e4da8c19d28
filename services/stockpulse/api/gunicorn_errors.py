"""JSON for the few answers gunicorn gives itself, before the app sees a request.

gunicorn rejects a request line over 4094 bytes (414), a header over 8190 bytes or
more than 100 headers (431) and malformed HTTP (400) on its own, with an HTML page.
Every other error of the API is ``{"error": {"code", "message"}}``; this makes these
the same. gunicorn calls ``gunicorn.util.write_error`` by module attribute, so
replacing it in the master (before the workers fork) covers every worker.
"""

from __future__ import annotations

import json
import re

from gunicorn import util

MAX_MESSAGE_CHARS = 200


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    code = re.sub(r"[^a-z0-9]+", "_", reason.lower()).strip("_") or "bad_request"
    message = (mesg or reason)[:MAX_MESSAGE_CHARS]
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


def install() -> None:
    util.write_error = write_json_error
