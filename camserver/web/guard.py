"""HTTP connections a client cannot hold without using them.

aiohttp (before 3.14) has no deadline for a request's headers: a client that sends one header
byte a second (slowloris) keeps a connection, a socket and a task forever. :class:`HttpGuard`
puts a deadline of ``timeout`` seconds on every connection from the moment it opens, or its
previous response is handed back, until a whole request has been read and reaches a handler
(seen by :meth:`HttpGuard.middleware`). So it is both the header timeout and the idle keep-alive
timeout. A long response (a live ``.ts`` stream) is not bounded by it: while a handler runs,
the connection has no deadline; stalled stream viewers are the audience's business
(:mod:`camserver.outputs.audience`). It also caps connections per client address (loopback
exempt). Request bodies are bounded where they are read (:func:`read_body`).

:class:`GuardedSite` is aiohttp's site with the guard between the socket and aiohttp's protocol.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Any, Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ..outputs.audience import is_loopback
from ..ratelimit import RateLimitedLog, clip

log = logging.getLogger(__name__)


class _GuardedProtocol(asyncio.Protocol):
    """aiohttp's protocol for one connection, with a deadline armed while it is idle."""

    def __init__(self, inner: asyncio.Protocol, guard: "HttpGuard"):
        self.inner = inner
        self.guard = guard
        self.transport: asyncio.Transport | None = None
        self.address = "?"
        self.busy = 0
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.address = peer[0] if peer else "?"
        if not self.guard.open(self):
            transport.abort()
            return
        self.arm()
        self.inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm()
        self.guard.closed(self)
        self.inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def arm(self) -> None:
        self.disarm()
        self._deadline = asyncio.get_running_loop().call_later(self.guard.timeout, self._expired)

    def disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.busy == 0 and self.transport is not None:
            self.guard.expired(self)
            self.transport.abort()


class HttpGuard:
    def __init__(self, timeout: float = 10.0, max_per_address: int = 256):
        self.timeout = timeout
        self.max_per_address = max_per_address
        self._connections: dict[Any, _GuardedProtocol] = {}
        self._per_address: collections.Counter[str] = collections.Counter()
        self._log = RateLimitedLog(log)
        self.closed_idle = 0
        self.refused = 0

    def protocol_factory(self, inner: Callable[[], asyncio.Protocol]):
        return lambda: _GuardedProtocol(inner(), self)

    def open(self, connection: _GuardedProtocol) -> bool:
        address = connection.address
        if not is_loopback(address) and self._per_address[address] >= self.max_per_address:
            self.refused += 1
            self._log.log(logging.WARNING, f"http-cap:{address}",
                          "HTTP connection from %s refused: already %d open from there",
                          address, self.max_per_address)
            return False
        self._per_address[address] += 1
        self._connections[connection.transport] = connection
        return True

    def closed(self, connection: _GuardedProtocol) -> None:
        if self._connections.pop(connection.transport, None) is not None:
            self._per_address[connection.address] -= 1
            if self._per_address[connection.address] <= 0:
                del self._per_address[connection.address]

    def expired(self, connection: _GuardedProtocol) -> None:
        self.closed_idle += 1
        self._log.log(logging.INFO, "http-idle", "HTTP connection from %s closed: no complete "
                      "request in %g s", connection.address, self.timeout)

    @web.middleware
    async def middleware(self, request: web.Request, handler):
        connection = self._connections.get(request.transport)
        if connection is None:
            return await handler(request)
        connection.busy += 1
        connection.disarm()
        try:
            return await handler(request)
        finally:
            connection.busy -= 1
            if connection.busy == 0:
                connection.arm()  # the next request must come, whole, within the timeout

    def abort_all(self) -> None:
        for transport in list(self._connections):
            transport.abort()


class GuardedSite(web.BaseSite):
    """A TCP (or TLS) site whose connections go through ``guard``."""

    __slots__ = ("_host", "_port", "_guard")

    def __init__(self, runner: web.BaseRunner, host: str, port: int, guard: HttpGuard,
                 ssl_context=None):
        super().__init__(runner, ssl_context=ssl_context, backlog=1024)
        self._host, self._port, self._guard = host, port, guard

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        self._server = await asyncio.get_running_loop().create_server(
            self._guard.protocol_factory(self._runner.server), self._host, self._port,
            ssl=self._ssl_context, backlog=self._backlog, reuse_address=True,
            # The guard's deadline starts once TLS is up; the handshake gets the same one.
            **({"ssl_handshake_timeout": self._guard.timeout} if self._ssl_context else {}))


async def read_body(request: web.Request, limit: int, timeout: float) -> bytes:
    """The request's body: 413 over ``limit`` bytes, 408 if it takes over ``timeout`` s."""
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)

    async def read() -> bytes:
        chunks, size = [], 0
        while size <= limit and (chunk := await request.content.read(limit + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)

    try:
        body = await asyncio.wait_for(read(), timeout)
    except asyncio.TimeoutError:
        raise web.HTTPRequestTimeout(text=f"request body not received within {timeout:g} s\n")
    if len(body) > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(body))
    return body


class BadRequestLog(logging.Filter):
    """For the ``aiohttp.server`` logger: aiohttp logs every request it cannot parse (a header
    byte HTTP forbids, a line too long) as an ERROR with a traceback, so any peer could fill the
    log with them. Those become one WARNING line per client address a minute; anything else
    passes unchanged. The client got its 400 from aiohttp either way."""

    def __init__(self):
        super().__init__()
        self._log = RateLimitedLog(log, interval=60)

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError) or not 400 <= (exc.code or 0) < 500:
            return True
        address = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        reason = str(exc.message).strip().splitlines()[0] if exc.message else type(exc).__name__
        self._log.log(logging.WARNING, f"bad-request:{address}", "Bad HTTP request from %s: %s",
                      address, clip(reason, 120))
        return False
