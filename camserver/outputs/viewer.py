"""The viewer WebSocket: ``ws://HOST:8766[/<camera_id>][?format=ts|fmp4|mjpeg]``, and the same
protocol at ``/ws/<camera_id>?format=...`` on the HTTP port (one origin and one certificate
behind a proxy; see camserver/web/viewer_ws.py).

- ``ts`` (default): binary messages only, each the MPEG-TS packets of one frame. Concatenated,
  they are a stream any player reads (``ffplay``, VLC via a relay, mpegts.js).
- ``fmp4``: text ``{"type": "init", "codec", "width", "height"}`` then a binary init segment, then
  one binary fMP4 fragment per frame. A fragment's decode time is the frame's arrival time at the
  server in 90 kHz ticks after ``epoch_ms`` (sent in the first text message). Between frames come
  repeat pictures for browsers' MSE (flagged ``sample_is_depended_on = 2``); ``&repeats=0``
  leaves them out (the WebCodecs page: it draws each frame as it is decoded).
- ``mjpeg``: binary :data:`camserver.outputs.fanout.MJPEG_HEADER` + JPEG per frame.

For ``fmp4`` and ``mjpeg`` the first message is ``{"type": "stream", "camera", "format",
"epoch_ms", "online", "cameras", "control"}`` (``cameras``: those the caller may read;
``control``: whether it may change this camera's settings);
``{"type": "camera", "state": "online"|"offline"}`` follows when the camera comes and goes;
viewers whose caller may ``control`` the camera also get ``{"type": "config_ack", "camera",
"applied", "rejected"}`` when the camera answers settings and ``{"type": "settings", "camera",
"settings"}`` when it announces new ones (camserver.ingest.stream); a
text ``{"type": "ping", "t": X}`` from the viewer is answered by ``{"type": "pong", "t": X,
"server_ms": <server clock, Unix ms>}`` for clock-offset estimates.

Before the handshake (:meth:`ViewerEndpoint.refusal`): the path (400), the page's origin (403),
the caller's credentials (401, 429) and its ``read`` permission on the camera (401/403), the
camera id when cameras are declared (404), and room (503). Without a camera id the viewer gets
the first camera it may read. A viewer of a camera that is not there yet waits (creating
nothing, in a bounded number of waiting slots, :meth:`camserver.registry.Registry.wait_for`);
the stream message comes when the camera connects. Viewers are admitted, counted and watched
for stalls by :class:`~camserver.outputs.audience.Audience`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.parse
from typing import AsyncIterator, Awaitable, Callable

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from ..access.gate import Caller, Gate, Refusal
from ..messages import BadMessage, parse_object
from ..ratelimit import RateLimitedLog
from ..registry import Registry, TooManyWaiting, valid_camera_id
from .audience import Audience, Refused
from .fanout import FORMATS, Viewer
from .wsframe import Outgoing

log = logging.getLogger(__name__)
_log = RateLimitedLog(log)

#: Viewers only send small control messages (pings).
MAX_TEXT_BYTES = 4096


def parse_viewer_path(path: str, prefix: str = "") -> tuple[str | None, str]:
    """Return (camera id or None for "first camera", format); ValueError says what is wrong."""
    parts = urllib.parse.urlsplit(path)
    route = parts.path[len(prefix):] if prefix else parts.path
    route = route.strip("/")
    fmt = urllib.parse.parse_qs(parts.query).get("format", ["ts"])[0]
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    if route and not valid_camera_id(route):
        raise ValueError("camera id must be 1-64 characters of A-Z a-z 0-9 _ -")
    if urllib.parse.parse_qs(parts.query).get("repeats", ["1"])[0] not in ("0", "1"):
        raise ValueError("repeats must be 0 or 1")
    return route or None, fmt


def wants_repeats(path: str) -> bool:
    """``&repeats=0`` on an fMP4 viewer's URL: no repeat pictures (checked by
    :func:`parse_viewer_path`)."""
    return urllib.parse.parse_qs(urllib.parse.urlsplit(path).query).get("repeats") != ["0"]


class WebSocketViewer(Viewer):
    """A viewer on either WebSocket server: frames go straight to its transport (built once
    for all viewers, camserver.outputs.wsframe) while the connection is open."""

    def __init__(self, fmt: str, transport: asyncio.Transport, peer: str, address: str,
                 is_open: Callable[[], bool], session: str | None = None,
                 close: Callable[[], None] | None = None):
        super().__init__(fmt, peer, address)
        self.transport = transport
        self._is_open = is_open
        self._close = close
        self.session = session

    def send(self, item: Outgoing) -> None:
        if self._is_open() and not self.transport.is_closing():
            self.transport.write(item.framed)

    def backlog(self) -> int:
        return self.transport.get_write_buffer_size() if not self.transport.is_closing() else 0

    def abort(self) -> None:
        self.transport.abort()

    def close(self) -> None:
        if self._close is not None:
            self._close()


class ViewerEndpoint:
    def __init__(self, registry: Registry, audience: Audience, gate: Gate, tls: bool = False):
        self.registry = registry
        self.audience = audience
        self.gate = gate
        self.tls = tls

    # -- before the handshake (both servers) -----------------------------------------------------

    async def refusal(self, path: str, headers, peer: str, tls: bool,
                      prefix: str = "") -> tuple[int, str, bool] | Caller:
        """The caller if it may watch, else (status, reason, send a Basic challenge)."""
        try:
            camera_id, _ = parse_viewer_path(path, prefix)
        except ValueError as exc:
            return 400, f"{exc}\n", False
        try:
            self.gate.check_origin(headers)
            caller = await self.gate.identify(headers, path, peer, tls)
            self.gate.check(caller, "read", camera_id)
            if camera_id is not None and not self.registry.may_exist(camera_id):
                return 404, f"no camera {camera_id} here\n", False
            self.audience.check(caller.client.address)
        except Refusal as refusal:
            return refusal.status, str(refusal), refusal.challenge
        except Refused as exc:
            return 503, f"{exc}\n", False
        return caller

    async def check_request(self, connection: ServerConnection,
                            request: Request) -> Response | None:
        """websockets' hook on the viewer port."""
        result = await self.refusal(request.path, request.headers,
                                    connection.remote_address[0], self.tls)
        if not isinstance(result, Caller):
            status, reason, challenge = result
            response = connection.respond(status, reason)
            if challenge:
                response.headers["WWW-Authenticate"] = 'Basic realm="camserver"'
            return response
        connection.caller = result
        return None

    # -- after it --------------------------------------------------------------------------------

    async def handle(self, connection: ServerConnection) -> None:
        """The viewer port's connection handler."""
        camera_id, fmt = parse_viewer_path(connection.request.path)
        caller: Caller = connection.caller
        viewer = WebSocketViewer(
            fmt, connection.transport, "%s:%s" % connection.remote_address[:2],
            caller.client.address, lambda: connection.protocol.state is State.OPEN,
            caller.principal.session)
        viewer.repeats = viewer.repeats and wants_repeats(connection.request.path)

        async def controls() -> AsyncIterator[str]:
            try:
                async for message in connection:
                    if isinstance(message, str):
                        yield message
            except ConnectionClosed:
                pass

        async def close(code: int, reason: str) -> None:
            await connection.close(code, reason)

        await self.serve(viewer, caller, camera_id, fmt, controls(), close)

    async def serve(self, viewer: WebSocketViewer, caller: Caller, camera_id: str | None,
                    fmt: str, controls: AsyncIterator[str],
                    close: Callable[[int, str], Awaitable[None]]) -> None:
        """Admit ``viewer``, wait for its camera if need be, and feed it until it leaves.
        ``controls`` yields the viewer's text messages until the connection ends."""
        try:
            self.audience.admit(viewer)  # checked before the handshake; counted from here
        except Refused as exc:
            await close(1013, str(exc)[:120])
            return
        # Control messages (clock pings) are answered from the start, while waiting too.
        reader = asyncio.ensure_future(self._answer(viewer, controls))
        try:
            stream = await self._stream_for(caller, camera_id, reader, close)
            if stream is None:
                return
            _log.log(logging.INFO, f"join:{stream.id}", "Viewer %s (%s) watching camera %s (%s)",
                     viewer.peer, caller.principal.name, stream.id, fmt)
            viewer.may_control = caller.principal.may("control", stream.id)
            stream.fanout.add(viewer, hello={
                "type": "stream", "camera": stream.id, "format": fmt,
                "epoch_ms": stream.epoch_ms, "online": stream.camera is not None,
                "cameras": [c for c in self.registry.streams
                            if caller.principal.may("read", c)],
                "control": viewer.may_control})
            try:
                await reader
            finally:
                stream.fanout.remove(viewer)
                _log.log(logging.INFO, f"leave:{stream.id}",
                         "Viewer %s left camera %s (%d frames sent, %d skipped)", viewer.peer,
                         stream.id, viewer.frames_sent, viewer.frames_skipped)
        finally:
            reader.cancel()
            self.audience.leave(viewer)

    async def _stream_for(self, caller: Caller, camera_id: str | None, reader: asyncio.Future,
                          close: Callable[[int, str], Awaitable[None]]):
        """The camera's stream, waiting for the camera if need be; None if the viewer leaves
        first or there is no room to wait."""
        def readable(stream) -> bool:
            return caller.principal.may("read", stream.id)

        stream = self.registry.get(camera_id) if camera_id else self.registry.first(readable)
        if stream is not None:
            return stream
        arrival = asyncio.ensure_future(self.registry.wait_for(camera_id, readable))
        try:
            done, _ = await asyncio.wait((arrival, reader), return_when=asyncio.FIRST_COMPLETED)
        finally:
            arrival.cancel()
        if arrival not in done:
            return None
        try:
            return arrival.result()
        except TooManyWaiting as exc:
            await close(1013, str(exc)[:120])
            return None

    async def _answer(self, viewer: Viewer, controls: AsyncIterator[str]) -> None:
        async for message in controls:
            try:
                data = parse_object(message, MAX_TEXT_BYTES)
            except BadMessage:
                continue  # a viewer's malformed control message costs it nothing and us nothing
            t = data.get("t")
            if data.get("type") == "ping" and (t is None or isinstance(t, (int, float))):
                viewer._deliver(Outgoing(json.dumps({"type": "pong", "t": t,
                                                     "server_ms": time.time() * 1000})))
