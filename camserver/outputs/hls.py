"""HLS for HTTP caches and CDNs: per camera, a segmenter that runs only while someone plays.

Contract:

- A camera's :class:`HlsOutput` is a consumer of its stream (:class:`StreamConsumer`) only while
  its playlist was asked for in the last :data:`IDLE_SECONDS`; then it detaches and forgets its
  segments. Nobody segments a camera nobody watches.
- On the first playlist request it starts from the stream's frames since the last keyframe, so
  the first segment is done at the next keyframe; the request waits (at most
  :data:`READY_SECONDS`) until :data:`READY_SEGMENTS` segments exist.
- Segments live only in memory, in a bounded ring (:class:`camserver.media.hls.Segmenter`):
  names never repeat (a random prefix per start), so a segment is immutable and cacheable
  forever, and the playlist changes with every segment, so it is cacheable for a second.
- A camera anonymous callers may not read gets signed segment links
  (:mod:`camserver.access.signing`): a segment's link expires :data:`LINK_SECONDS` after the
  segment was made (every client gets the same link, so a shared cache fetches it once); an init
  segment's link, which every new player needs, :data:`LINK_SECONDS` from now, on a
  :data:`LINK_STEP` grid (the same link for a whole step).
- Per frame the work is the recorder's: append to a list, build a fragment every 0.5 s.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import math
import secrets
import time
from typing import TYPE_CHECKING

from ..access.signing import UrlSigner
from ..ingest.stream import StreamConsumer
from ..media.hls import Segment, Segmenter
from ..ratelimit import RateLimitedLog

if TYPE_CHECKING:
    from ..ingest.packager import InitSegment, VideoFrame
    from ..ingest.stream import CameraStream
    from ..registry import Registry

log = logging.getLogger(__name__)

#: A camera's segmenter stops when its playlist has not been asked for this long.
IDLE_SECONDS = 30.0
#: A first playlist request waits for this many segments, at most this long.
READY_SEGMENTS = 2
READY_SECONDS = 10.0
#: Signed links last this long (from the segment's making; for init segments, from the request,
#: rounded up to LINK_STEP).
LINK_SECONDS = 60
LINK_STEP = 30
TICK_SECONDS = 1.0


def _prefix() -> str:
    """A segment name prefix that never repeats: 40 random bits, in 8 lowercase letters/digits."""
    return base64.b32encode(secrets.token_bytes(5)).decode().lower()


class HlsOutput(StreamConsumer):
    """One camera's HLS segments while someone plays them."""

    def __init__(self, camera_id: str, gop: float):
        self.camera_id = camera_id
        self.name = f"camera {camera_id}"
        self._gop = gop
        self.segmenter: Segmenter | None = None
        self.stream: "CameraStream | None" = None
        self.last_request = 0.0
        self._changed = asyncio.Event()
        #: Figures for /status and /metrics.
        self.playlist_requests = 0
        self.segment_requests = 0
        self.segments_made = 0
        self.starts = 0

    @property
    def active(self) -> bool:
        return self.segmenter is not None

    def activate(self, stream: "CameraStream") -> None:
        """Segment ``stream`` (from its last keyframe on)."""
        if self.segmenter is None:
            self.segmenter = Segmenter(_prefix(), self._gop)
            self.starts += 1
            log.info("%s: HLS started (segments %s-*)", self.name, self.segmenter.prefix)
        if self.stream is not stream:
            if self.stream is not None:
                self.stream.remove_consumer(self)
                self._done(self.segmenter.new_timeline(time.time()))
            self.stream = stream
            stream.add_consumer(self)  # its current init segment comes at once, via on_init
            for frame in list(stream.fanout.gop):
                self.on_frame(frame)

    def deactivate(self, idle: float) -> None:
        if self.stream is not None:
            self.stream.remove_consumer(self)
        self.stream = None
        self.segmenter = None
        log.info("%s: HLS stopped (no playlist request for %g s)", self.name, idle)

    def _done(self, segment: Segment | None) -> None:
        if segment is not None:
            self.segments_made += 1
            self._changed.set()
            self._changed = asyncio.Event()

    async def wait_for_segments(self, count: int, timeout: float) -> bool:
        """Whether ``count`` segments exist, waiting up to ``timeout`` s for them."""
        deadline = time.monotonic() + timeout
        while self.segmenter is not None and len(self.segmenter.segments) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except asyncio.TimeoutError:
                return False
        return self.segmenter is not None

    # -- StreamConsumer --------------------------------------------------------------------------

    def on_init(self, init: "InitSegment") -> None:
        if self.segmenter is not None:
            self._done(self.segmenter.set_init(init.data, time.time()))

    def on_frame(self, frame: "VideoFrame") -> None:
        if self.segmenter is not None and self.stream is not None:
            self._done(self.segmenter.add(frame.pts, frame.avcc, frame.keyframe,
                                          self.stream.epoch_ms / 1000, time.time()))

    def on_camera(self, online: bool) -> None:
        if not online and self.segmenter is not None:
            self._done(self.segmenter.finish(time.time()))

    # -- figures ---------------------------------------------------------------------------------

    def status(self) -> dict:
        segmenter = self.segmenter
        return {
            "active": segmenter is not None,
            "segments": len(segmenter.segments) if segmenter else 0,
            "bytes": segmenter.bytes if segmenter else 0,
            "target_duration": segmenter.target_duration if segmenter else None,
            "segments_made": self.segments_made,
            "playlist_requests": self.playlist_requests,
            "segment_requests": self.segment_requests,
            "starts": self.starts,
        }


