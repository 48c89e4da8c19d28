"""schemathesis hooks for tests/integration/test_hostile_input.py (loaded through ``SCHEMATHESIS_HOOKS``).

A generator that picks an ``Idempotency-Key`` at random sometimes picks one it already
used with another order, which the API rightly answers 422: a schema cannot say that a
key names one intent. A valid key is therefore replaced by a fresh one before each call,
as a real client would make; malformed keys are sent as generated.
"""

from __future__ import annotations

import re
import uuid

import schemathesis
from stockpulse.api.idempotency import KEY_PATTERN

_VALID_KEY = re.compile(KEY_PATTERN)


@schemathesis.hook
def before_call(context, case, kwargs) -> None:
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and _VALID_KEY.fullmatch(key):
        case.headers["Idempotency-Key"] = uuid.uuid4().hex
