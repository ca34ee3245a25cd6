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
        #: fMP4: time camera frames only, not the init segment or repeat pictures.
        self.fmp4 = "format=fmp4" in path
        self.buffer = bytearray()
        self.handshaken = asyncio.get_running_loop().create_future()
        self.upgraded = False
        self.arrivals: list[float] = []   # monotonic time of each complete binary message
        self.bytes = 0                    # after the handshake
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
        if self.upgraded:
            self.bytes += len(data)
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.buffer.startswith(b"HTTP/1.1 101"):
                self.handshaken.set_exception(ConnectionError(bytes(self.buffer[:80])))
                return
            del self.buffer[:end + 4]
            self.bytes = len(self.buffer)
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
                if not self.fmp4 or _is_camera_fragment(buf, offset):
                    self.arrivals.append(now)
            del buf[:offset + length]

    def connection_lost(self, exc):
        if not self.closed.done():
            self.closed.set_result(exc)


def _is_camera_fragment(buf: bytearray, offset: int) -> bool:
    """An fMP4 fragment of a camera frame: a moof whose sample is not a repeat picture
    (sample_is_depended_on = 2, camserver/media/fmp4.py)."""
    if buf[offset + 4:offset + 8] != b"moof":
        return False
    trun = buf.find(b"trun", offset, offset + 200)
    flags = int.from_bytes(buf[trun + 24:trun + 28], "big")
    return (flags >> 22) & 3 != 2


async def open_viewer(host: str, port: int, path: str) -> ViewerProtocol:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(lambda: ViewerProtocol(path, host), host, port)
    await protocol.handshaken
    return protocol


class BulkViewers:
    """Many viewers that only count bytes: a load for the server, not a measurement.

    Parsing every frame of 2,000 viewers in Python costs the load generator more than the
    server it loads (60,000 messages a second). These sockets are drained every ``interval``
    seconds with plain non-blocking ``recv_into`` (the kernel's buffers hold the frames
    meanwhile), and only their byte counts are kept: every viewer that keeps up receives the
    same bytes, so a byte count equal to a timed viewer's (``ViewerProtocol``) means no frame
    was lost. They answer no pings, so a phase must end within the server's ping interval plus
    timeout (40 s on the viewer port).
    """

    def __init__(self, host: str, port: int, path: str, count: int):
        import socket
        self.sockets = []
        self.received: list[int] = []
        for _ in range(count):
            sock = socket.create_connection((host, port))
            key = base64.b64encode(os.urandom(16)).decode()
            sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\n"
                          f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                         .encode())
            response = b""
            while b"\r\n\r\n" not in response:
                chunk = sock.recv(4096)
                if not chunk:
                    raise ConnectionError("closed during the handshake")
                response += chunk
            if not response.startswith(b"HTTP/1.1 101"):
                raise ConnectionError(response[:80])
            sock.setblocking(False)
            self.sockets.append(sock)
            self.received.append(len(response) - response.index(b"\r\n\r\n") - 4)
        self._buffer = bytearray(1 << 20)

    def drain(self) -> None:
        view = memoryview(self._buffer)
        for i, sock in enumerate(self.sockets):
            while True:
                try:
                    n = sock.recv_into(view)
                except BlockingIOError:
                    break
                if not n:
                    break
                self.received[i] += n

    async def run(self, seconds: float, interval: float = 0.05) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            self.drain()
            await asyncio.sleep(interval)
        self.drain()

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
