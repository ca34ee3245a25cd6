"""The camera side: ``ws://HOST:8765[/<camera_id>]``, one binary message per JPEG.

A real ESP32 that only sends binary JPEGs needs nothing else. Optional extras:

- text messages are JSON; ``{"type": "hello", ...}`` (name, board, sensor, resolution, fps,
  firmware) is kept for /status, anything else is logged and ignored;
- a token, when the server has one: ``Authorization: Bearer <token>`` or ``?token=<token>``.

Every binary message is checked (:func:`camserver.jpeg.inspect_jpeg`) before FFmpeg sees it. A
bad one is dropped with a rate-limited log line saying why; the connection and stream go on.
"""

from __future__ import annotations

import hmac
import http
import json
import logging
import time
import urllib.parse

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ..media.jpeg import JpegError, inspect_jpeg
from ..ratelimit import RateLimitedLog
from ..registry import DEFAULT_ID, Registry, TooManyStreams, valid_camera_id

log = logging.getLogger(__name__)
_warn = RateLimitedLog(log)

# Hello fields kept for /status; anything else a camera sends is not ours to store.
_HELLO_FIELDS = {"camera_id": str, "name": str, "board": str, "sensor": str, "width": int,
                 "height": int, "fps": (int, float), "quality": int, "firmware": str,
                 "framesize": str}


def camera_id_from_path(path: str) -> str | None:
    """``/`` -> ``default``, ``/cam1`` -> ``cam1``; None for anything that is not a valid id."""
    route = urllib.parse.urlsplit(path).path.strip("/")
    if not route:
        return DEFAULT_ID
    return route if valid_camera_id(route) else None


def _token_from(request: Request) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.path).query)
    return query.get("token", [None])[0]


class CameraEndpoint:
    def __init__(self, registry: Registry, max_frame_bytes: int, token: str | None = None):
        self.registry = registry
        self.max_frame_bytes = max_frame_bytes
        self.token = token
        self.connections = 0

    def check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Refuse a bad id or token with a plain HTTP error before the WebSocket handshake."""
        if camera_id_from_path(request.path) is None:
            return connection.respond(
                http.HTTPStatus.BAD_REQUEST,
                "Camera id must be 1-64 characters of A-Z a-z 0-9 _ -\n")
        if self.token is not None:
            given = _token_from(request) or ""
            if not hmac.compare_digest(given.encode(), self.token.encode()):
                log.warning("Camera from %s refused: missing or wrong token",
                            connection.remote_address[0])
                return connection.respond(http.HTTPStatus.UNAUTHORIZED, "Wrong camera token\n")
        return None

    async def handle(self, connection: ServerConnection) -> None:
        camera_id = camera_id_from_path(connection.request.path)
        peer = "%s:%s" % connection.remote_address[:2]
        try:
            stream = self.registry.get_or_create(camera_id)
        except TooManyStreams as exc:
            log.warning("Camera %s from %s refused: %s", camera_id, peer, exc)
            await connection.close(1013, "too many cameras")
            return
        previous = stream.attach_camera(connection, peer)
        self.registry.camera_connected()
        self.connections += 1
        if previous is not None:
            log.info("Camera %s reconnected from %s; closing its previous connection",
                     camera_id, peer)
            # The old connection may be half-open (a camera that rebooted never said goodbye):
            # drop it without waiting for a closing handshake that would never come.
            if previous.transport is not None:
                previous.transport.abort()
        else:
            log.info("Camera %s connected from %s", camera_id, peer)
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
                log.info("Camera %s disconnected (%s)", camera_id,
                         connection.close_reason or f"code {connection.close_code}")

    def _frame(self, stream, message: bytes, arrived: float) -> None:
        try:
            info = inspect_jpeg(message, self.max_frame_bytes)
        except JpegError as exc:
            stream.reject_frame()
            _warn.log(logging.WARNING, f"{stream.id}:{exc}".split("(")[0],
                      "Camera %s: dropped a frame: %s", stream.id, exc)
            return
        stream.receive_jpeg(message, info, arrived)

    def _text(self, stream, message: str) -> None:
        try:
            data = json.loads(message)
        except ValueError:
            _warn.log(logging.WARNING, f"{stream.id}:json",
                      "Camera %s: ignored a text message that is not JSON: %.80r", stream.id,
                      message)
            return
        kind = data.get("type") if isinstance(data, dict) else None
        if kind == "hello":
            stream.hello = {k: v for k, v in data.items()
                            if k in _HELLO_FIELDS and isinstance(v, _HELLO_FIELDS[k])
                            and (not isinstance(v, str) or len(v) <= 64)}
            log.info("Camera %s: hello %s", stream.id, stream.hello)
        elif kind == "config_ack":
            stream.last_config_ack = {k: data.get(k) for k in ("applied", "rejected")}
            log.info("Camera %s: settings applied %s, rejected %s", stream.id,
                     data.get("applied"), data.get("rejected"))
        else:
            _warn.log(logging.INFO, f"{stream.id}:type:{kind}",
                      "Camera %s: ignored a message of unknown type %.40r", stream.id, kind)
