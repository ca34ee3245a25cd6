"""Fan one camera's stream out to its viewers, each at its own pace, from a rolling buffer.

Contract:

- A viewer that joins gets playable video at once: for ``ts`` and ``fmp4`` everything since the
  last keyframe (keyframes carry PAT/PMT and SPS/PPS; fMP4 viewers get the init segment first);
  for ``mjpeg`` the latest JPEG.
- Publishing never awaits and never blocks on a viewer. Each viewer's unsent bytes (its
  :meth:`Viewer.backlog`) are its bounded queue: past ``limit_bytes`` the viewer skips to the
  next keyframe, and resumes there once it has drained below a quarter of the limit. A stalled
  viewer therefore costs at most ``limit_bytes`` plus one frame, and never delays the others.
- MJPEG viewers drop stale JPEGs instead: a frame is skipped while two frames' worth is unsent.
"""

from __future__ import annotations

import json
import logging
import struct
from typing import Iterable

from ..ingest.packager import InitSegment, VideoFrame
from ..ratelimit import RateLimitedLog
from .wsframe import Outgoing

log = logging.getLogger(__name__)

FORMATS = ("ts", "fmp4", "mjpeg")
#: Prefix of each MJPEG viewer message: sequence number (u32), server arrival time in Unix ms
#: (f64), both big-endian; the JPEG follows.
MJPEG_HEADER = struct.Struct(">Id")


class Viewer:
    """One receiver of a stream. Subclasses deliver; the policy lives in :class:`Fanout`."""

    def __init__(self, fmt: str, peer: str, address: str | None = None):
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}")
        self.format = fmt
        #: For log lines: "address:port".
        self.peer = peer
        #: The client's address, for per-address limits.
        self.address = address if address is not None else peer.rsplit(":", 1)[0]
        #: The login session (hashed id) it was opened with: logging out ends it.
        self.session: str | None = None
        self.skipping = True  # until the first keyframe: a decoder can start nowhere else
        #: fMP4 only: whether it gets the server's repeat pictures (``?repeats=0``: no). They
        #: exist for browsers' MSE renderers; a WebCodecs page draws each frame as it is
        #: decoded and would only throw them away.
        self.repeats = fmt == "fmp4"
        #: Whether its caller may change this camera's settings (``control``): such viewers
        #: also get the camera's ``config_ack`` and new settings (see :meth:`Fanout.publish_event`).
        self.may_control = False
        self.frames_sent = 0
        self.frames_skipped = 0
        self.bytes_sent = 0

    def send(self, item: Outgoing) -> None:
        """Queue ``item.message`` for delivery without waiting (WebSocket viewers write
        ``item.framed``, built once for all of them). Must not raise for a closed peer."""
        raise NotImplementedError

    def backlog(self) -> int:
        """Bytes handed to :meth:`send` that the peer has not taken yet."""
        raise NotImplementedError

    def abort(self) -> None:
        """Drop the connection now, without a closing handshake (a stalled peer would never
        answer one)."""
        raise NotImplementedError

    def close(self) -> None:
        """End the stream politely at shutdown, where the viewer's server does not."""

    def _deliver(self, item: Outgoing) -> None:
        self.send(item)
        self.bytes_sent += len(item)


