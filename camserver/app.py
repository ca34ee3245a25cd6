"""Start the three servers, run until SIGINT/SIGTERM, and stop everything in order.

Exit codes: 0 after a signal, 2 for a port already in use or another start-up error (with one
clear log line and no traceback), 1 for anything unexpected.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import functools
import logging
import getpass
import signal
import sys
from dataclasses import dataclass

from aiohttp import web
from websockets.asyncio.server import serve

from .access.accounts import Accounts
from .access.credentials import TrustedProxies
from .access.gate import Gate
from .access.passwords import hash_password
from .access.sessions import SessionStore
from .access.tls import ServerCertificate, TlsError
from .config import ConfigError, Settings, parse_settings, readable_by_others
from .ingest.camera import CameraEndpoint
from .ingest.ffmpeg import FfmpegNotFound, choose_encoder, ffmpeg_version, find_ffmpeg
from .ingest.stream import CameraStream
from .loopwatch import LoopMonitor
from .outputs import targets
from .outputs.audience import Audience
from .outputs.hls import HlsManager
from .outputs.restream import RestreamManager
from .access.signing import UrlSigner
from .outputs.viewer import ViewerEndpoint
from .recording import settings as recording_settings
from .recording.settings import CAMERA_KEYS, RecordingConfig
from .recording.manager import RecordingManager
from .registry import Registry, valid_camera_id
from .services import Services
from .web.guard import BadRequestLog, GuardedSite, HttpGuard
from .web.server import make_app

log = logging.getLogger("camserver")


class StartupError(Exception):
    pass


def _bind_error(what: str, flag: str, port: int, exc: OSError) -> StartupError:
    if exc.errno == errno.EADDRINUSE:
        return StartupError(f"Port {port} is already in use ({what}); stop the program using it "
                            f"or choose another port with {flag}")
    return StartupError(f"Cannot listen on port {port} ({what}): {exc.strerror or exc}")


@dataclass(frozen=True)
class Configured:
    """What the config file says beyond [server], checked before anything starts."""
    accounts: Accounts
    recording: RecordingConfig
    #: Restream targets: camera id (or "*", URLs with {camera}) -> URLs.
    restream: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)


CAMERA_TABLE_KEYS = ("name", "restream", *CAMERA_KEYS)


def _restream_plan(settings: Settings, cameras: dict, where: str) -> dict[str, tuple[str, ...]]:
    """[camera.<id>] restream lists (checked) plus --restream ID=URL; ValueError names the key.
    A camera's own list replaces [camera."*"]'s, as for every camera key."""
    plan: dict[str, tuple[str, ...]] = {}
    for camera_id, table in cameras.items():
        if "restream" not in table:
            continue
        urls = table["restream"]
        key = f"{where}: camera.{camera_id}.restream"
        if not isinstance(urls, list):
            raise ValueError(f"{key}: a list of URLs, e.g. [\"rtmp://host/live/key\"]")
        for n, url in enumerate(urls):
            try:
                targets.check_url(targets.for_camera(url, "x") if isinstance(url, str) else url)
            except ValueError as exc:
                raise ValueError(f"{key}[{n}]: {exc}") from None
            if camera_id == "*" and targets.CAMERA_PLACEHOLDER not in url:
                raise ValueError(f"{key}[{n}]: a URL for every camera needs {{camera}} in it")
        plan[camera_id] = tuple(dict.fromkeys(urls))
    for camera_id, url in settings.restream:
        plan[camera_id] = tuple(dict.fromkeys((*plan.get(camera_id, ()), url)))
    return plan


def configure(settings: Settings) -> Configured:
    """Check the config file's tables; ConfigError names the first bad key."""
    where = settings.config or "config"
    document = settings.document
    try:
        accounts = Accounts.from_document(document, settings.camera_token, where)
        cameras = document.get("camera", {})
        if not isinstance(cameras, dict):
            raise ValueError(f"{where}: camera: write cameras as [camera.<id>] tables")
        for camera_id, table in cameras.items():
            if camera_id != "*" and not valid_camera_id(camera_id):
                raise ValueError(f"{where}: camera.{camera_id}: camera ids are 1-64 characters "
                                 "of A-Z a-z 0-9 _ -")
            if not isinstance(table, dict):
                raise ValueError(f"{where}: camera.{camera_id}: must be a table")
            for key, value in table.items():
                if key not in CAMERA_TABLE_KEYS:
                    raise ValueError(f"{where}: camera.{camera_id}.{key}: unknown setting "
                                     f"(known: {', '.join(CAMERA_TABLE_KEYS)})")
            name = table.get("name")
            if name is not None and (not isinstance(name, str) or not 0 < len(name) <= 64):
                raise ValueError(f"{where}: camera.{camera_id}.name: 1-64 characters")
        recording = recording_settings.parse_config(
            document, record_all=settings.record, record_dir=settings.record_dir)
        restream = _restream_plan(settings, cameras, where)
    except ValueError as exc:
        message = str(exc)
        raise ConfigError(message if message.startswith(where) else f"{where}: {message}") \
            from None
    return Configured(accounts, recording, restream)


