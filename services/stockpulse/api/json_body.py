"""The app's JSON provider: request bodies nested deeper than ``MAX_DEPTH`` fail to parse as invalid JSON.

``request.get_json`` hands the body to ``json.loads``, whose recursive parser raises ``RecursionError``
(not the ``ValueError`` Flask expects of bad JSON) about a thousand levels down; bodies within the size
limit can nest that deep. The depth is counted before parsing, in one linear pass.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask.json.provider import DefaultJSONProvider

#: Far more than any request this API takes (an order is one flat object), far less than the parser's recursion.
MAX_DEPTH = 32

# A string (to its closing quote, or to the end of an unterminated one) or a bracket; strings are skipped whole,
# so the scan is linear whatever the body holds.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)


class TooDeep(ValueError):
    """The document nests arrays and objects deeper than ``MAX_DEPTH``."""


def deeper_than(text: str, limit: int) -> bool:
    """Whether arrays and objects in ``text`` nest more than ``limit`` levels (brackets inside strings do not count)."""
    depth = 0
    for token in _TOKEN.finditer(text):
        first = text[token.start()]
        if first in "[{":
            depth += 1
            if depth > limit:
                return True
        elif first in "]}":
            depth -= 1
    return False


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's provider, refusing documents nested deeper than ``MAX_DEPTH`` with a ``ValueError`` (a 400)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        # decoded as json.loads decodes bytes (UTF-8, -16 or -32, a UTF-8 BOM dropped)
        text = s.decode(json.detect_encoding(s), "surrogatepass") if isinstance(s, bytes) else s
        if deeper_than(text, MAX_DEPTH):
            raise TooDeep(f"JSON nested deeper than {MAX_DEPTH} levels")
        return super().loads(text, **kwargs)
