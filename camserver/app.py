"""Start the three servers, run until SIGINT/SIGTERM, and stop everything in order.

Exit codes: 0 after a signal, 2 for a port already in use or another start-up error (with one
clear log line and no traceback), 1 for anything unexpected.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import signal
import sys

from aiohttp import web
from websockets.asyncio.server import serve

from .ingest.camera import CameraEndpoint
from .config import Settings, parse_settings
from .ingest.ffmpeg import FfmpegNotFound, choose_encoder, ffmpeg_version, find_ffmpeg
from .registry import Registry
from .ingest.stream import CameraStream
from .outputs.viewer import ViewerEndpoint
from .recording import settings as recording_settings
from .recording.manager import RecordingManager
from .web.server import make_app

log = logging.getLogger("camserver")


class StartupError(Exception):
    pass


def _bind_error(what: str, flag: str, port: int, exc: OSError) -> StartupError:
    if exc.errno == errno.EADDRINUSE:
        return StartupError(f"Port {port} is already in use ({what}); stop the program using it "
                            f"or choose another port with {flag}")
    return StartupError(f"Cannot listen on port {port} ({what}): {exc.strerror or exc}")


async def run(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Serve until ``stop`` is set (or a signal arrives); raise StartupError if we cannot."""
    stop = stop or asyncio.Event()
    try:
        ffmpeg = find_ffmpeg(settings.ffmpeg)
    except FfmpegNotFound as exc:
        raise StartupError(str(exc)) from None
    log.info("Using FFmpeg %s at %s", ffmpeg_version(ffmpeg), ffmpeg)
    try:
        encoder = await choose_encoder(ffmpeg, settings.encoder)
    except RuntimeError as exc:
        raise StartupError(str(exc)) from None
    log.info("H.264 encoder: %s (bitrate %s, keyframe every %g s)", encoder.name,
             settings.bitrate, settings.gop)

    new_stream = functools.partial(
        CameraStream, ffmpeg=ffmpeg, encoder=encoder, bitrate=settings.bitrate, gop=settings.gop,
        grace=settings.grace, viewer_buffer_bytes=settings.viewer_buffer_bytes)
    # -- recording (issue 12): a recorder joins each stream as it is made --
    try:
        recording_config = recording_settings.load(
            settings.recording_config, record_all=settings.record, record_dir=settings.record_dir)
    except ValueError as exc:
        raise StartupError(f"Recording settings: {exc}") from None
    recordings = RecordingManager(recording_config)
    await recordings.start()

    def make_stream(camera_id: str) -> CameraStream:
        stream = new_stream(camera_id)
        recordings.attach(stream)
        return stream
    # -- end recording --

    registry = Registry(make_stream, settings.max_streams)
    cameras = CameraEndpoint(registry, settings.max_frame_bytes, settings.camera_token)
    viewers = ViewerEndpoint(registry)

    runner = web.AppRunner(make_app(registry, cameras, encoder.name, recordings),
                           access_log=None)
    await runner.setup()
    servers = []
    try:
        site = web.TCPSite(runner, settings.host, settings.http_port)
        try:
            await site.start()
        except OSError as exc:
            raise _bind_error("HTTP", "--http-port", settings.http_port, exc) from None
        log.info("HTTP server started on port %d", settings.http_port)
        try:
            servers.append(await serve(
                cameras.handle, settings.host, settings.camera_port,
                process_request=cameras.check_request,
                # Room for a frame over the limit to be refused with a log line, not a closed
                # connection; far larger messages close the connection (1009).
                max_size=max(4 * settings.max_frame_bytes, 8 * 1024 * 1024),
                compression=None, ping_interval=10, ping_timeout=20))
        except OSError as exc:
            raise _bind_error("camera WebSocket", "--camera-port", settings.camera_port,
                              exc) from None
        log.info("Camera WebSocket server started on port %d", settings.camera_port)
        try:
            servers.append(await serve(
                viewers.handle, settings.host, settings.viewer_port,
                process_request=viewers.check_request, max_size=64 * 1024,
                # Media is already compressed; per-connection deflate would cost a core at a few
                # hundred viewers.
                compression=None, ping_interval=20, ping_timeout=20))
        except OSError as exc:
            raise _bind_error("viewer WebSocket", "--viewer-port", settings.viewer_port,
                              exc) from None
        log.info("Viewer WebSocket server started on port %d", settings.viewer_port)
        log.info("Server is ready!")
        pruner = asyncio.create_task(_prune_forever(registry, settings.grace))
        await stop.wait()
        log.info("Shutting down")
        pruner.cancel()
    finally:
        for server in servers:
            server.close()
        await registry.shutdown()
        await recordings.close()  # after the encoders: their last frames are in the files
        for server in servers:
            await server.wait_closed()
        await runner.cleanup()
        log.info("Stopped")


async def _prune_forever(registry: Registry, grace: float) -> None:
    while True:
        await asyncio.sleep(max(1.0, grace / 3))
        await registry.prune(grace)


async def _main(settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await run(settings, stop)
    except StartupError as exc:
        log.error("%s", exc)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    settings = parse_settings(argv)
    logging.basicConfig(level=settings.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("websockets").setLevel(max(logging.WARNING, logging.root.level))
    logging.getLogger("aiohttp").setLevel(max(logging.WARNING, logging.root.level))
    return asyncio.run(_main(settings))
