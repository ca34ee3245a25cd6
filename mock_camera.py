#!/usr/bin/env python3
"""A stand-in for the ESP32 camera: sends animated JPEGs to the server over WebSocket.

Each frame: an animated gradient background, a moving circle with a gradient fill, a moving square
outline, and an overlay of frame count, measured FPS and elapsed time. With ``--mark`` a row of
16x16 blocks along the bottom carries the frame number in binary (white = 1), so a benchmark can
tell from a screenshot which frame a page shows (see :func:`read_marker`).

Frames follow an absolute schedule (frame n is due at start + n/fps), so the rate does not drift;
the achieved rate is logged. With ``--jitter MS`` each frame leaves late by a random delay, like a
camera on busy Wi-Fi (see :func:`frame_due`). The camera reconnects with backoff when the server
goes away.

It speaks the firmware's control protocol (firmware/main/control.h), see :class:`MockCamera`: a
hello with its current settings and the choices it accepts, ``config`` messages applied key by key
(frame size, quality, fps, vflip, hmirror) and answered with a ``config_ack``, then a new hello.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import io
import json
import logging
import math
import random
import time

from PIL import Image, ImageDraw, ImageFont

from camserver.ratelimit import RateLimitedLog

log = logging.getLogger("mock_camera")
_warn = RateLimitedLog(log)

SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}
MARK_BLOCK = 16
MARK_BITS = 20  # frame numbers wrap after about 9.7 hours at 30 fps

# The frame sizes this camera offers: the firmware's names (firmware/main/framesize.c), QQVGA to HD.
FRAME_SIZES = {
    "QQVGA": (160, 120), "QCIF": (176, 144), "HQVGA": (240, 176), "QVGA": (320, 240),
    "CIF": (400, 296), "HVGA": (480, 320), "VGA": (640, 480), "SVGA": (800, 600),
    "XGA": (1024, 768), "HD": (1280, 720),
}
QUALITY_RANGE = (1, 100)  # Pillow's JPEG scale, higher is better, like the firmware's
FPS_RANGE = (1, 30)       # what the firmware accepts


class FrameRenderer:
    """Draws and encodes frames; ``render(n, elapsed, fps)`` returns one JPEG."""

    def __init__(self, width: int = 640, height: int = 480, quality: int = 80,
                 subsampling: str = "4:2:2", mark: bool = False, vflip: bool = False,
                 hmirror: bool = False):
        self.width, self.height = width, height
        self.quality = quality
        self.subsampling = SUBSAMPLING[subsampling]
        self.subsampling_name = subsampling
        self.mark = mark
        # Like the sensor's own flips, these turn the scene; the overlay and the marker stay
        # readable (a benchmark reads the marker at a fixed place).
        self.vflip, self.hmirror = vflip, hmirror
        self._background = self._make_background(width, height)
        radius = max(16, min(width, height) // 8)
        self._ball = self._make_ball(radius)
        self._font = ImageFont.load_default(size=max(12, height // 24))

    @staticmethod
    def _make_background(width: int, height: int) -> Image.Image:
        # Twice as wide as the frame: each frame is a moving window onto it, so the animation
        # costs a crop instead of recomputing every pixel.
        hue = Image.linear_gradient("L").rotate(90).resize((width, height))
        strip = Image.merge("HSV", (hue, Image.new("L", (width, height), 150),
                                    Image.linear_gradient("L").resize((width, height))
                                    .point(lambda v: 110 + v // 2))).convert("RGB")
        wide = Image.new("RGB", (2 * width, height))
        wide.paste(strip, (0, 0))
        wide.paste(strip.transpose(Image.Transpose.FLIP_LEFT_RIGHT), (width, 0))
        return wide

    @staticmethod
    def _make_ball(radius: int) -> Image.Image:
        size = 2 * radius
        ball = Image.radial_gradient("L").resize((size, size))
        colour = Image.merge("RGB", (ball.point(lambda v: 255 - v // 3),
                                     ball.point(lambda v: 220 - v * 3 // 4),
                                     ball.point(lambda v: v // 2)))
        mask = Image.new("L", (size, size), 0)
        ImageDraw.Draw(mask).ellipse((0, 0, size - 1, size - 1), fill=255)
        colour.putalpha(mask)
        return colour

    def render(self, n: int, elapsed: float, fps: float) -> bytes:
        w, h = self.width, self.height
        offset = int(n * 4) % w
        frame = self._background.crop((offset, 0, offset + w, h))
        draw = ImageDraw.Draw(frame)
        t = n / 30.0
        ball = self._ball
        bx = int((w - ball.width) * (0.5 + 0.45 * math.sin(t * 1.3)))
        by = int((h - ball.height) * (0.5 + 0.45 * math.sin(t * 2.1 + 1)))
        frame.paste(ball, (bx, by), ball)
        side = min(w, h) // 5
        sx = int((w - side) * (0.5 + 0.45 * math.cos(t * 0.9)))
        sy = int((h - side) * (0.5 + 0.45 * math.sin(t * 1.7)))
        draw.rectangle((sx, sy, sx + side, sy + side), outline=(255, 255, 255), width=4)
        if self.vflip:
            frame = frame.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
        if self.hmirror:
            frame = frame.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        draw = ImageDraw.Draw(frame)
        text = f"Frame {n}   {fps:5.1f} fps   {elapsed:7.1f} s   {w}x{h}"
        draw.rectangle((0, 0, w, self._font.size + 12), fill=(0, 0, 0))
        draw.text((8, 6), text, fill=(255, 255, 255), font=self._font)
        if self.mark:
            self._draw_marker(draw, n)
        out = io.BytesIO()
        frame.save(out, "JPEG", quality=self.quality, subsampling=self.subsampling)
        return out.getvalue()

    def _draw_marker(self, draw: ImageDraw.ImageDraw, n: int) -> None:
        y = self.height - MARK_BLOCK
        for bit in range(MARK_BITS):
            on = (n >> (MARK_BITS - 1 - bit)) & 1
            x = bit * MARK_BLOCK
            draw.rectangle((x, y, x + MARK_BLOCK - 1, y + MARK_BLOCK - 1),
                           fill=(255, 255, 255) if on else (0, 0, 0))


class StillRenderer:
    """``--still``: the same JPEG every frame (no moving parts, no changing overlay), a scene in
    which a motion detector must see nothing."""

    def __init__(self, renderer: FrameRenderer):
        self._renderer = renderer
        self._jpeg = renderer.render(0, 0.0, 0.0)

    def __getattr__(self, name):
        return getattr(self._renderer, name)

    def render(self, n: int, elapsed: float, fps: float) -> bytes:
        return self._jpeg


def read_marker(pixel_at, height: int) -> int:
    """Read back a frame number drawn with ``mark=True``; ``pixel_at(x, y)`` gives luma 0-255."""
    y = height - MARK_BLOCK // 2
    n = 0
    for bit in range(MARK_BITS):
        n = (n << 1) | (pixel_at(bit * MARK_BLOCK + MARK_BLOCK // 2, y) > 128)
    return n


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclasses.dataclass
class Settings:
    """What the camera does now. ``framesize`` is None for a --width/--height without a name."""
    width: int = 640
    height: int = 480
    quality: int = 80
    fps: float = 30.0
    vflip: bool = False
    hmirror: bool = False

    @property
    def framesize(self) -> str | None:
        return next((name for name, size in FRAME_SIZES.items()
                     if size == (self.width, self.height)), None)


class MockCamera:
    """The camera side of the control protocol, as the firmware does it (firmware/main/control.c).

    - :meth:`hello`: sent after connecting and after every config that applied something: the
      current settings and ``choices``, the values a config message may use.
    - :meth:`apply_config`: each key on its own; good values are applied, bad ones and unknown
      keys are rejected with a reason; returns the ``config_ack``.
    - :attr:`renderer` follows the settings (size, quality, flips); :attr:`settings` ``.fps`` paces.
    """

    def __init__(self, camera_id: str = "default", settings: Settings | None = None,
                 subsampling: str = "4:2:2", mark: bool = False, still: bool = False):
        self.camera_id = camera_id
        self.settings = settings or Settings()
        self.subsampling = subsampling
        self.mark = mark
        self.still = still
        self.renderer = self._make_renderer()

    def _make_renderer(self) -> FrameRenderer:
        s = self.settings
        renderer = FrameRenderer(s.width, s.height, s.quality, self.subsampling, self.mark,
                                 s.vflip, s.hmirror)
        return StillRenderer(renderer) if self.still else renderer

    def hello(self) -> dict:
        s = self.settings
        return {
            "type": "hello", "camera_id": self.camera_id, "board": "mock", "sensor": "mock",
            "firmware": "mock_camera.py", "width": s.width, "height": s.height,
            "fps": _number(s.fps), "quality": s.quality,
            "framesize": s.framesize or f"{s.width}x{s.height}",
            "vflip": s.vflip, "hmirror": s.hmirror,
            "choices": {
                "framesize": list(FRAME_SIZES),
                "quality": {"min": QUALITY_RANGE[0], "max": QUALITY_RANGE[1]},
                "fps": {"min": FPS_RANGE[0], "max": FPS_RANGE[1]},
                "vflip": [False, True], "hmirror": [False, True],
            },
        }

    @staticmethod
    def _framesize(value: object) -> tuple[str, tuple[int, int]] | str:
        """(name, size) for a frame size the camera offers, else the reason it is refused."""
        if not isinstance(value, str):
            return 'must be a string such as "VGA"'
        for name, size in FRAME_SIZES.items():
            if value.upper() in (name, f"{size[0]}X{size[1]}"):
                return name, size
        return f"unknown frame size; this camera offers {', '.join(FRAME_SIZES)}"

    def apply_config(self, message: dict) -> dict:
        """Apply a ``{"type": "config", ...}`` message; return its ``config_ack``."""
        applied: dict = {}
        rejected: dict = {}
        changes: dict = {}
        for key, value in message.items():
            if key == "type":
                continue
            if key == "framesize":
                found = self._framesize(value)
                if isinstance(found, str):
                    rejected[key] = found
                    continue
                applied[key] = found[0]
                changes["width"], changes["height"] = found[1]
            elif key in ("quality", "fps"):
                low, high = QUALITY_RANGE if key == "quality" else FPS_RANGE
                if not _is_int(value) or not low <= value <= high:
                    rejected[key] = f"must be an integer {low}-{high}" + (
                        " (higher is better)" if key == "quality" else "")
                    continue
                applied[key] = changes[key] = value
            elif key in ("vflip", "hmirror"):
                if not (isinstance(value, bool) or (_is_int(value) and value in (0, 1))):
                    rejected[key] = "must be true or false"
                    continue
                applied[key] = changes[key] = bool(value)
            else:
                rejected[str(key)[:64]] = "unknown setting"
        if changes:
            self.settings = dataclasses.replace(self.settings, **changes)
            self.renderer = self._make_renderer()
        return {"type": "config_ack", "applied": applied, "rejected": rejected}

    def handle_text(self, text: str) -> list[dict]:
        """Replies to one text message from the server: a config_ack, then the new hello when
        something was applied. Other messages are logged (rate-limited) and get no reply."""
        try:
            message = json.loads(text)
        except ValueError:
            _warn.log(logging.WARNING, "json", "Ignored a text message that is not JSON: %.80r", text)
            return []
        kind = message.get("type") if isinstance(message, dict) else None
        if kind != "config":
            _warn.log(logging.INFO, "type", "Ignored a message of type %.40r", kind)
            return []
        ack = self.apply_config(message)
        log.info("Config: applied %s, rejected %s", ack["applied"], ack["rejected"])
        return [ack, self.hello()] if ack["applied"] else [ack]


def frame_due(t0: float, k: int, fps: float, previous_due: float, jitter_ms: float = 0,
              rng: random.Random | None = None) -> float:
    """When frame ``k`` of a schedule started at ``t0`` leaves: at ``t0 + k/fps``, plus, with
    ``jitter_ms``, a random delay (exponential, that mean), never before the previous frame.
    So frames stay in order, come late and then in bursts, as from a camera on busy Wi-Fi."""
    due = t0 + k / fps
    if jitter_ms:
        due = max(previous_due, due + (rng or random).expovariate(1000 / jitter_ms))
    return due


async def _answer_server(ws, camera: MockCamera) -> None:
    """Read the server's messages and answer config messages, until the connection closes."""
    from websockets.exceptions import ConnectionClosed

    try:
        async for message in ws:
            if isinstance(message, bytes):
                _warn.log(logging.INFO, "binary", "Ignored a binary message from the server")
                continue
            for reply in camera.handle_text(message):
                await ws.send(json.dumps(reply))
    except ConnectionClosed:
        pass


