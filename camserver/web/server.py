"""The HTTP port (aiohttp): its routes, in one table at the end of :func:`make_app`.

- ``/`` and ``/mjpeg``: the H.264 and MJPEG pages; ``/static/...``: their scripts and style.
- ``/status``, ``/metrics``: :mod:`camserver.web.status`.
- ``/snapshot[/<id>].jpg``: the latest JPEG (Home Assistant's still image, Frigate's snapshot).
- ``/stream[/<id>].ts|.mjpeg``: :mod:`camserver.web.streams`.
- ``POST /api/cameras/<id>/config``: settings forwarded to the camera.
- ``/recordings``, ``/api/recordings...``: :mod:`camserver.web.recordings`.

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
from .guard import HttpGuard, read_body
from .recordings import add_routes as add_recording_routes
from .recordings import allow_all
from .status import prometheus_text, status
from .streams import live_handler

log = logging.getLogger(__name__)
_log = RateLimitedLog(log)

ROOT = Path(__file__).resolve().parents[2]
#: Settings messages are a few dozen bytes.
MAX_API_BODY = 64 * 1024


def make_app(services: Services, guard: HttpGuard) -> web.Application:
    registry = services.registry

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
        return web.json_response(status(services), headers={"Cache-Control": "no-store",
                                                            "Access-Control-Allow-Origin": "*"})

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text=prometheus_text(services), content_type="text/plain",
                            charset="utf-8", headers={"Cache-Control": "no-store"})

    async def snapshot(request: web.Request) -> web.Response:
        stream = stream_for(request)
        if stream.fanout.last_jpeg is None:
            raise web.HTTPServiceUnavailable(text="no frame yet\n")
        return web.Response(body=stream.fanout.last_jpeg[MJPEG_HEADER.size:],
                            content_type="image/jpeg", headers={"Cache-Control": "no-store"})

    async def configure_camera(request: web.Request) -> web.Response:
        """Forward settings to a connected camera (the firmware applies and saves them)."""
        stream = stream_for(request)
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

    app = web.Application(middlewares=[guard.middleware], client_max_size=MAX_API_BODY)
    app.router.add_get("/", index)
    app.router.add_get("/mjpeg", mjpeg_page)
    app.router.add_get("/status", get_status)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/api/cameras/{id}/config", configure_camera)
    app.router.add_get("/snapshot.jpg", snapshot)
    app.router.add_get("/snapshot/{id}.jpg", snapshot)
    live = live_handler(services, stream_for)
    app.router.add_get(r"/stream.{ext:ts|mjpeg}", live)
    app.router.add_get(r"/stream/{id}.{ext:ts|mjpeg}", live)
    app.router.add_static("/static", ROOT / "static")
    if services.recordings is not None:
        add_recording_routes(app, services.recordings, allow_all)
    return app
