"""The viewer side: ``ws://HOST:8766[/<camera_id>][?format=ts|fmp4|mjpeg]``.

- ``ts`` (default): binary messages only, each the MPEG-TS packets of one frame. Concatenated,
  they are a stream any player reads (``ffplay``, VLC via a relay, mpegts.js).
- ``fmp4``: text ``{"type": "init", "codec", "width", "height"}`` then a binary init segment, then
  one binary fMP4 fragment per frame. A fragment's decode time is the frame's arrival time at the
  server in 90 kHz ticks after ``epoch_ms`` (sent in the first text message).
- ``mjpeg``: binary :data:`camserver.fanout.MJPEG_HEADER` + JPEG per frame.

For ``fmp4`` and ``mjpeg`` the first message is ``{"type": "stream", "camera", "format",
"epoch_ms", "online", "cameras"}``; ``{"type": "camera", "state": "online"|"offline"}`` follows
when the camera comes and goes; a text ``{"type": "ping", "t": X}`` from the viewer is answered
by ``{"type": "pong", "t": X, "server_ms": <server clock, Unix ms>}`` for clock-offset estimates.
Without a camera id the viewer gets the first camera. A viewer of a camera that is not there yet
waits (creating nothing, in a bounded number of waiting slots,
:meth:`camserver.registry.Registry.wait_for`); the stream message comes when the camera connects. Viewers are admitted, counted and watched for stalls by
:class:`~camserver.outputs.audience.Audience`.
"""

from __future__ import annotations

import asyncio
import http
import json
import logging
import time
import urllib.parse

from websockets.asyncio.server import ServerConnection, broadcast
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ..messages import BadMessage, parse_object
from ..ratelimit import RateLimitedLog
from ..registry import Registry, TooManyWaiting, valid_camera_id
from .audience import Audience, Refused
from .fanout import FORMATS, Viewer

log = logging.getLogger(__name__)
_log = RateLimitedLog(log)

#: Viewers only send small control messages (pings).
MAX_TEXT_BYTES = 4096


def parse_viewer_path(path: str) -> tuple[str | None, str]:
    """Return (camera id or None for "first camera", format); ValueError says what is wrong."""
    parts = urllib.parse.urlsplit(path)
    route = parts.path.strip("/")
    fmt = urllib.parse.parse_qs(parts.query).get("format", ["ts"])[0]
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    if route and not valid_camera_id(route):
        raise ValueError("camera id must be 1-64 characters of A-Z a-z 0-9 _ -")
    return route or None, fmt


class WebSocketViewer(Viewer):
    def __init__(self, connection: ServerConnection, fmt: str):
        address, port = connection.remote_address[:2]
        super().__init__(fmt, f"{address}:{port}", address)
        self.connection = connection

    def send(self, message: bytes | str) -> None:
        # broadcast() writes without waiting for the peer: the policy in Fanout bounds what
        # piles up, using backlog() below.
        broadcast((self.connection,), message)

    def backlog(self) -> int:
        transport = self.connection.transport
        return transport.get_write_buffer_size() if transport is not None else 0

    def abort(self) -> None:
        if self.connection.transport is not None:
            self.connection.transport.abort()


class ViewerEndpoint:
    def __init__(self, registry: Registry, audience: Audience):
        self.registry = registry
        self.audience = audience

    def check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        try:
            parse_viewer_path(request.path)
        except ValueError as exc:
            return connection.respond(http.HTTPStatus.BAD_REQUEST, f"{exc}\n")
        try:
            self.audience.check(connection.remote_address[0])
        except Refused as exc:
            return connection.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, f"{exc}\n")
        return None

    async def handle(self, connection: ServerConnection) -> None:
        camera_id, fmt = parse_viewer_path(connection.request.path)
        viewer = WebSocketViewer(connection, fmt)
        try:
            self.audience.admit(viewer)  # checked before the handshake; counted from here
        except Refused as exc:
            await connection.close(1013, str(exc)[:120])
            return
        try:
            await self._serve(connection, viewer, camera_id, fmt)
        finally:
            self.audience.leave(viewer)

    async def _serve(self, connection: ServerConnection, viewer: WebSocketViewer,
                     camera_id: str | None, fmt: str) -> None:
        # Control messages (clock pings) are answered from the start, while waiting too.
        reader = asyncio.ensure_future(self._read_controls(connection, viewer))
        try:
            stream = await self._stream_for(connection, camera_id, reader)
            if stream is None:
                return
            _log.log(logging.INFO, f"join:{stream.id}", "Viewer %s watching camera %s (%s)",
                     viewer.peer, stream.id, fmt)
            stream.fanout.add(viewer, hello={
                "type": "stream", "camera": stream.id, "format": fmt,
                "epoch_ms": stream.epoch_ms, "online": stream.camera is not None,
                "cameras": list(self.registry.streams)})
            try:
                await reader
            finally:
                stream.fanout.remove(viewer)
                _log.log(logging.INFO, f"leave:{stream.id}",
                         "Viewer %s left camera %s (%d frames sent, %d skipped)", viewer.peer,
                         stream.id, viewer.frames_sent, viewer.frames_skipped)
        finally:
            reader.cancel()

    async def _stream_for(self, connection: ServerConnection, camera_id: str | None,
                          reader: asyncio.Future):
        """The camera's stream, waiting for the camera if need be; None if the viewer leaves
        first or there is no room to wait."""
        stream = self.registry.get(camera_id) if camera_id else self.registry.first()
        if stream is not None:
            return stream
        arrival = asyncio.ensure_future(self.registry.wait_for(camera_id))
        try:
            done, _ = await asyncio.wait((arrival, reader), return_when=asyncio.FIRST_COMPLETED)
        finally:
            arrival.cancel()
        if arrival not in done:
            return None
        try:
            return arrival.result()
        except TooManyWaiting as exc:
            await connection.close(1013, str(exc)[:120])
            return None

    async def _read_controls(self, connection: ServerConnection, viewer: WebSocketViewer) -> None:
        try:
            async for message in connection:
                if isinstance(message, str):
                    self._control(viewer, message)
        except ConnectionClosed:
            pass

    @staticmethod
    def _control(viewer: WebSocketViewer, message: str) -> None:
        try:
            data = parse_object(message, MAX_TEXT_BYTES)
        except BadMessage:
            return  # a viewer's malformed control message costs it nothing and us nothing
        t = data.get("t")
        if data.get("type") == "ping" and (t is None or isinstance(t, (int, float))):
            viewer.send(json.dumps({"type": "pong", "t": t, "server_ms": time.time() * 1000}))
