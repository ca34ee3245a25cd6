"""A minimal WebSocket viewer for load generation: one asyncio Protocol per connection that
parses frame headers and timestamps each complete binary message, nothing more.

With 500 viewers in one process, a full client library spends more CPU than the server under
test; this one costs a few microseconds per message, so the numbers measure the server.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time


class ViewerProtocol(asyncio.Protocol):
    def __init__(self, path: str, host: str):
        self.path, self.host = path, host
        self.buffer = bytearray()
        self.handshaken = asyncio.get_running_loop().create_future()
        self.upgraded = False
        self.arrivals: list[float] = []   # monotonic time of each complete binary message
        self.closed = asyncio.get_running_loop().create_future()
        self.fragmented = False

    def connection_made(self, transport):
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write((f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\n"
                         "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                         f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                        .encode())

    def data_received(self, data: bytes):
        now = time.monotonic()
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.buffer.startswith(b"HTTP/1.1 101"):
                self.handshaken.set_exception(ConnectionError(bytes(self.buffer[:80])))
                return
            del self.buffer[:end + 4]
            self.upgraded = True
            self.handshaken.set_result(None)
        buf = self.buffer
        while len(buf) >= 2:
            opcode, length = buf[0] & 0x0F, buf[1] & 0x7F
            fin = buf[0] & 0x80
            offset = 2
            if length == 126:
                if len(buf) < 4:
                    return
                length, offset = int.from_bytes(buf[2:4], "big"), 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length, offset = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < offset + length:
                return
            if opcode == 0x9:  # ping: answer, or the server closes us as dead
                payload = bytes(buf[offset:offset + length])
                mask = os.urandom(4)
                self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + mask + bytes(
                    b ^ mask[i % 4] for i, b in enumerate(payload)))
            elif opcode in (0x2, 0x0) and fin:
                self.arrivals.append(now)
            del buf[:offset + length]

    def connection_lost(self, exc):
        if not self.closed.done():
            self.closed.set_result(exc)


async def open_viewer(host: str, port: int, path: str) -> ViewerProtocol:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(lambda: ViewerProtocol(path, host), host, port)
    await protocol.handshaken
    return protocol