async def run(settings: Settings, stop: asyncio.Event | None = None,
              config: Configured | None = None) -> None:
    """Serve until ``stop`` is set (or a signal arrives); raise StartupError if we cannot."""
    stop = stop or asyncio.Event()
    config = config or configure(settings)
    try:  # first: a bad certificate is the user's to fix, whatever else is right
        certificate = ServerCertificate.from_settings(settings.tls_cert, settings.tls_key)
    except TlsError as exc:
        raise StartupError(str(exc)) from None
    tls_context = certificate.context if certificate else None
    camera_tls = tls_context if settings.camera_tls else None
    try:
        ffmpeg = find_ffmpeg(settings.ffmpeg)
    except FfmpegNotFound as exc:
        raise StartupError(str(exc)) from None
    log.info("Using FFmpeg %s at %s", ffmpeg_version(ffmpeg), ffmpeg)
    _check_restream_protocols(ffmpeg, config.restream)
    try:
        encoder = await choose_encoder(ffmpeg, settings.encoder)
    except RuntimeError as exc:
        raise StartupError(str(exc)) from None
    log.info("H.264 encoder: %s (bitrate %s, keyframe every %g s)", encoder.name,
             settings.bitrate, settings.gop)
    _raise_open_file_limit(settings)

    loop_monitor = LoopMonitor()
    loop_monitor.start()
    make_stream = functools.partial(
        CameraStream, ffmpeg=ffmpeg, encoder=encoder, bitrate=settings.bitrate, gop=settings.gop,
        grace=settings.grace, viewer_buffer_bytes=settings.viewer_buffer_bytes,
        loop_monitor=loop_monitor)
    registry = Registry(make_stream, settings.max_streams, max_waiting_ids=settings.max_streams,
                        declared=settings.document.get("camera", {}))
    recordings = RecordingManager(config.recording)
    await recordings.start()
    registry.on_new_stream.append(recordings.attach)  # a recorder joins each stream it records
    restreams = RestreamManager(config.restream, ffmpeg)
    registry.on_new_stream.append(restreams.attach)
    restreams.start()
    hls = HlsManager(registry, UrlSigner.load(settings.state_dir), gop=settings.gop)
    registry.on_new_stream.append(hls.attach)
    hls.start()
    audience = Audience(settings.max_viewers, settings.max_viewers_per_address,
                        settings.viewer_stall_timeout)
    sessions = SessionStore(settings.state_dir, settings.session_days * 86400)
    config.accounts.sessions = sessions
    gate = Gate(config.accounts, TrustedProxies(settings.trusted_proxies),
                settings.allowed_origins,
                own_ports=(settings.http_port, settings.camera_port, settings.viewer_port))
    cameras = CameraEndpoint(registry, settings.max_frame_bytes, gate, tls=bool(camera_tls))
    viewers = ViewerEndpoint(registry, audience, gate, tls=bool(tls_context))
    services = Services(settings, registry, cameras, audience, loop_monitor, encoder.name, gate,
                        sessions, viewers, recordings, tls=bool(tls_context),
                        restreams=restreams, hls=hls)
    guard = HttpGuard(settings.http_timeout, max_per_address=2 * settings.max_viewers_per_address)

    runner = web.AppRunner(make_app(services, guard), access_log=None,
                           shutdown_timeout=SHUTDOWN_STEP)
    await runner.setup()
    servers = []
    tasks: list[asyncio.Task] = []
    try:
        try:
            await GuardedSite(runner, settings.host, settings.http_port, guard,
                              ssl_context=tls_context).start()
        except OSError as exc:
            raise _bind_error("HTTP", "--http-port", settings.http_port, exc) from None
        log.info("HTTP server started on port %d%s", settings.http_port,
                 " (https)" if tls_context else "")
        try:
            servers.append(await serve(
                cameras.handle, settings.host, settings.camera_port,
                process_request=cameras.check_request,
                # Room for a frame over the limit to be refused with a log line, not a closed
                # connection; far larger messages close the connection (1009).
                max_size=max(4 * settings.max_frame_bytes, 8 * 1024 * 1024),
                compression=None, ping_interval=10, ping_timeout=20,
                open_timeout=settings.http_timeout, close_timeout=SHUTDOWN_STEP,
                **_tls_options(camera_tls, settings)))
        except OSError as exc:
            raise _bind_error("camera WebSocket", "--camera-port", settings.camera_port,
                              exc) from None
        log.info("Camera WebSocket server started on port %d%s", settings.camera_port,
                 " (wss)" if camera_tls else "")
        try:
            servers.append(await serve(
                viewers.handle, settings.host, settings.viewer_port,
                process_request=viewers.check_request, max_size=64 * 1024,
                # Media is already compressed; per-connection deflate would cost a core at a few
                # hundred viewers.
                compression=None, ping_interval=20, ping_timeout=20,
                open_timeout=settings.http_timeout, close_timeout=SHUTDOWN_STEP,
                **_tls_options(tls_context, settings)))
        except OSError as exc:
            raise _bind_error("viewer WebSocket", "--viewer-port", settings.viewer_port,
                              exc) from None
        log.info("Viewer WebSocket server started on port %d%s", settings.viewer_port,
                 " (wss)" if tls_context else "")
        if certificate:
            _log_tls(settings, certificate, bool(camera_tls))
        log.info("Server is ready!")
        tasks = [asyncio.create_task(_prune_forever(registry, settings.grace)),
                 asyncio.create_task(audience.watch())]
        if certificate:
            tasks.append(asyncio.create_task(certificate.watch()))
        await stop.wait()
        log.info("Shutting down")
    finally:
        for task in tasks:
            task.cancel()
        hls.close()
        await _shut_down(servers, registry, recordings, audience, guard, runner, restreams)
        loop_monitor.stop()
        log.info("Stopped")


