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
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import math
import random
import time

from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger("mock_camera")

SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}
MARK_BLOCK = 16
MARK_BITS = 20  # frame numbers wrap after about 9.7 hours at 30 fps


class FrameRenderer:
    """Draws and encodes frames; ``render(n, elapsed, fps)`` returns one JPEG."""

    def __init__(self, width: int = 640, height: int = 480, quality: int = 80,
                 subsampling: str = "4:2:2", mark: bool = False):
        self.width, self.height = width, height
        self.quality = quality
        self.subsampling = SUBSAMPLING[subsampling]
        self.mark = mark
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


def frame_due(t0: float, k: int, fps: float, previous_due: float, jitter_ms: float = 0,
              rng: random.Random | None = None) -> float:
    """When frame ``k`` of a schedule started at ``t0`` leaves: at ``t0 + k/fps``, plus, with
    ``jitter_ms``, a random delay (exponential, that mean), never before the previous frame.
    So frames stay in order, come late and then in bursts, as from a camera on busy Wi-Fi."""
    due = t0 + k / fps
    if jitter_ms:
        due = max(previous_due, due + (rng or random).expovariate(1000 / jitter_ms))
    return due


async def stream(url: str, renderer: FrameRenderer, fps: float, duration: float | None,
                 camera_id: str, jitter_ms: float = 0) -> int:
    """Send frames until ``duration`` (None: forever); return the number of frames sent."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

    start = time.monotonic()
    sent = 0
    backoff = 0.5
    window = [start]
    while duration is None or time.monotonic() - start < duration:
        try:
            async with connect(url, compression=None, max_size=2**20, open_timeout=5) as ws:
                log.info("Connected to server!")
                backoff = 0.5
                await ws.send(json.dumps({
                    "type": "hello", "camera_id": camera_id, "board": "mock", "sensor": "pillow",
                    "width": renderer.width, "height": renderer.height, "fps": fps,
                    "quality": renderer.quality, "firmware": "mock_camera.py"}))
                # Absolute schedule from here: frame k is due at t0 + k/fps, however long each
                # frame took to render and send.
                t0, k = time.monotonic(), 0
                due = t0
                while duration is None or time.monotonic() - start < duration:
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
                    measured = (len(window) - 1) / (window[-1] - window[0]) if len(window) > 1 \
                        else 0.0
                    jpeg = renderer.render(sent, now - start, measured)
                    await ws.send(jpeg)
                    sent += 1
                    if sent % 30 == 0:
                        log.info("Sent frame %d (%d bytes), %.2f fps", sent, len(jpeg), measured)
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


def main() -> None:
    p = argparse.ArgumentParser(description="Send an animated test pattern as JPEGs over "
                                            "WebSocket, like the ESP32 camera does.")
    p.add_argument("--url", default="ws://localhost:8765", help="server camera URL")
    p.add_argument("--camera-id", default=None,
                   help="camera id, appended to the URL path (default: none, i.e. 'default')")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--quality", type=int, default=80, help="JPEG quality 1-95")
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
    renderer = FrameRenderer(args.width, args.height, args.quality, args.subsampling, args.mark)
    if args.still:
        renderer = StillRenderer(renderer)
    try:
        asyncio.run(stream(url, renderer, args.fps, args.duration, args.camera_id or "default",
                           args.jitter))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
