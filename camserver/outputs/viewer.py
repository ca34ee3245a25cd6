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
Without a camera id the viewer gets the first camera, waiting for one if there is none yet.
"""

from __future__ import annotations

import http
import json
import logging
import time
import urllib.parse

from websockets.asyncio.server import ServerConnection, broadcast
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .fanout import FORMATS, Viewer
from ..registry import Registry, TooManyStreams, valid_camera_id

log = logging.getLogger(__name__)


def parse_viewer_path(path: str) -> tuple[str | None, str]:
    """Return (camera id or None for "first camera", format); ValueError says what is wrong."""
    parts = urllib.parse.urlsplit(path)
    route = parts.path.strip("/")
    fmt = urllib.parse.parse_qs(parts.query).get("format", ["ts"])[0]
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if route and not valid_camera_id(route):
        raise ValueError("camera id must be 1-64 characters of A-Z a-z 0-9 _ -")
    return route or None, fmt


class WebSocketViewer(Viewer):
    def __init__(self, connection: ServerConnection, fmt: str):
        super().__init__(fmt, "%s:%s" % connection.remote_address[:2])
        self.connection = connection

    def send(self, message: bytes | str) -> None:
        # broadcast() writes without waiting for the peer: the policy in Fanout bounds what
        # piles up, using backlog() below.
        broadcast((self.connection,), message)

    def backlog(self) -> int:
        transport = self.connection.transport
        return transport.get_write_buffer_size() if transport is not None else 0


class ViewerEndpoint:
    def __init__(self, registry: Registry):
        self.registry = registry

    def check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        try:
            parse_viewer_path(request.path)
        except ValueError as exc:
            return connection.respond(http.HTTPStatus.BAD_REQUEST, f"{exc}\n")
        return None

    async def handle(self, connection: ServerConnection) -> None:
        camera_id, fmt = parse_viewer_path(connection.request.path)
        try:
            stream = (self.registry.get_or_create(camera_id) if camera_id
                      else await self.registry.wait_for_any())
        except TooManyStreams as exc:
            await connection.close(1013, str(exc))
            return
        viewer = WebSocketViewer(connection, fmt)
        log.info("Viewer %s watching camera %s (%s)", viewer.peer, stream.id, fmt)
        stream.fanout.add(viewer, hello={
            "type": "stream", "camera": stream.id, "format": fmt, "epoch_ms": stream.epoch_ms,
            "online": stream.camera is not None, "cameras": list(self.registry.streams)})
        try:
            async for message in connection:
                if isinstance(message, str):
                    self._control(viewer, message)
        except ConnectionClosed:
            pass
        finally:
            stream.fanout.remove(viewer)
            log.info("Viewer %s left camera %s (%d frames sent, %d skipped)", viewer.peer,
                     stream.id, viewer.frames_sent, viewer.frames_skipped)

    @staticmethod
    def _control(viewer: WebSocketViewer, message: str) -> None:
        try:
            data = json.loads(message)
        except ValueError:
            return
        if isinstance(data, dict) and data.get("type") == "ping":
            viewer.send(json.dumps({"type": "pong", "t": data.get("t"),
                                    "server_ms": time.time() * 1000}))