class HlsManager:
    """Every camera's :class:`HlsOutput`, the signing of links, idle stops."""

    def __init__(self, registry: "Registry", signer: UrlSigner, gop: float = 1.0,
                 clock=time.time, idle_seconds: float = IDLE_SECONDS):
        self.registry = registry
        self.signer = signer
        self.gop = gop
        self._clock = clock
        self.idle_seconds = idle_seconds
        self.outputs: dict[str, HlsOutput] = {}
        self._task: asyncio.Task | None = None
        self._log = RateLimitedLog(log)

    def output(self, camera_id: str) -> HlsOutput:
        output = self.outputs.get(camera_id)
        if output is None:
            output = self.outputs[camera_id] = HlsOutput(camera_id, self.gop)
        return output

    def attach(self, stream: "CameraStream") -> None:
        """A new stream: if its camera is being played, segment the new one (a discontinuity)."""
        output = self.outputs.get(stream.id)
        if output is not None and output.active:
            output.activate(stream)

    async def playlist(self, stream: "CameraStream", signed: bool) -> str | None:
        """The playlist of ``stream``'s camera, starting its segmenter if need be; None when no
        video came in :data:`READY_SECONDS`. ``signed``: segment links carry signatures."""
        output = self.output(stream.id)
        output.playlist_requests += 1
        output.last_request = time.monotonic()
        output.activate(stream)
        if not await output.wait_for_segments(READY_SEGMENTS, READY_SECONDS):
            return None
        if not signed:
            return output.segmenter.playlist()
        now = self._clock()
        init_expiry = _round_up(now + LINK_SECONDS, LINK_STEP)

        def uri(name: str, segment: Segment | None) -> str:
            expires = init_expiry if segment is None else \
                _round_up(segment.finished + LINK_SECONDS, LINK_STEP)
            return f"{name}?{self.signer.query(stream.id, name, expires)}"

        return output.segmenter.playlist(uri)

    def segment(self, camera_id: str, name: str) -> bytes | None:
        output = self.outputs.get(camera_id)
        if output is None or output.segmenter is None:
            return None
        output.segment_requests += 1
        return output.segmenter.get(name)

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._tick_forever())

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            now = time.monotonic()
            for output in list(self.outputs.values()):
                if output.active and now - output.last_request > self.idle_seconds:
                    output.deactivate(self.idle_seconds)

    def camera_status(self, camera_id: str) -> dict | None:
        output = self.outputs.get(camera_id)
        return output.status() if output is not None else None

    def metrics_text(self) -> str:
        if not self.outputs:
            return ""
        lines = []
        for name, kind, help_text, key in _METRICS:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
            for camera_id, output in self.outputs.items():
                lines.append(f'{name}{{camera="{camera_id}"}} '
                             f"{float(output.status()[key]):g}")
        return "\n".join(lines) + "\n"


def _round_up(value: float, step: int) -> int:
    return int(math.ceil(value / step) * step)


_METRICS = (
    ("camserver_hls_active", "gauge", "1 while the camera is segmented for HLS players",
     "active"),
    ("camserver_hls_playlist_requests_total", "counter",
     "HLS playlist requests that reached this server", "playlist_requests"),
    ("camserver_hls_segment_requests_total", "counter",
     "HLS segment and init segment requests that reached this server", "segment_requests"),
    ("camserver_hls_segments_total", "counter", "HLS segments made", "segments_made"),
)
