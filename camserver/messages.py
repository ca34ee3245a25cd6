"""JSON text messages from peers (cameras, viewers, API clients), parsed without surprises.

Every port takes JSON from strangers. :func:`parse_object` turns any text into either a dict or
a :class:`BadMessage` with a short reason code (for rate-limited logging) and a sentence a human
can act on: never a traceback. ``json.loads`` raises ``RecursionError``, not ``ValueError``, for
input nested deeper than the interpreter's recursion limit (``[[[[...`` of any length), so both
are caught here once instead of at every call site.
"""

from __future__ import annotations

import json


class BadMessage(ValueError):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        #: A short code for log keys and counters: ``too-long``, ``not-json``, ``not-object``.
        self.reason = reason


def parse_object(text: str | bytes, max_bytes: int) -> dict:
    """The JSON object in ``text``; BadMessage if it is longer than ``max_bytes``, not JSON
    (including nesting too deep to parse) or not an object."""
    if len(text) > max_bytes:
        raise BadMessage("too-long", f"a text message of {len(text)} bytes is over the "
                                     f"{max_bytes}-byte limit")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise BadMessage("not-json", "a text message that is not JSON") from None
    if not isinstance(data, dict):
        raise BadMessage("not-object", "a JSON message that is not an object")
    return data
