"""Who is asking: the optional customer headers and the seed's request headers, validated once."""

from __future__ import annotations

import re
from typing import Any

from flask import Request

from ..events.model import SEED_HEADERS
from .errors import ApiError

#: Up to 64 of these characters; an empty header is the same as none (anonymous).
ID_PATTERN = r"^[A-Za-z0-9._:@-]{0,64}$"
_ID = re.compile(ID_PATTERN)


def _identifier(request: Request, header: str) -> str | None:
    value = request.headers.get(header)
    if value is None or value == "":
        return None
    if not _ID.fullmatch(value):
        raise ApiError(400, "invalid_header", f"{header} must be 1-64 characters of letters, digits and ._:@-")
    return value


def request_context(request: Request) -> dict[str, Any]:
    """The parts of the request every event carries."""
    return {
        "user_id": _identifier(request, "X-User-Id"),
        "session_id": _identifier(request, "X-Session-Id"),
        "headers": {name: request.headers.get(name) for name in SEED_HEADERS},
    }
