"""The camera side: ``ws://HOST:8765[/<camera_id>]``, one binary message per JPEG.

A real ESP32 that only sends binary JPEGs needs nothing else. Optional extras:

- text messages are JSON objects; ``{"type": "hello", ...}`` (board, sensor, resolution, fps,
  firmware, current settings and the choices it accepts) and ``{"type": "config_ack", ...}`` are
  kept for /status (bounded: :mod:`camserver.ingest.control`), anything else is logged and
  ignored;
- credentials, where the server asks for them (``--camera-token``, or a config file whose
  anonymous callers may not ``publish``): ``Authorization: Bearer <token>`` or
  ``?token=<token>``, checked once, before the handshake, by :mod:`camserver.access.gate`.

Every binary message is checked (:func:`camserver.media.jpeg.inspect_jpeg`) before FFmpeg sees
it. A bad one is dropped with a rate-limited log line saying why; the connection and stream go
on. Nothing a camera sends is kept or logged unbounded (:mod:`camserver.ratelimit`).
"""

from __future__ import annotations

import http
import json
import logging
import time
import urllib.parse

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ..access.gate import Gate, Refusal
from ..media.jpeg import JpegError, inspect_jpeg
from ..messages import BadMessage, parse_object
from ..ratelimit import RateLimitedLog, clip
from ..registry import DEFAULT_ID, Registry, TooManyStreams, valid_camera_id
from .control import ack_from_message, hello_from_message

log = logging.getLogger(__name__)
_log = RateLimitedLog(log)

#: Text messages (hello, config_ack) are small; anything longer is refused unparsed.
MAX_TEXT_BYTES = 64 * 1024


def camera_id_from_path(path: str) -> str | None:
    """``/`` -> ``default``, ``/cam1`` -> ``cam1``; None for anything that is not a valid id."""
    route = urllib.parse.urlsplit(path).path.strip("/")
    if not route:
        return DEFAULT_ID
    return route if valid_camera_id(route) else None


class CameraEndpoint:
    def __init__(self, registry: Registry, max_frame_bytes: int, gate: Gate, tls: bool = False):
        self.registry = registry
        self.max_frame_bytes = max_frame_bytes
        self.gate = gate
        self.tls = tls
        self.connections = 0

    async def check_request(self, connection: ServerConnection,
                            request: Request) -> Response | None:
        """Refuse a bad id, a page of another site, or a caller that may not publish as this
        id, with a plain HTTP error before the WebSocket handshake."""
        camera_id = camera_id_from_path(request.path)
        if camera_id is None:
            return connection.respond(
                http.HTTPStatus.BAD_REQUEST,
                "Camera id must be 1-64 characters of A-Z a-z 0-9 _ -\n")
        try:
            self.gate.check_origin(request.headers)
            caller = await self.gate.identify(request.headers, request.path,
                                              connection.remote_address[0], self.tls)
            self.gate.check(caller, "publish", camera_id)
        except Refusal as refusal:
            _log.log(logging.WARNING, f"refused:{connection.remote_address[0]}",
                     "Camera %s from %s refused: %s", camera_id, connection.remote_address[0],
                     str(refusal).strip())
            response = connection.respond(refusal.status, str(refusal))
            if refusal.challenge:
                response.headers["WWW-Authenticate"] = 'Bearer realm="camserver"'
            return response
        connection.caller = caller
        return None

    async def handle(self, connection: ServerConnection) -> None:
        camera_id = camera_id_from_path(connection.request.path)
        peer = "%s:%s" % connection.remote_address[:2]
        try:
            stream = self.registry.get_or_create(camera_id)
        except TooManyStreams as exc:
            _log.log(logging.WARNING, "too-many-streams", "Camera %s from %s refused: %s",
                     camera_id, peer, exc)
            await connection.close(1013, "too many cameras")
            return
        previous = stream.attach_camera(connection, peer)
        self.registry.camera_connected(stream)
        self.connections += 1
        if previous is not None:
            _log.log(logging.INFO, f"{camera_id}:reconnect",
                     "Camera %s reconnected from %s; closing its previous connection",
                     camera_id, peer)
            # The old connection may be half-open (a camera that rebooted never said goodbye):
            # drop it without waiting for a closing handshake that would never come.
            if previous.transport is not None:
                previous.transport.abort()
        else:
            _log.log(logging.INFO, f"{camera_id}:connect", "Camera %s connected from %s",
                     camera_id, peer)
        try:
            async for message in connection:
                if isinstance(message, bytes):
                    self._frame(stream, message, time.monotonic())
                else:
                    self._text(stream, message)
        except ConnectionClosed:
            pass
        finally:
            self.connections -= 1
            stream.detach_camera(connection)
            if stream.camera is None:
                _log.log(logging.INFO, f"{camera_id}:disconnect", "Camera %s disconnected (%s)",
                         camera_id, clip(connection.close_reason or
                                         f"code {connection.close_code}", 120))

    def _frame(self, stream, message: bytes, arrived: float) -> None:
        try:
            info = inspect_jpeg(message, self.max_frame_bytes)
        except JpegError as exc:
            stream.reject_frame(exc.reason)
            _log.log(logging.WARNING, f"{stream.id}:{exc.reason}",
                     "Camera %s: dropped a frame: %s", stream.id, exc)
            return
        stream.receive_jpeg(message, info, arrived)

    def _text(self, stream, message: str) -> None:
        try:
            data = parse_object(message, MAX_TEXT_BYTES)
        except BadMessage as exc:
            _log.log(logging.WARNING, f"{stream.id}:{exc.reason}",
                     "Camera %s: ignored %s", stream.id, exc)
            return
        kind = data.get("type")
        if kind == "hello":
            stream.receive_hello(hello_from_message(data))
            _log.log(logging.INFO, f"{stream.id}:hello", "Camera %s: hello %s", stream.id,
                     clip(json.dumps(stream.hello), 400))
        elif kind == "config_ack":
            stream.receive_config_ack(ack_from_message(data))
            _log.log(logging.INFO, f"{stream.id}:config_ack",
                     "Camera %s: settings applied %s, rejected %s", stream.id,
                     clip(json.dumps(stream.last_config_ack["applied"])),
                     clip(json.dumps(stream.last_config_ack["rejected"])))
        else:
            _log.log(logging.INFO, f"{stream.id}:unknown-type",
                     "Camera %s: ignored a message of unknown type %s", stream.id,
                     clip(kind, 40))
