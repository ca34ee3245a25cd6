"""A message to many viewers, framed for WebSocket once and written as the same bytes to all.

``websockets.broadcast`` frames a message again for every connection (header, then a copy of
the payload into the transport). The server's media messages go unmasked from server to client
(RFC 6455 section 5.1), so the frame is the same for every viewer: :class:`Outgoing` builds it
on first use and every WebSocket viewer's transport gets that one bytes object. Each frame is
written whole and at once, so it can go straight to the transport beside the WebSocket
library's own pings and closing frames without interleaving with them.
"""

from __future__ import annotations

import struct


def encode(payload: bytes | str) -> bytes:
    """One unfragmented, unmasked server-to-client frame: binary for bytes, text for str."""
    if isinstance(payload, str):
        payload, opcode = payload.encode(), 0x81
    else:
        opcode = 0x82
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", opcode, n)
    elif n < 1 << 16:
        header = struct.pack("!BBH", opcode, 126, n)
    else:
        header = struct.pack("!BBQ", opcode, 127, n)
    return header + payload


class Outgoing:
    """``message`` as published, and its WebSocket frame (built once, when first asked for)."""

    __slots__ = ("message", "_framed")

    def __init__(self, message: bytes | str):
        self.message = message
        self._framed: bytes | None = None

    @property
    def framed(self) -> bytes:
        if self._framed is None:
            self._framed = encode(self.message)
        return self._framed

    def __len__(self) -> int:
        return len(self.message)
