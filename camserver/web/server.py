"""The HTTP port (aiohttp): its routes, in one table at the end of :func:`make_app`.

- ``/`` and ``/mjpeg``: the H.264 and MJPEG pages, ``/cameras``: every camera at a glance;
  ``/static/...``: their scripts and style.
- ``/status``, ``/metrics``: :mod:`camserver.web.status`.
- ``/snapshot[/<id>].jpg``: the latest JPEG (Home Assistant's still image, Frigate's snapshot).
- ``/stream[/<id>].ts|.mjpeg``: :mod:`camserver.web.streams`.
- ``/stream/<id>/index.m3u8`` and its segments: :mod:`camserver.web.hls`.
- ``POST /api/cameras/<id>/config``: settings forwarded to the camera.
- ``/recordings``, ``/api/recordings...``: :mod:`camserver.web.recordings`.
- ``/ws[/<id>]``: the viewer WebSocket (:mod:`camserver.web.viewer_ws`).
- ``/login``, ``/logout``, ``/api/cameras``: :mod:`camserver.web.access`, which also holds the
  access rule of every route and the middleware that checks it.

Every connection goes through :class:`~camserver.web.guard.HttpGuard` (deadlines, per-address
cap); request bodies are read with :func:`~camserver.web.guard.read_body` (size, time).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from aiohttp import web

from ..ingest.control import ControlError, config_message
from ..messages import BadMessage, parse_object
from ..outputs.fanout import MJPEG_HEADER
from ..ratelimit import RateLimitedLog, clip
from ..registry import valid_camera_id
from ..services import Services
from . import access
from .guard import HttpGuard, read_body
from .hls import add_routes as add_hls_routes
from .recordings import add_routes as add_recording_routes
from .viewer_ws import viewer_ws_handler
from .status import prometheus_text, status
from .streams import live_handler

log = logging.getLogger(__name__)
_log = RateLimitedLog(log)

ROOT = Path(__file__).resolve().parents[2]
#: Settings messages are a few dozen bytes.
MAX_API_BODY = 64 * 1024


def make_app(services: Services, guard: HttpGuard) -> web.Application:
    registry = services.registry
    gate = services.gate
    tls = services.tls

    def stream_for(request: web.Request):
        camera_id = request.match_info.get("id")
        if camera_id is None:
            # The first camera *this caller may read*: the route's rule only asked whether it
            # may read some camera.
            principal = request["caller"].principal
            stream = registry.first(lambda s: principal.may("read", s.id))
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

    async def cameras_page(request: web.Request) -> web.FileResponse:
        return web.FileResponse(ROOT / "cameras.html", headers={"Cache-Control": "no-cache"})

    def cors(request: web.Request) -> dict:
        # Only the origins the user listed (--allowed-origins) may read these from their pages.
        origin = request.headers.get("Origin", "")
        if origin.rstrip("/").lower() in gate.allowed_origins:
            return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        return {}

    async def get_status(request: web.Request) -> web.Response:
        return web.json_response(status(services), headers={"Cache-Control": "no-store",
                                                            **cors(request)})

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text=prometheus_text(services), content_type="text/plain",
                            charset="utf-8", headers={"Cache-Control": "no-store",
                                                      **cors(request)})

    async def snapshot(request: web.Request) -> web.Response:
        stream = stream_for(request)
        if stream.fanout.last_jpeg is None:
            raise web.HTTPServiceUnavailable(text="no frame yet\n")
        return web.Response(body=stream.fanout.last_jpeg[MJPEG_HEADER.size:],
                            content_type="image/jpeg", headers={"Cache-Control": "no-store"})

    async def configure_camera(request: web.Request) -> web.Response:
        """Forward settings to a connected camera (the firmware applies and saves them)."""
        stream = stream_for(request)
        if request.content_type != "application/json":
            # A cross-site form can post text/plain without asking; JSON needs a preflight.
            raise web.HTTPUnsupportedMediaType(text="send the settings as application/json\n")
        body = await read_body(request, MAX_API_BODY, services.settings.http_timeout)
        try:
            message = config_message(parse_object(body, MAX_API_BODY))
        except (BadMessage, ControlError) as exc:
            raise web.HTTPBadRequest(text=f"{exc}\n") from None
        if stream.camera is None:
            raise web.HTTPConflict(text="camera is not connected\n")
        await stream.camera.send(json.dumps(message))
        _log.log(logging.INFO, f"config:{stream.id}", "Camera %s: sent settings %s", stream.id,
                 clip(json.dumps(message)))
        return web.json_response({"sent": message}, status=202)

    def cameras_listing() -> list[dict]:
        """Every camera a page may list: the online and recent ones and the declared ones, with
        what the dashboard shows (frame rate in, viewers). ``settings`` (the camera's hello:
        current settings and the choices it accepts) and ``config_ack`` (its last answer to
        settings) are for callers who may ``control`` it: access.py leaves them out for others."""
        names = {camera_id: table.get("name") for camera_id, table in
                 services.settings.document.get("camera", {}).items() if camera_id != "*"}
        listed = []
        for camera_id in dict.fromkeys([*registry.streams, *names]):
            stream = registry.get(camera_id)
            figures = stream.status() if stream is not None else {}
            camera = {"id": camera_id, "name": names.get(camera_id) or camera_id,
                      "online": stream is not None and stream.camera is not None,
                      "width": stream.size[0] if stream and stream.size else None,
                      "height": stream.size[1] if stream and stream.size else None,
                      "fps": figures.get("fps"), "kbps": figures.get("kbps"),
                      "viewers": figures.get("viewers", 0), "codec": figures.get("codec"),
                      "settings": stream.hello if stream is not None else {},
                      "config_ack": stream.last_config_ack if stream is not None else None}
            if services.recordings is not None:
                camera["recording"] = services.recordings.camera_status(camera_id)
            listed.append(camera)
        return listed

    signer = services.hls.signer if services.hls is not None else None
    app = web.Application(middlewares=[guard.middleware,
                                       access.make_middleware(gate, tls, signer)],
                          client_max_size=MAX_API_BODY)
    app.router.add_get("/", index, name="page-h264")
    app.router.add_get("/mjpeg", mjpeg_page, name="page-mjpeg")
    app.router.add_get("/cameras", cameras_page, name="page-cameras")
    app.router.add_get("/status", get_status, name="status")
    app.router.add_get("/metrics", metrics, name="metrics")
    app.router.add_post("/api/cameras/{id}/config", configure_camera, name="camera-config")
    app.router.add_get("/snapshot.jpg", snapshot, name="snapshot-first")
    app.router.add_get("/snapshot/{id}.jpg", snapshot, name="snapshot")
    live = live_handler(services, stream_for)
    app.router.add_get(r"/stream.{ext:ts|mjpeg}", live, name="stream-first")
    app.router.add_get(r"/stream/{id}.{ext:ts|mjpeg}", live, name="stream")
    ws = viewer_ws_handler(services.viewers, tls)
    app.router.add_get("/ws", ws, name="ws-first")
    app.router.add_get("/ws/{id}", ws, name="ws")
    app.router.add_static("/static", ROOT / "static", name="static")
    access.add_routes(app, gate, services.sessions, services.audience, tls, cameras_listing)
    if services.recordings is not None:
        add_recording_routes(app, services.recordings, access.authorize(gate))
    if services.hls is not None:
        add_hls_routes(app, services)
    return app