def _tls_options(context, settings: Settings) -> dict:
    # A client that opens a TCP connection and never completes the TLS handshake is held to the
    # same deadline as one that never sends its request (asyncio's default is 60 s).
    if context is None:
        return {}
    return {"ssl": context, "ssl_handshake_timeout": settings.http_timeout}


def _log_tls(settings: Settings, certificate: ServerCertificate, camera_tls: bool) -> None:
    ports = [f"HTTP port {settings.http_port} (https)",
             f"viewer port {settings.viewer_port} (wss)"]
    if camera_tls:
        ports.append(f"camera port {settings.camera_port} (wss)")
    plain = "" if camera_tls else (f"; the camera port {settings.camera_port} stays plain ws:// "
                                   "(camera_tls = false)")
    log.info("TLS on the %s%s. Certificate %s: %s; its files are checked for a renewal every "
             "%g s", ", ".join(ports), plain, settings.tls_cert, certificate.current.describe(),
             certificate.check_seconds)


#: Shutdown has 3 s in all whatever the peers do: each step (FFmpeg's last frames, a peer's
#: closing handshake, an HTTP handler's end) gets at most this long, and they run side by side.
SHUTDOWN_STEP = 1.0
SHUTDOWN_DEADLINE = 2.5


async def _shut_down(servers, registry: Registry, recordings: RecordingManager,
                     audience: Audience, guard: HttpGuard, runner: web.AppRunner,
                     restreams: RestreamManager) -> None:
    # A viewer with unsent bytes would hold its closing handshake for a close timeout each.
    audience.drop_stalled_now()
    audience.close_all()
    for server in servers:
        server.close()
    async def streams() -> None:
        await registry.shutdown(SHUTDOWN_STEP)
        # After the encoders: their last frames are in.
        await asyncio.gather(recordings.close(SHUTDOWN_STEP), restreams.close(SHUTDOWN_STEP))

    steps = [streams(), runner.cleanup(),
             *(server.wait_closed() for server in servers)]
    try:
        await asyncio.wait_for(asyncio.gather(*steps, return_exceptions=True),
                               SHUTDOWN_DEADLINE)
    except asyncio.TimeoutError:
        log.warning("Shutdown: peers still open after %g s; dropping them", SHUTDOWN_DEADLINE)
        guard.abort_all()
        for server in servers:
            for connection in server.connections:
                if connection.transport is not None:
                    connection.transport.abort()