async def stream(url: str, camera: MockCamera, duration: float | None, jitter_ms: float = 0,
                 cafile: str | None = None) -> int:
    """Send frames until ``duration`` (None: forever); return the number of frames sent.
    A ``wss://`` server's certificate is checked against ``cafile`` (PEM) if given, else the
    system's CAs, like the firmware's ``cacert`` and certificate bundle."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

    start = time.monotonic()
    sent = 0
    backoff = 0.5
    window = [start]
    tls = {}
    if url.startswith("wss://") and cafile:
        import ssl
        tls = {"ssl": ssl.create_default_context(cafile=cafile)}
    while duration is None or time.monotonic() - start < duration:
        try:
            async with connect(url, compression=None, max_size=2**20, open_timeout=5,
                               **tls) as ws:
                log.info("Connected to server!")
                backoff = 0.5
                await ws.send(json.dumps(camera.hello()))
                answering = asyncio.create_task(_answer_server(ws, camera))
                try:
                    sent = await _send_frames(ws, camera, start, sent, window, duration, jitter_ms)
                finally:
                    answering.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await answering
        except (OSError, ConnectionClosed, InvalidHandshake, asyncio.TimeoutError) as exc:
            log.warning("Connection to %s failed or lost (%s); retrying in %.1f s", url,
                        exc or type(exc).__name__, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)
        except InvalidURI as exc:
            log.error("%s", exc)
            return sent
    elapsed = time.monotonic() - start
    log.info("Done: %d frames in %.1f s (%.2f fps)", sent, elapsed, sent / elapsed)
    return sent


async def _send_frames(ws, camera: MockCamera, start: float, sent: int, window: list[float],
                       duration: float | None, jitter_ms: float) -> int:
    # Absolute schedule from here: frame k is due at t0 + k/fps, however long each frame took to
    # render and send. A new fps (from a config message) starts a new schedule.
    fps = camera.settings.fps
    t0, k = time.monotonic(), 0
    due = t0
    while duration is None or time.monotonic() - start < duration:
        if camera.settings.fps != fps:
            fps = camera.settings.fps
            t0, k, due = time.monotonic(), 0, time.monotonic()
        due = frame_due(t0, k, fps, due, jitter_ms)
        now = time.monotonic()
        if due > now:
            await asyncio.sleep(due - now)
        elif now - due > 1.0:
            t0, k, due = now, 0, now  # stalled over a second: a new schedule
        k += 1
        now = time.monotonic()
        window.append(now)
        del window[:-31]
        measured = (len(window) - 1) / (window[-1] - window[0]) if len(window) > 1 else 0.0
        jpeg = camera.renderer.render(sent, now - start, measured)
        await ws.send(jpeg)
        sent += 1
        if sent % 30 == 0:
            log.info("Sent frame %d (%d bytes), %.2f fps", sent, len(jpeg), measured)
    return sent


def main() -> None:
    p = argparse.ArgumentParser(description="Send an animated test pattern as JPEGs over "
                                            "WebSocket, like the ESP32 camera does.")
    p.add_argument("--url", default="ws://localhost:8765",
                   help="server camera URL (wss:// for a server with TLS)")
    p.add_argument("--cafile", default=None, metavar="PEM",
                   help="trust this CA (or self-signed certificate) for a wss:// URL instead of "
                        "the system's CAs")
    p.add_argument("--camera-id", default=None,
                   help="camera id, appended to the URL path (default: none, i.e. 'default')")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--framesize", choices=list(FRAME_SIZES), type=str.upper, default=None,
                   help="a named size instead of --width/--height (the server may change it)")
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--quality", type=int, default=80,
                   help="JPEG quality 1-100, Pillow's scale (above 95 gains little)")
    p.add_argument("--subsampling", choices=list(SUBSAMPLING), default="4:2:2",
                   help="JPEG chroma subsampling (ESP32 sensors send 4:2:2)")
    p.add_argument("--duration", type=float, default=None, help="seconds to run (default: ever)")
    p.add_argument("--mark", action="store_true", help="draw the frame number as a bar code")
    p.add_argument("--jitter", type=float, default=0, metavar="MS",
                   help="send each frame late by a random delay (exponential, mean MS), in "
                        "order, like a camera on busy Wi-Fi")
    p.add_argument("--still", action="store_true",
                   help="send the same picture every frame (for motion detection tests)")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    url = args.url.rstrip("/") + (f"/{args.camera_id}" if args.camera_id else "")
    width, height = FRAME_SIZES[args.framesize] if args.framesize else (args.width, args.height)
    camera = MockCamera(args.camera_id or "default",
                        Settings(width, height, args.quality, args.fps),
                        args.subsampling, args.mark, still=args.still)
    try:
        asyncio.run(stream(url, camera, args.duration, args.jitter, args.cafile))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
