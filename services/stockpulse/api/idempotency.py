"""The ``Idempotency-Key`` request header of the order routes, after the IETF httpapi draft
"The Idempotency-Key HTTP Header Field".

A key names one customer intent. The order's event id and order id are derived from the
customer, the key, the request's fingerprint (route, ticker, side, quantity) and the
generation of the key's record, so an order that reaches Kafka twice is still one
``event_id``, which the lake's ``MERGE`` keeps once. A key used again after its record
expired starts a new generation: that order gets ids of its own and lands, instead of
hiding behind the first order's row.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass

from flask import Request

from .errors import ApiError

HEADER = "Idempotency-Key"
MAX_KEY_CHARS = 128
_CHARS = rf"[A-Za-z0-9._:@/+=~-]{{1,{MAX_KEY_CHARS}}}"
#: Printable ASCII without spaces, quotes or separators that would need escaping (a UUID fits), bare or quoted.
KEY_PATTERN = rf'^({_CHARS}|"{_CHARS}")$'
_KEY = re.compile(rf"^{_CHARS}$")
#: Fixed namespace of the derived ids; changing it would change every keyed order's ids.
_NAMESPACE = uuid.UUID("6f0b7d4e-2c1a-5e8b-9d3f-51a7c0e4b2a9")


@dataclass(frozen=True)
class OrderIntent:
    """One keyed order: who sent it, under which key, and what it asks for."""

    scope: str  # the customer (X-User-Id), "" when anonymous
    key: str
    fingerprint: str

    def ids(self, generation: int) -> tuple[str, str]:
        """(event id, order id), the same for every attempt of this intent within one record's life."""
        base = "\x1f".join((self.scope, self.key, self.fingerprint, str(generation)))
        return str(uuid.uuid5(_NAMESPACE, base + "\x1fevent")), str(uuid.uuid5(_NAMESPACE, base + "\x1forder"))


def idempotency_key(request: Request) -> str | None:
    """The request's key, or None when it sent none; a malformed key is a 400.

    The draft writes the value as a Structured Field string (``"abc"``); a bare token is
    accepted too, since most clients send one.
    """
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not _KEY.fullmatch(value):
        raise ApiError(
            400,
            "invalid_idempotency_key",
            f"{HEADER} must be 1-{MAX_KEY_CHARS} characters of letters, digits and ._:@/+=~- (a UUID is best)",
        )
    return value


def fingerprint(route: str, ticker: str, side: str, quantity: int) -> str:
    """What makes two requests "the same order": a repeat must match it, or it is a 422."""
    return hashlib.sha256(f"{route}\x1f{ticker}\x1f{side}\x1f{quantity}".encode()).hexdigest()
