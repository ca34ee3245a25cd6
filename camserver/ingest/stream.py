"""One camera id's stream: camera connection in, transcoder in the middle, fan-out to viewers.

A :class:`CameraStream` outlives its camera's connections: a camera that reconnects (or another
device using the same id) takes the stream over, and viewers stay subscribed throughout. The
stream's clock starts when the stream is created; every frame is stamped with its arrival time on
that clock, which is what keeps the video's time equal to real time.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import statistics
import time
from typing import Any

from ..outputs.fanout import MJPEG_HEADER, Fanout
from .ffmpeg import Encoder
from ..media.h264 import AvcConfig
from ..media.jpeg import JpegInfo
from ..loopwatch import LoopMonitor
from ..meter import RateMeter
from ..ratelimit import RateLimitedLog
from .packager import InitSegment, Packager, VideoFrame
from .transcoder import Transcoder

log = logging.getLogger(__name__)

TICKS_PER_SECOND = 90000
#: MSE viewers get each picture twice: the camera frame, then a repeat of it SHADOW later; and
#: while no newer JPEG has arrived, another such pair every REPEAT_INTERVAL (repeat.py). Why, as
#: measured in headless Chromium 156 at 60 Hz:
#: - Chrome renders a video as often as it has frames: one pair per 33 ms averages 16.7 ms per
#:   frame, so it renders every refresh and the delay moves in 16.7 ms steps, not 33 ms ones.
#: - Frame durations this uneven (2 ms, 31 ms) make Chrome treat the video as variable-rate.
#:   Then it plays on when a frame comes late (the last one lasts its declared 1 s), instead of
#:   stopping ("waiting") as it does for an even rate. Even repeats every 16.7 ms stalled 4 times
#:   in 30 s; uneven ones none.
#: - The picture is shown through its repeat, which covers the frame's interval; the camera
#:   frame itself (2 ms) is decoded but rarely painted.
REPEAT_INTERVAL = 1 / 30
SHADOW = 0.002
#: No repeats once the camera has been silent this long.
REPEAT_FOR = 2.0


class StreamConsumer:
    """Something a stream feeds besides its live viewers: a recorder, HLS, a restream, a motion
    detector. Override what you need; every call comes on the event loop, on the per-frame path,
    so it must return at once (no blocking I/O, no awaiting). A consumer that falls behind drops
    or skips on its own side. An exception is logged (rate-limited) and never reaches the stream
    or the other consumers.
    """

    def on_init(self, init: InitSegment) -> None:
        """A new encoder configuration; the frames that follow belong to it. Also called once
        when the consumer is added to a stream that already has one."""

    def on_frame(self, frame: VideoFrame) -> None:
        """An encoded camera frame (never a repeat), in decode order."""

    def on_jpeg(self, jpeg: bytes, info: JpegInfo, wall_ms: float) -> None:
        """A checked JPEG from the camera, with its arrival time (Unix ms on the stream clock)."""

    def on_camera(self, online: bool) -> None:
        """The camera connected or left."""


class CameraStream:
    def __init__(self, camera_id: str, *, ffmpeg: str, encoder: Encoder, bitrate: str,
                 gop: float, grace: float, viewer_buffer_bytes: int,
                 loop_monitor: LoopMonitor | None = None):
        self.id = camera_id
        self.name = f"camera {camera_id}"
        self.encoder = encoder
        self._grace = grace
        self._epoch = time.monotonic()
        #: Wall-clock time of the stream clock's zero, in Unix ms: viewers add a frame's media
        #: time to it to get the frame's arrival time at the server.
        self.epoch_ms = time.time() * 1000
        self.fanout = Fanout(self.name, viewer_buffer_bytes)
        self.packager = Packager()
        self.transcoder = Transcoder(self.name, ffmpeg, encoder, bitrate, gop,
                                     self._on_config, self._on_frame, loop_monitor=loop_monitor,
                                     fps_hint=lambda: self.hello.get("fps"))
        self.camera: Any = None
        self.camera_peer: str | None = None
        self.hello: dict = {}
        self.last_config_ack: dict | None = None
        self.size: tuple[int, int] | None = None
        self.subsampling: str | None = None
        self.frames_in = 0
        #: Messages that were not JPEGs we accept, by reason (camserver.media.jpeg.JpegError).
        self.rejected: collections.Counter[str] = collections.Counter()
        self.frames_encoded = 0
        self.last_seen = self._epoch
        self._in_rate = RateMeter()
        self._out_rate = RateMeter()
        #: Server-added delay of recent frames, ms: JPEG received -> first viewer's bytes written.
        self.delays_ms: collections.deque[float] = collections.deque(maxlen=300)
        self._grace_timer: asyncio.TimerHandle | None = None
        self._repeat_timer: asyncio.TimerHandle | None = None
        self._newest_arrival: float | None = None
        self._closing: asyncio.Task | None = None
        self.consumers: list[StreamConsumer] = []
        self._log = RateLimitedLog(log)

    @property
    def epoch_monotonic(self) -> float:
        """The stream clock's zero on :func:`time.monotonic`: a frame's ``pts`` counts 90 kHz
        ticks from here (the recorder maps it to wall-clock time per file)."""
        return self._epoch

    # -- consumers -------------------------------------------------------------------------------

    def add_consumer(self, consumer: StreamConsumer) -> None:
        self.consumers.append(consumer)
        if self.packager.init is not None:
            self._notify(consumer, "on_init", self.packager.init)

    def remove_consumer(self, consumer: StreamConsumer) -> None:
        if consumer in self.consumers:
            self.consumers.remove(consumer)

    def _notify(self, consumer: StreamConsumer, method: str, *args) -> None:
        try:
            getattr(consumer, method)(*args)
        except Exception as exc:  # one broken consumer must not stop the video for the others
            self._log.log(logging.ERROR, f"{type(consumer).__name__}.{method}",
                          "%s: %s.%s failed: %r", self.name, type(consumer).__name__, method,
                          exc, exc_info=True)

    def _publish(self, method: str, *args) -> None:
        for consumer in self.consumers:
            self._notify(consumer, method, *args)

    # -- camera side -----------------------------------------------------------------------------

    def attach_camera(self, connection: Any, peer: str) -> Any:
        """Make ``connection`` this stream's camera; return the connection it replaces, if any."""
        previous, self.camera, self.camera_peer = self.camera, connection, peer
        self.hello = {}
        if self._grace_timer is not None:
            self._grace_timer.cancel()
            self._grace_timer = None
        self.last_seen = time.monotonic()
        self.fanout.publish_event({"type": "camera", "state": "online", "camera": self.id})
        self._publish("on_camera", True)
        return previous

    def detach_camera(self, connection: Any) -> None:
        if self.camera is not connection:
            return  # an old connection that was taken over: the stream is not its any more
        self.camera = self.camera_peer = None
        self.last_seen = time.monotonic()
        self._cancel_repeats()
        self.fanout.publish_event({"type": "camera", "state": "offline", "camera": self.id})
        self._publish("on_camera", False)
        self._grace_timer = asyncio.get_running_loop().call_later(self._grace, self._stop_encoder)

    def receive_jpeg(self, jpeg: bytes, info: JpegInfo, arrived: float) -> None:
        """A checked JPEG that was fully received at monotonic time ``arrived``."""
        self.frames_in += 1
        self.last_seen = arrived
        self._cancel_repeats()
        self._newest_arrival = arrived
        self._in_rate.add(now=arrived)
        size = (info.width, info.height)
        if size != self.size:
            if self.size is not None:
                self._log.log(logging.INFO, "resolution", "%s: resolution changed from %dx%d "
                              "to %dx%d", self.name, *self.size, *size)
            self.size = size
        self.subsampling = info.subsampling
        wall_ms = self.epoch_ms + (arrived - self._epoch) * 1000
        self.fanout.publish_jpeg(MJPEG_HEADER.pack(self.frames_in & 0xFFFFFFFF, wall_ms) + jpeg)
        self._publish("on_jpeg", jpeg, info, wall_ms)
        pts = round((arrived - self._epoch) * TICKS_PER_SECOND)
        self.transcoder.submit(jpeg, size, arrived, (pts, arrived))

    def reject_frame(self, reason: str) -> None:
        self.rejected[reason] += 1

    @property
    def frames_rejected(self) -> int:
        return sum(self.rejected.values())

    def receive_config_ack(self, ack: dict) -> None:
        """A camera's answer to settings it was sent (already bounded: control.ack_from_message):
        kept for /status and passed on to the viewers who may change this camera's settings (the
        page that sent them shows what was applied and what was rejected, and why)."""
        self.last_config_ack = ack
        self.fanout.publish_event({"type": "config_ack", "camera": self.id, **ack},
                                  controllers_only=True)

    def receive_hello(self, hello: dict) -> None:
        """A camera's hello (already bounded: control.hello_from_message): its current settings
        and the choices it accepts. Sent on connecting and after settings were applied, so the
        viewers who may change them get the new ones at once."""
        self.hello = hello
        self.fanout.publish_event({"type": "settings", "camera": self.id, "settings": hello},
                                  controllers_only=True)

    # -- transcoder side -------------------------------------------------------------------------

    def _on_config(self, config: AvcConfig) -> None:
        init = self.packager.set_config(config)
        if init is not None:
            log.info("%s: H.264 %s %dx%d", self.name, init.codec, init.width, init.height)
            if self.packager.repeats_unsupported:
                log.info("%s: no repeat pictures for browsers (%s): the H.264 page will run "
                         "with more delay", self.name, self.packager.repeats_unsupported)
            self.fanout.publish_init(init)
            self._publish("on_init", init)

    def _on_frame(self, avcc: bytes, keyframe: bool, tag: tuple[int, float] | None) -> None:
        now = time.monotonic()
        pts, arrived = tag if tag is not None else (round((now - self._epoch) * 90000), now)
        frame = self.packager.package(avcc, keyframe, pts)
        # The first viewer's bytes are written right after this instant.
        self.delays_ms.append((time.monotonic() - arrived) * 1000)
        self.fanout.publish_video(frame)
        self._publish("on_frame", frame)
        self.frames_encoded += 1
        self._out_rate.add(len(frame.ts), now)
        if tag is not None and arrived == self._newest_arrival and self.fanout.wants_repeats():
            self._send_repeats(arrived, frame.pts, 0)

    def _send_repeats(self, arrived: float, pts: int, n: int) -> None:
        """Send the ``n``-th pair for the picture whose JPEG arrived at ``arrived`` (pair 0: just
        the repeat after the camera frame), then plan the next."""
        self._repeat_timer = None
        if arrived != self._newest_arrival:
            return  # a newer JPEG is on its way through the encoder
        # Both times have passed (or nearly: the packager keeps the next camera frame after
        # them), so every JPEG still to come arrives after them.
        slot = pts + round(n * REPEAT_INTERVAL * TICKS_PER_SECOND)
        for repeat_pts in ((slot,) if n else ()) + (slot + round(SHADOW * TICKS_PER_SECOND),):
            frame = self.packager.repeat(repeat_pts)
            if frame is None:
                return
            self.fanout.publish_repeat(frame)
        if (n + 1) * REPEAT_INTERVAL <= REPEAT_FOR:
            self._repeat_timer = asyncio.get_running_loop().call_at(
                arrived + (n + 1) * REPEAT_INTERVAL + SHADOW, self._send_repeats, arrived, pts,
                n + 1)

    def _cancel_repeats(self) -> None:
        if self._repeat_timer is not None:
            self._repeat_timer.cancel()
            self._repeat_timer = None

    # -- lifecycle -------------------------------------------------------------------------------

    def idle_for(self, now: float) -> float:
        """Seconds with neither a camera nor a viewer (0 while either is here)."""
        if self.camera is not None or self.fanout.viewers:
            return 0.0
        return now - self.last_seen

    def _stop_encoder(self) -> None:
        self._grace_timer = None
        log.info("%s: camera gone for %g s; stopping its encoder", self.name, self._grace)
        self._closing = asyncio.ensure_future(self.transcoder.close())

    async def shutdown(self, timeout: float | None = None) -> None:
        self._cancel_repeats()
        if self._grace_timer is not None:
            self._grace_timer.cancel()
        await self.transcoder.shutdown(timeout)

    def status(self) -> dict:
        now = time.monotonic()
        delays = sorted(self.delays_ms)
        encoding = sorted(self.transcoder.encode_ms)
        return {
            "id": self.id,
            "online": self.camera is not None,
            "peer": self.camera_peer,
            "hello": self.hello,
            "last_config_ack": self.last_config_ack,
            "resolution": f"{self.size[0]}x{self.size[1]}" if self.size else None,
            "width": self.size[0] if self.size else None,
            "height": self.size[1] if self.size else None,
            "subsampling": self.subsampling,
            "frames_in": self.frames_in,
            "fps": round(self._in_rate.per_second(now), 2),
            "frames_encoded": self.frames_encoded,
            "codec": self.packager.init.codec if self.packager.init else None,
            "bytes_out": self.fanout.bytes_out,
            "kbps": round(self._out_rate.bits_per_second(now) / 1000, 1),
            "encoder": self.encoder.name,
            "encoder_running": self.transcoder.running,
            "encoder_starts": self.transcoder.starts,
            "encoder_failures": self.transcoder.restarts_after_failure,
            "encoder_fps": self.transcoder.fps,
            "viewers": len(self.fanout.viewers),
            # Every binary message a camera sent is here: rejected (not a JPEG we accept),
            # or in frames_in = frames_encoded + frames_dropped_by_encoder + frames_in_flight.
            "frames_dropped": self.frames_rejected + self.transcoder.frames_dropped,
            "frames_rejected": self.frames_rejected,
            "frames_rejected_by_reason": dict(self.rejected),
            "frames_dropped_by_encoder": self.transcoder.frames_dropped,
            "frames_dropped_by_reason": dict(self.transcoder.dropped),
            "frames_in_flight": self.transcoder.in_flight(),
            "frames_rescaled": self.transcoder.frames_rescaled,
            "viewer_frames_skipped": sum(v.frames_skipped for v in self.fanout.viewers),
            "server_delay_ms_p50": round(statistics.median(delays), 2) if delays else None,
            "server_delay_ms_p99": round(delays[int(len(delays) * 0.99)], 2) if delays else None,
            # FFmpeg's share of it: a slow encoder shows here, the server's own lateness not.
            "encoder_delay_ms_p50": round(statistics.median(encoding), 2) if encoding else None,
            "encoder_delay_ms_p99": (round(encoding[int(len(encoding) * 0.99)], 2) if encoding
                                     else None),
            "uptime": round(now - self._epoch, 1),
        }