class Fanout:
    def __init__(self, name: str, limit_bytes: int = 1024 * 1024,
                 max_buffer_frames: int = 600, max_buffer_bytes: int = 32 * 1024 * 1024):
        self.name = name
        self.limit_bytes = limit_bytes
        self.viewers: set[Viewer] = set()
        self.init: InitSegment | None = None
        self.gop: list[VideoFrame] = []
        self.last_jpeg: bytes | None = None
        self._gop_bytes = 0
        self._max_buffer_frames = max_buffer_frames
        self._max_buffer_bytes = max_buffer_bytes
        self._warn = RateLimitedLog(log)
        self.bytes_out = 0

    # -- viewers ---------------------------------------------------------------------------------

    def add(self, viewer: Viewer, hello: dict | None = None) -> None:
        self.viewers.add(viewer)
        if hello is not None and viewer.format != "ts":
            viewer._deliver(Outgoing(json.dumps(hello)))
        if viewer.format == "mjpeg":
            if self.last_jpeg is not None:
                self._send(viewer, Outgoing(self.last_jpeg))
            return
        if viewer.format == "fmp4" and self.init is not None:
            self._send_init(viewer, self.init)
        if self.gop:
            viewer.skipping = False
            for frame in self.gop:
                self._send(viewer, Outgoing(frame.ts if viewer.format == "ts" else frame.fmp4))

    def remove(self, viewer: Viewer) -> None:
        self.viewers.discard(viewer)

    # -- publishing ------------------------------------------------------------------------------

    def publish_init(self, init: InitSegment) -> None:
        """A new encoder configuration: fMP4 viewers need the new init segment before more video."""
        self.init = init
        self.gop.clear()  # frames of the old configuration cannot follow the new init segment
        self._gop_bytes = 0
        for viewer in self.viewers:
            if viewer.format == "fmp4":
                self._send_init(viewer, init)

    def publish_video(self, frame: VideoFrame) -> None:
        self._remember(frame)
        ts, fmp4 = Outgoing(frame.ts), Outgoing(frame.fmp4)
        for viewer in self.viewers:
            if viewer.format == "mjpeg":
                continue
            if self._may_send_video(viewer, frame.keyframe):
                self._send(viewer, ts if viewer.format == "ts" else fmp4)

    def wants_repeats(self) -> bool:
        """Whether any viewer would get a repeat now (an fMP4 viewer that is playing and takes
        repeats)."""
        return any(v.repeats and not v.skipping for v in self.viewers)

    def publish_repeat(self, frame: VideoFrame) -> None:
        """A repeat picture (packager.Packager.repeat): for fMP4 viewers that are playing and take
        repeats, never kept for viewers who join later."""
        fmp4 = Outgoing(frame.fmp4)
        for viewer in self.viewers:
            if viewer.repeats and not viewer.skipping \
                    and viewer.backlog() <= self.limit_bytes:
                self._send(viewer, fmp4)

    def publish_jpeg(self, message: bytes) -> None:
        """``message`` is :data:`MJPEG_HEADER` + JPEG."""
        self.last_jpeg = message
        item = Outgoing(message)
        for viewer in self.viewers:
            if viewer.format != "mjpeg":
                continue
            if viewer.backlog() > 2 * len(message):
                viewer.frames_skipped += 1
            else:
                self._send(viewer, item)

    def publish_event(self, event: dict, formats: Iterable[str] = ("fmp4", "mjpeg"),
                      controllers_only: bool = False) -> None:
        """A JSON text message (camera state, stream info) for viewers that read text; with
        ``controllers_only``, only for those whose caller may control the camera (its settings
        and its answers to settings are theirs alone)."""
        item = Outgoing(json.dumps(event))
        for viewer in self.viewers:
            if viewer.format in formats and (viewer.may_control or not controllers_only):
                viewer._deliver(item)

    # -- internals -------------------------------------------------------------------------------

    def _may_send_video(self, viewer: Viewer, keyframe: bool) -> bool:
        backlog = viewer.backlog()
        if viewer.skipping:
            if not keyframe or backlog > self.limit_bytes // 4:
                viewer.frames_skipped += 1
                return False
            viewer.skipping = False
            return True
        if backlog > self.limit_bytes:
            viewer.skipping = True
            viewer.frames_skipped += 1
            self._warn.log(logging.INFO, viewer.peer,
                           "%s: viewer %s is %d bytes behind; skipping to the next keyframe",
                           self.name, viewer.peer, backlog)
            return False
        return True

    def _remember(self, frame: VideoFrame) -> None:
        if frame.keyframe:
            self.gop.clear()
            self._gop_bytes = 0
        elif not self.gop:
            return  # no keyframe to start from: useless to a new viewer
        self.gop.append(frame)
        self._gop_bytes += len(frame.ts) + len(frame.fmp4)
        if len(self.gop) > self._max_buffer_frames or self._gop_bytes > self._max_buffer_bytes:
            # An encoder that stopped making keyframes must not grow memory: new viewers wait
            # for the next keyframe instead.
            self._warn.log(logging.WARNING, "gop",
                           "%s: no keyframe for %d frames; dropping the rolling buffer",
                           self.name, len(self.gop))
            self.gop.clear()
            self._gop_bytes = 0

    def _send_init(self, viewer: Viewer, init: InitSegment) -> None:
        viewer._deliver(Outgoing(json.dumps({"type": "init", "codec": init.codec,
                                             "width": init.width, "height": init.height})))
        viewer._deliver(Outgoing(init.data))
        # Frames after a new init segment must start at a keyframe.
        viewer.skipping = True

    def _send(self, viewer: Viewer, item: Outgoing) -> None:
        viewer._deliver(item)
        viewer.frames_sent += 1
        self.bytes_out += len(item)