def _check_restream_protocols(ffmpeg: str, plan: dict[str, tuple[str, ...]]) -> None:
    """A restream target this FFmpeg build cannot reach is a start-up error, not a target that
    fails forever."""
    urls = [url for urls in plan.values() for url in urls]
    if not urls:
        return
    import subprocess
    def listing(what: str) -> str:
        return subprocess.run([ffmpeg, "-hide_banner", what], capture_output=True, text=True,
                              timeout=20).stdout

    missing = targets.missing_schemes(urls, targets.output_protocols(listing("-protocols")),
                                      targets.muxers(listing("-muxers")))
    if missing:
        raise StartupError(f"FFmpeg at {ffmpeg} cannot push to "
                           f"{', '.join(sorted(s + '://' for s in missing))} (this build "
                           "lacks the protocol or muxer; Debian's ffmpeg package and the one bundled "
                           "with imageio-ffmpeg have rtmp, rtmps, srt and rtsp); choose "
                           "another with --ffmpeg")


def _raise_open_file_limit(settings: Settings) -> None:
    """Each viewer holds a socket: make the soft limit the hard one, and say if it is short."""
    try:
        import resource
    except ImportError:  # not on this OS
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = settings.max_viewers + 4 * settings.max_streams + 256
    if soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = new
    if soft < wanted:
        log.warning("Open file limit is %d, short of the %d that --max-viewers %d needs; raise "
                    "it (ulimit -n, LimitNOFILE=) or lower --max-viewers", soft, wanted,
                    settings.max_viewers)


async def _prune_forever(registry: Registry, grace: float) -> None:
    while True:
        await asyncio.sleep(max(1.0, grace / 3))
        await registry.prune(grace)


async def _main(settings: Settings, config: Configured) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await run(settings, stop, config)
    except StartupError as exc:
        log.error("%s", exc)
        return 2
    return 0


def hash_password_command() -> int:
    """``server.py hash-password``: read a password without echoing it, print its hash."""
    try:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Again: "):
            print("The two passwords differ.", file=sys.stderr)
            return 1
    except (EOFError, KeyboardInterrupt):
        return 1
    if not password:
        print("An empty password is no password.", file=sys.stderr)
        return 1
    print(hash_password(password))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["hash-password"]:
        return hash_password_command()
    try:
        settings = parse_settings(argv)
        config = configure(settings)
    except ConfigError as exc:
        print(f"server.py: error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("websockets").setLevel(max(logging.WARNING, logging.root.level))
    logging.getLogger("aiohttp").setLevel(max(logging.WARNING, logging.root.level))
    logging.getLogger("aiohttp.server").addFilter(BadRequestLog())
    for warning in config.accounts.warnings:
        log.warning("%s", warning)
    if settings.config and readable_by_others(settings.config):
        log.warning("The config file %s can be read by other users of this machine; it holds "
                    "passwords and tokens (chmod 600 %s)", settings.config, settings.config)
    return asyncio.run(_main(settings, config))
