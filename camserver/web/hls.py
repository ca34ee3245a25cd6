"""HLS over HTTP: ``/stream/<id>/index.m3u8`` and the segments next to it.

- The playlist needs ``read`` on the camera (rule ``hls-playlist``). It lives a second
  (``Cache-Control: max-age=1``): public when anonymous callers may read the camera, so a shared
  cache or CDN serves it to everyone, private otherwise.
- Segments and init segments (rule ``hls-segment``, a *signed* route: no credentials are looked
  at) are immutable: ``Cache-Control: public, max-age=31536000, immutable``. For a camera that
  anonymous callers may not read, their links carry a signature and an expiry
  (:mod:`camserver.access.signing`), checked by the access middleware; so a cache can keep them
  without credentials and serve them to every player of the same playlist.
- A segment no longer kept is a 404 that no cache keeps (``no-store``).

URIs in the playlist are relative to it, so the server may sit under a proxy's path prefix.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from ..outputs.hls import READY_SECONDS
from ..registry import TooManyWaiting, valid_camera_id
from ..services import Services
from .access import anonymous_may

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
#: Segment names (camserver.media.hls): <prefix>-<n>.m4s and <prefix>-init<n>.mp4.
SEGMENT_NAME = r"[a-z2-7]{8}-(?:init)?[0-9]{1,12}\.(?:m4s|mp4)"
IMMUTABLE = "public, max-age=31536000, immutable"


def add_routes(app: web.Application, services: Services) -> None:
    hls = services.hls
    registry = services.registry
    gate = services.gate

    def camera_id(request: web.Request) -> str:
        camera = request.match_info["id"]
        if not valid_camera_id(camera):
            raise web.HTTPBadRequest(text="bad camera id\n")
        return camera

    async def playlist(request: web.Request) -> web.Response:
        camera = camera_id(request)
        stream = registry.get(camera)
        if stream is None:
            if not registry.may_exist(camera):
                raise web.HTTPNotFound(text="no such camera\n",
                                       headers={"Cache-Control": "no-store"})
            # A declared camera (or any, without declarations) that is not connected yet: wait
            # for it a while, in one of the registry's bounded waiting slots, as viewers do.
            try:
                stream = await asyncio.wait_for(registry.wait_for(camera), READY_SECONDS)
            except (asyncio.TimeoutError, TooManyWaiting):
                raise web.HTTPServiceUnavailable(text="camera not connected\n", headers={
                    "Cache-Control": "no-store", "Retry-After": "2"}) from None
        public = anonymous_may(gate, "read", camera)
        text = await hls.playlist(stream, signed=not public)
        if text is None:
            raise web.HTTPServiceUnavailable(text="no video from this camera yet\n",
                                             headers={"Cache-Control": "no-store",
                                                      "Retry-After": "2"})
        return web.Response(text=text, content_type=PLAYLIST_TYPE, headers={
            "Cache-Control": f"{'public' if public else 'private'}, max-age=1"})

    async def segment(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        data = hls.segment(camera_id(request), name)
        if data is None:
            raise web.HTTPNotFound(text="no such segment (any more)\n",
                                   headers={"Cache-Control": "no-store"})
        return web.Response(body=data, content_type="video/mp4",
                            headers={"Cache-Control": IMMUTABLE})

    app.router.add_get("/stream/{id}/index.m3u8", playlist, name="hls-playlist")
    app.router.add_get("/stream/{id}/{name:" + SEGMENT_NAME + "}", segment, name="hls-segment")
