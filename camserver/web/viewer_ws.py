"""The viewer WebSocket on the HTTP port: ``/ws[/<camera_id>]?format=ts|fmp4|mjpeg``.

The same protocol, policy and checks as the viewer port (camserver.outputs.viewer): one origin
and one certificate are then enough behind a reverse proxy, and the pages connect here (a URL
relative to the page, so a path prefix carries over). The access middleware has already checked
the origin, the caller and its ``read`` permission; the rest (path, declared ids, room) is the
viewer endpoint's. No compression: media is already compressed, and per-connection deflate
would cost a core at a few hundred viewers. aiohttp answers pings and the closing handshake;
video frames go to the transport directly, like on the viewer port (never awaiting a viewer).
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator

from aiohttp import WSMsgType, web

from ..outputs.viewer import ViewerEndpoint, WebSocketViewer, parse_viewer_path, wants_repeats


def viewer_ws_handler(endpoint: ViewerEndpoint, tls: bool):
    async def ws(request: web.Request) -> web.StreamResponse:
        caller = request["caller"]
        peer = request.transport.get_extra_info("peername") if request.transport else None
        result = await endpoint.refusal(request.path_qs, request.headers,
                                        peer[0] if peer else "?", tls, prefix="/ws")
        if not hasattr(result, "principal"):
            status, reason, challenge = result
            headers = {"WWW-Authenticate": 'Basic realm="camserver"'} if challenge else None
            return web.Response(status=status, text=reason, headers=headers)
        camera_id, fmt = parse_viewer_path(request.path_qs, "/ws")
        socket = web.WebSocketResponse(compress=False, max_msg_size=64 * 1024, heartbeat=20)
        await socket.prepare(request)
        transport = request.transport
        viewer = WebSocketViewer(
            fmt, transport, f"{peer[0]}:{peer[1]}" if peer else "?", caller.client.address,
            lambda: not socket.closed, caller.principal.session,
            close=lambda: asyncio.ensure_future(socket.close()))
        viewer.repeats = viewer.repeats and wants_repeats(request.path_qs)

        async def controls() -> AsyncIterator[str]:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    yield message.data
                elif message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break

        async def close(code: int, reason: str) -> None:
            await socket.close(code=code, message=reason.encode())

        await endpoint.serve(viewer, caller, camera_id, fmt, controls(), close)
        if not socket.closed:
            await socket.close()
        return socket

    return ws
