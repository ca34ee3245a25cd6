"""HTTP (aiohttp): the two web pages, /status, and stream URLs for other software.

- ``/`` and ``/mjpeg``: the H.264 and MJPEG pages; ``/static/...``: their shared script and style.
- ``/status``: JSON, see :func:`status`.
- ``/snapshot[/<id>].jpg``: the latest JPEG (Home Assistant's still image, Frigate's snapshot).
- ``/stream[/<id>].ts``: MPEG-TS over HTTP (VLC, ffmpeg/ffprobe, Frigate/go2rtc inputs).
- ``/stream[/<id>].mjpeg``: multipart MJPEG (Home Assistant's MJPEG camera, any browser <img>).

HTTP stream viewers go through the same :class:`~camserver.fanout.Fanout` policy as WebSocket
viewers; their queue is a deque drained by one writer task each.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
from pathlib import Path

from aiohttp import web

from ..ingest.control import ControlError, config_message
from ..outputs.fanout import MJPEG_HEADER, Viewer
from ..registry import Registry, valid_camera_id

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
MJPEG_BOUNDARY = "frame"


class HttpViewer(Viewer):
    def __init__(self, fmt: str, request: web.Request, response: web.StreamResponse):
        super().__init__(fmt, request.remote or "?")
        self.response = response
        self._transport = request.transport
        self._queue: collections.deque[bytes] = collections.deque()
        self._queued = 0
        self._wakeup = asyncio.Event()

    def send(self, message: bytes | str) -> None:
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
        return self._queued + (transport.get_write_buffer_size() if transport else 0)

    def close(self) -> None:
        self._closed = True
        self._wakeup.set()

    async def run(self) -> None:
        """Write queued messages until the peer goes away or :meth:`close` is called."""
        self._closed = False
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


def status(registry: Registry, camera_endpoint, encoder_name: str, recordings=None) -> dict:
    cameras = [stream.status() for stream in registry.streams.values()]
    if recordings is not None:  # recording (issue 12)
        for camera in cameras:
            camera["recording"] = recordings.camera_status(camera["id"])
    return {
        "camera_clients": camera_endpoint.connections,
        "viewer_clients": sum(c["viewers"] for c in cameras),
        "streaming": any(c["online"] and c["frames_encoded"] for c in cameras),
        "encoder": encoder_name,
        "cameras": cameras,
    }


# name, type, help, key in CameraStream.status(); exposition format written by hand: it is a
# dozen lines of text and saves a dependency.
_METRICS = (
    ("camserver_camera_online", "gauge", "1 while the camera is connected", "online"),
    ("camserver_frames_received_total", "counter", "JPEG frames accepted", "frames_in"),
    ("camserver_frames_encoded_total", "counter", "H.264 frames produced", "frames_encoded"),
    ("camserver_frames_dropped_total", "counter", "frames rejected or dropped", "frames_dropped"),
    ("camserver_fps", "gauge", "frames per second received", "fps"),
    ("camserver_video_kbps", "gauge", "H.264 MPEG-TS bitrate", "kbps"),
    ("camserver_bytes_sent_total", "counter", "bytes sent to viewers", "bytes_out"),
    ("camserver_viewers", "gauge", "connected viewers", "viewers"),
    ("camserver_server_delay_p50_ms", "gauge", "median server-added delay",
     "server_delay_ms_p50"),
    ("camserver_server_delay_p99_ms", "gauge", "99th percentile server-added delay",
     "server_delay_ms_p99"),
    ("camserver_encoder_starts_total", "counter", "FFmpeg starts", "encoder_starts"),
)


def prometheus_text(registry: Registry, camera_endpoint) -> str:
    cameras = [stream.status() for stream in registry.streams.values()]
    lines = ["# HELP camserver_camera_clients connected cameras",
             "# TYPE camserver_camera_clients gauge",
             f"camserver_camera_clients {camera_endpoint.connections}"]
    for name, kind, help_text, key in _METRICS:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        for camera in cameras:
            value = camera[key]
            if value is not None:
                lines.append(f'{name}{{camera="{camera["id"]}"}} {float(value):g}')
    return "\n".join(lines) + "\n"


def make_app(registry: Registry, camera_endpoint, encoder_name: str, recordings=None,
             authorize=None) -> web.Application:
    """``recordings``: a RecordingManager (issue 12), whose routes are added with ``authorize``
    as their permission hook (see web/recordings.py; default: allow all)."""
    def stream_for(request: web.Request):
        camera_id = request.match_info.get("id")
        if camera_id is None:
            stream = registry.first()
        elif not valid_camera_id(camera_id):
            raise web.HTTPBadRequest(text="bad camera id\n")
        else:
            stream = registry.get(camera_id)
        if stream is None:
            raise web.HTTPNotFound(text="no such camera (yet)\n")
        return stream

    async def index(request: web.Request) -> web.FileResponse:
        return web.FileResponse(ROOT / "client.html", headers={"Cache-Control": "no-cache"})

    async def mjpeg_page(request: web.Request) -> web.FileResponse:
        return web.FileResponse(ROOT / "client_mjpeg.html", headers={"Cache-Control": "no-cache"})

    async def get_status(request: web.Request) -> web.Response:
        return web.json_response(status(registry, camera_endpoint, encoder_name, recordings),
                                 headers={"Cache-Control": "no-store",
                                          "Access-Control-Allow-Origin": "*"})

    async def snapshot(request: web.Request) -> web.Response:
        stream = stream_for(request)
        if stream.fanout.last_jpeg is None:
            raise web.HTTPServiceUnavailable(text="no frame yet\n")
        return web.Response(body=stream.fanout.last_jpeg[MJPEG_HEADER.size:],
                            content_type="image/jpeg", headers={"Cache-Control": "no-store"})

    async def live(request: web.Request) -> web.StreamResponse:
        stream = stream_for(request)
        fmt = request.match_info["ext"]
        response = web.StreamResponse(headers={
            "Content-Type": "video/mp2t" if fmt == "ts"
            else f"multipart/x-mixed-replace; boundary={MJPEG_BOUNDARY}",
            "Cache-Control": "no-store"})
        await response.prepare(request)
        viewer = HttpViewer(fmt, request, response)
        log.info("HTTP viewer %s watching camera %s (%s)", viewer.peer, stream.id, fmt)
        stream.fanout.add(viewer)
        http_viewers.add(viewer)
        try:
            await viewer.run()
        except ConnectionResetError:
            pass
        finally:
            http_viewers.discard(viewer)
            stream.fanout.remove(viewer)
            log.info("HTTP viewer %s left camera %s", viewer.peer, stream.id)
        return response

    async def configure_camera(request: web.Request) -> web.Response:
        """Forward settings to a connected camera (the firmware applies and saves them)."""
        stream = stream_for(request)
        try:
            message = config_message(await request.json())
        except (ValueError, ControlError) as exc:
            raise web.HTTPBadRequest(text=f"{exc}\n") from None
        if stream.camera is None:
            raise web.HTTPConflict(text="camera is not connected\n")
        await stream.camera.send(json.dumps(message))
        log.info("Camera %s: sent settings %s", stream.id, message)
        return web.json_response({"sent": message}, status=202)

    async def metrics(request: web.Request) -> web.Response:
        text = prometheus_text(registry, camera_endpoint)
        if recordings is not None:
            text += recordings.metrics_text()
        return web.Response(text=text,
                            content_type="text/plain", charset="utf-8",
                            headers={"Cache-Control": "no-store"})

    http_viewers: set[HttpViewer] = set()

    async def close_http_viewers(app: web.Application) -> None:
        for viewer in list(http_viewers):
            viewer.close()

    app = web.Application()
    app.on_shutdown.append(close_http_viewers)
    app.router.add_get("/", index)
    app.router.add_get("/mjpeg", mjpeg_page)
    app.router.add_get("/status", get_status)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/api/cameras/{id}/config", configure_camera)
    app.router.add_get("/snapshot.jpg", snapshot)
    app.router.add_get("/snapshot/{id}.jpg", snapshot)
    app.router.add_get(r"/stream.{ext:ts|mjpeg}", live)
    app.router.add_get(r"/stream/{id}.{ext:ts|mjpeg}", live)
    app.router.add_static("/static", ROOT / "static")
    if recordings is not None:  # recording (issue 12)
        from .recordings import add_routes, allow_all
        add_routes(app, recordings, authorize or allow_all)
    return app
