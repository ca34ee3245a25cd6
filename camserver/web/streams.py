"""HTTP stream URLs for other software: ``/stream[/<id>].ts`` (VLC, ffmpeg, Frigate, go2rtc)
and ``/stream[/<id>].mjpeg`` (Home Assistant's MJPEG camera, any browser ``<img>``).

An HTTP stream viewer goes through the same :class:`~camserver.outputs.fanout.Fanout` policy as
a WebSocket viewer and is admitted and watched by the same
:class:`~camserver.outputs.audience.Audience`; its queue is a deque drained by one writer task.
"""

from __future__ import annotations

import asyncio
import collections
import logging

from aiohttp import web

from ..outputs.audience import Refused
from ..outputs.fanout import MJPEG_HEADER, Viewer
from ..outputs.wsframe import Outgoing
from ..ratelimit import RateLimitedLog
from ..services import Services

log = logging.getLogger(__name__)
_log = RateLimitedLog(log)

MJPEG_BOUNDARY = "frame"


class HttpViewer(Viewer):
    def __init__(self, fmt: str, request: web.Request, response: web.StreamResponse):
        address = request.remote or "?"
        peer = request.transport.get_extra_info("peername") if request.transport else None
        super().__init__(fmt, f"{address}:{peer[1]}" if peer else address, address)
        self.response = response
        self._transport = request.transport
        self._queue: collections.deque[bytes] = collections.deque()
        self._queued = 0
        self._wakeup = asyncio.Event()
        self._closed = False
        caller = request.get("caller")
        #: The login session it was opened with: logging out closes it (as a WebSocket viewer's).
        self.session = caller.principal.session if caller is not None else None

    def send(self, item: Outgoing) -> None:
        message = item.message
        if isinstance(message, str):
            return  # JSON events are for WebSocket viewers
        if self.format == "mjpeg":
            jpeg = memoryview(message)[MJPEG_HEADER.size:]
            message = b"".join((b"--" + MJPEG_BOUNDARY.encode(), b"\r\nContent-Type: image/jpeg"
                                b"\r\nContent-Length: ", str(len(jpeg)).encode(), b"\r\n\r\n",
                                jpeg, b"\r\n"))
        self._queue.append(message)
        self._queued += len(message)
        self._wakeup.set()

    def backlog(self) -> int:
        transport = self._transport
        # A closed TLS transport cannot say its buffer size (asyncio drops its SSL protocol).
        open_ = transport is not None and not transport.is_closing()
        return self._queued + (transport.get_write_buffer_size() if open_ else 0)

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()

    def abort(self) -> None:
        self.close()
        if self._transport is not None:
            self._transport.abort()

    async def run(self) -> None:
        """Write queued messages until the peer goes away or :meth:`close` is called."""
        while not self._closed:
            # aiohttp does not cancel a handler whose client left, and while the camera is
            # away no write would fail to tell us: look at the socket every few seconds.
            try:
                await asyncio.wait_for(self._wakeup.wait(), 5)
            except asyncio.TimeoutError:
                if self._transport is None or self._transport.is_closing():
                    return
                continue
            self._wakeup.clear()
            while self._queue and not self._closed:
                message = self._queue.popleft()
                self._queued -= len(message)
                await self.response.write(message)


def live_handler(services: Services, stream_for):
    """The handler of both stream URLs; ``stream_for(request)`` finds the camera or raises."""
    async def live(request: web.Request) -> web.StreamResponse:
        stream = stream_for(request)
        fmt = request.match_info["ext"]
        response = web.StreamResponse(headers={
            "Content-Type": "video/mp2t" if fmt == "ts"
            else f"multipart/x-mixed-replace; boundary={MJPEG_BOUNDARY}",
            "Cache-Control": "no-store"})
        viewer = HttpViewer(fmt, request, response)
        # Logging out ends the streams opened with the login (camserver/web/access.py).
        caller = request.get("caller")
        viewer.session = caller.principal.session if caller is not None else None
        try:
            services.audience.admit(viewer)
        except Refused as exc:
            raise web.HTTPServiceUnavailable(text=f"{exc}\n") from None
        try:
            await response.prepare(request)
            _log.log(logging.INFO, f"join:{stream.id}", "HTTP viewer %s watching camera %s (%s)",
                     viewer.peer, stream.id, fmt)
            stream.fanout.add(viewer)
            try:
                await viewer.run()
            except ConnectionResetError:
                pass
            finally:
                stream.fanout.remove(viewer)
                _log.log(logging.INFO, f"leave:{stream.id}", "HTTP viewer %s left camera %s",
                         viewer.peer, stream.id)
        finally:
            services.audience.leave(viewer)
        return response

    return live
