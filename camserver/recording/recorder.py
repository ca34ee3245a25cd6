"""One camera's recorder: a :class:`StreamConsumer` that turns the stream's H.264 into segment
files, continuously or around motion.

Everything here runs on the event loop and returns at once: a frame is appended to the segment
being built (:class:`segment.SegmentBuilder`), and a finished fragment (every 0.5 s) is handed to
the camera's writer thread (:mod:`writer`); motion detection runs in a worker thread on at most
:data:`DETECT_PER_SECOND` JPEGs a second. No re-encode, no second decode of the video: the files
hold the access units the live viewers get.

Segments: a new file starts at the first keyframe once the current one is ``segment_seconds``
long; also at the first keyframe after the encoder's parameters change (new resolution), after
a pause of over :data:`clip.GAP_SECONDS` (a camera that left and came back), and after the wall
clock jumped (see :mod:`naming`). A file whose camera has been silent or gone for
:data:`clip.GAP_SECONDS` is ended by :meth:`Recorder.tick`; what it collected was written out
already, when the camera left or after :data:`FLUSH_AFTER`.

Motion mode: the last keyframes and the frames after them, back to at least ``pre_seconds``
before now, wait in memory (:data:`MAX_RING_BYTES` at most). When motion is seen, recording
starts with them, from the keyframe at least ``pre_seconds`` before the motion, and stops at the
first frame more than ``post_seconds`` after the last motion.

Disk trouble (full, read-only, gone): the file is given up with what it holds, one log line
says recording stopped, the state shows ``error`` with the reason, and a new file is tried at a
keyframe every :data:`RETRY_SECONDS`; the first that works logs that recording resumed. Live
viewers never notice: nothing here waits for the disk.
"""

from __future__ import annotations

import collections
import concurrent.futures
import logging
import time
from typing import TYPE_CHECKING, Any, NamedTuple

from ..ingest.stream import StreamConsumer
from ..ratelimit import RateLimitedLog
from .clip import GAP_SECONDS
from .index import Entry, Event, event_line, events_path
from .motion import MotionDetector
from .naming import TICKS_PER_SECOND, WallClock
from .segment import SegmentBuilder
from .settings import CameraRecording

if TYPE_CHECKING:
    from ..ingest.packager import InitSegment, VideoFrame
    from ..ingest.stream import CameraStream
    from .manager import RecordingManager

log = logging.getLogger(__name__)

#: After a write error, a new file is tried this often (at the next keyframe).
RETRY_SECONDS = 5.0
#: Frames still waiting for their fragment are written after this long without a new frame.
FLUSH_AFTER = 1.0
#: Motion detection runs on at most this many JPEGs a second (each ~1 ms in a worker thread).
DETECT_PER_SECOND = 4
#: Motion mode's memory of recent frames, whatever ``pre_seconds`` and the bitrate.
MAX_RING_BYTES = 32 * 1024 * 1024

GAP_TICKS = round(GAP_SECONDS * TICKS_PER_SECOND)


class _Held(NamedTuple):
    """A frame in motion mode's memory: only what a file needs (a VideoFrame also holds the
    live viewers' TS and fMP4 copies, twice the bytes again)."""

    pts: int
    keyframe: bool
    avcc: bytes


class Recorder(StreamConsumer):
    def __init__(self, camera_id: str, settings: CameraRecording, manager: "RecordingManager"):
        self.camera_id = camera_id
        self.name = f"camera {camera_id}"
        self.settings = settings
        self.mode = settings.record
        self._manager = manager
        self._stream: CameraStream | None = None
        self._clock: WallClock | None = None
        self._init: InitSegment | None = None
        self._builder: SegmentBuilder | None = None
        self._token = 0
        self._starts: dict[int, float] = {}  # token -> UTC start, until its file is opened
        self._paths: dict[int, str] = {}
        self._writer = None
        self._logs = RateLimitedLog(log, interval=60)
        self.state = "waiting"
        self.last_error: tuple[float, str] | None = None
        self._stopped = False  # an error or lack of space stopped recording: log on resume
        self._retry_at = 0.0
        self._short_of_space: str | None = None
        self.frames_recorded = 0
        self.frames_dropped = 0
        self.segments_started = 0
        self._last_frame_at = 0.0
        self._recorded_until: int | None = None  # pts of the last frame put in a segment
        # Motion mode.
        self._detector = (MotionDetector(settings.motion_sensitivity, settings.motion_masks)
                          if self.mode == "motion" else None)
        self._ring: collections.deque[_Held] = collections.deque()
        self._ring_keys: collections.deque[int] = collections.deque()
        self._ring_bytes = 0
        self._detecting = False
        self._last_detect = 0.0
        self._motion_until: int | None = None
        self._event: dict[str, Any] | None = None
        self.motion_events = 0
        self.last_score: float | None = None
        if self.mode == "motion":
            self.state = "idle"

    # -- the stream ------------------------------------------------------------------------------

    def bind(self, stream: "CameraStream") -> None:
        """Record ``stream`` (a new stream for this camera id replaces the old one)."""
        self._end_segment()
        self._end_event()
        self._clear_ring()
        self._stream = stream
        self._clock = WallClock(stream.epoch_monotonic)
        self._init = None
        stream.add_consumer(self)

    def on_init(self, init: "InitSegment") -> None:
        if self._init is not None and init.data != self._init.data:
            self._end_segment()  # the next keyframe starts a file with the new parameters
            self._clear_ring()
        self._init = init

    def on_frame(self, frame: "VideoFrame") -> None:
        self._last_frame_at = time.monotonic()
        if self.mode == "continuous":
            self._record(frame)
            return
        self._ring_add(frame)
        if self._motion_until is not None:
            if frame.pts > self._motion_until:
                self._end_segment(next_pts=frame.pts)
                self._end_event()
            else:
                self._record(frame)

    def on_jpeg(self, jpeg: bytes, info: Any, wall_ms: float) -> None:
        if self._detector is None or self._detecting or self._stream is None:
            return
        now = time.monotonic()
        if now - self._last_detect < 1 / DETECT_PER_SECOND:
            return
        self._last_detect = now
        self._detecting = True
        pts = round((wall_ms - self._stream.epoch_ms) * TICKS_PER_SECOND / 1000)
        future = self._manager.motion_executor.submit(self._detector.score, jpeg)
        future.add_done_callback(
            lambda f: self._manager.call_soon_threadsafe(self._on_score, f, pts))

    def on_camera(self, online: bool) -> None:
        # The camera left: what is collected goes to disk now. The file stays open for the
        # encoder's last frames (and a camera back within GAP_SECONDS); tick() ends it.
        if not online and self._builder is not None:
            data = self._builder.flush()
            if data is not None:
                self._append(data)

    # -- segments --------------------------------------------------------------------------------

    def _record(self, frame: "VideoFrame | _Held") -> None:
        builder = self._builder
        if builder is not None:
            jump = self._clock.jumped(frame.pts) if frame.keyframe else 0.0
            if builder.last_pts is not None and frame.pts - builder.last_pts > GAP_TICKS:
                self._end_segment()
            elif frame.keyframe and (
                    frame.pts - builder.start_pts >= self.settings.segment_seconds
                    * TICKS_PER_SECOND or jump or builder.header != self._init.data):
                if jump:
                    log.warning("%s: the wall clock moved %+.1f s; recording goes on in a new "
                                "file stamped with the new time", self.name, jump)
                self._end_segment(next_pts=frame.pts)
        if self._builder is None:
            if self._init is None:
                return
            if not self._may_start() or (not frame.keyframe and self.state == "error"):
                self.frames_dropped += 1  # not recorded because of the disk
                return
            if not frame.keyframe:
                return  # a file starts at a keyframe
            self._start_segment(frame)
        data = self._builder.add(frame.pts, frame.avcc, frame.keyframe)
        self.frames_recorded += 1
        self._recorded_until = frame.pts
        if data is not None:
            self._append(data)

    def _may_start(self) -> bool:
        if self._short_of_space is not None:
            return False
        if self.state == "error" and time.monotonic() < self._retry_at:
            return False
        return True

    def _start_segment(self, frame: "VideoFrame | _Held") -> None:
        utc = self._clock.anchor(frame.pts)
        self._builder = SegmentBuilder(self._init.data, frame.pts, utc)
        self._token += 1
        self._starts[self._token] = utc
        self.segments_started += 1
        if self._writer is None:
            self._writer = self._manager.make_writer(self)
        self._writer.submit(("open", self._token, utc, self._init.data), force=True)
        if self.state != "error":
            self.state = "recording"

    def _append(self, data: bytes) -> None:
        builder = self._builder
        if not self._writer.submit(("append", self._token, data, builder.duration), len(data)):
            self._logs.log(logging.WARNING, "overrun",
                           "%s: the disk is not keeping up (%d MB waiting); video is dropped "
                           "up to the next keyframe and a new file started", self.name,
                           self._writer.queued_bytes >> 20)
            self.frames_dropped += builder.pending
            self._builder = None
            self._writer.submit(("close", self._token), force=True)

    def _end_segment(self, next_pts: int | None = None) -> None:
        builder, self._builder = self._builder, None
        if builder is None:
            return
        data = builder.flush(next_pts)
        if data is not None:
            self._writer.submit(("append", self._token, data, builder.duration), len(data),
                                force=True)
        self._writer.submit(("close", self._token), force=True)
        if self.state == "recording":
            self.state = "idle" if self.mode == "motion" else "waiting"

    def tick(self, now: float) -> None:
        """Called every half second: write out frames of a stalled camera, end motion
        recordings whose camera went quiet."""
        if self._builder is not None and now - self._last_frame_at > GAP_SECONDS:
            self._end_segment()  # camera gone or silent: the file ends with its last frame
            self._end_event()
        elif self._builder is not None and self._builder.pending and \
                now - self._last_frame_at > FLUSH_AFTER:
            data = self._builder.flush()
            if data is not None:
                self._append(data)
        if self._motion_until is not None and self._stream is not None:
            stream_now = (now - self._stream.epoch_monotonic) * TICKS_PER_SECOND
            if stream_now > self._motion_until + GAP_TICKS:
                self._end_segment()
                self._end_event()

    # -- what the writer thread reports ----------------------------------------------------------

    def on_writer(self, kind: str, token: int | None, path: str | None, *rest) -> None:
        index = self._manager.index
        if kind == "opened":
            start = self._starts.pop(token, None)
            self._paths[token] = path
            index.add(Entry(self.camera_id, path, start if start is not None else 0.0, 0.0, 0,
                            live=True))
            if self._stopped:
                self._stopped = False
                log.info("%s: recording resumed (%s)", self.name, path)
            if token == self._token and self._builder is not None:
                self.state = "recording"
        elif kind == "wrote":
            size, duration = rest
            entry = index.get(self.camera_id, path)
            if entry is not None:
                entry.size, entry.duration = size, duration
        elif kind == "closed":
            self._paths.pop(token, None)
            entry = index.get(self.camera_id, path)
            if entry is not None:
                entry.live = False
                if rest and rest[0]:
                    index.remove(self.camera_id, path)  # no frame was written: file deleted
            self._manager.segment_closed()
        elif kind == "failed":
            self._starts.pop(token, None)
            exc, removed = rest
            if path is not None:
                entry = index.get(self.camera_id, path)
                if entry is not None:
                    entry.live = False
                    if removed:
                        index.remove(self.camera_id, path)
            if token is not None and token == self._token:
                self._builder = None
            self._fail(f"{exc.strerror or exc} ({path or self._manager.record_dir})")

    def _fail(self, message: str) -> None:
        self.last_error = (time.time(), message)
        self._retry_at = time.monotonic() + RETRY_SECONDS
        self.state = "error"
        if not self._stopped:
            self._stopped = True
            log.error("%s: recording stopped: %s. Live viewing goes on; recording resumes by "
                      "itself once the disk can be written again (tried every %g s)", self.name,
                      message, RETRY_SECONDS)

    def set_short_of_space(self, reason: str | None) -> None:
        """The manager found free space under ``min_free_bytes`` with nothing left to delete
        (``reason``), or space back (None)."""
        if reason is not None and self._short_of_space is None:
            self._end_segment()
            self.last_error = (time.time(), reason)
            if not self._stopped:
                self._stopped = True
                log.error("%s: recording paused: %s. Live viewing goes on; recording resumes "
                          "by itself when space is freed", self.name, reason)
            self.state = "paused"
        elif reason is None and self._short_of_space is not None:
            self.state = "idle" if self.mode == "motion" else "waiting"
        self._short_of_space = reason

    # -- motion ----------------------------------------------------------------------------------

    def _on_score(self, future: concurrent.futures.Future, pts: int) -> None:
        self._detecting = False
        try:
            score = future.result()
        except Exception as exc:  # a JPEG Pillow cannot decode: skip it
            self._logs.log(logging.WARNING, "detect", "%s: motion detection skipped a frame: "
                           "%r", self.name, exc)
            return
        self.last_score = score
        if self._detector.is_motion(score) and self._stream is not None:
            self._motion(pts, score)

    def _motion(self, pts: int, score: float) -> None:
        post = round(self.settings.post_seconds * TICKS_PER_SECOND)
        if self._event is not None:
            self._motion_until = max(self._motion_until or 0, pts + post)
            self._event["last"] = pts
            self._event["score"] = max(self._event["score"], score)
            return
        self._motion_until = pts + post
        self._event = {"first": pts, "last": pts, "score": score, "start": None}
        self.motion_events += 1
        # The pre-roll: from the keyframe at least pre_seconds before the motion, but nothing
        # already in a file.
        horizon = pts - round(self.settings.pre_seconds * TICKS_PER_SECOND)
        done = self._recorded_until if self._recorded_until is not None else -1
        keys = [k for k in self._ring_keys if k > done]
        start = max((k for k in keys if k <= horizon), default=keys[0] if keys else None)
        if start is not None:
            for frame in list(self._ring):
                if frame.pts >= start:
                    self._record(frame)
        utc = self._utc(pts)
        self._event["start"] = utc
        event = Event(utc, None, score)
        self._manager.index.put_event(self.camera_id, event)
        self._write_event(event)

    @property
    def ongoing_event_start(self) -> float | None:
        """UTC start of the motion event going on now (None if none)."""
        return self._event["start"] if self._event is not None else None

    def _end_event(self) -> None:
        event, self._event = self._event, None
        self._motion_until = None
        if event is None or event["start"] is None:
            return
        duration = (event["last"] - event["first"]) / TICKS_PER_SECOND + 1 / DETECT_PER_SECOND
        done = Event(event["start"], round(duration, 3), event["score"])
        self._manager.index.put_event(self.camera_id, done)
        self._write_event(done)

    def _write_event(self, event: Event) -> None:
        if self._writer is None:
            self._writer = self._manager.make_writer(self)
        path = events_path(self._manager.camera_dir(self.camera_id), event.start,
                           self._manager.offset_at)
        self._writer.submit(("event", path, event_line(event)), force=True)

    def _utc(self, pts: int) -> float:
        if self._builder is not None:
            return self._clock.utc(pts)
        return self._clock.wall_time_of(pts)

    def _ring_add(self, frame: "VideoFrame") -> None:
        if frame.keyframe:
            self._ring_keys.append(frame.pts)
        elif not self._ring:
            return  # the memory starts at a keyframe
        self._ring.append(_Held(frame.pts, frame.keyframe, frame.avcc))
        self._ring_bytes += len(frame.avcc)
        horizon = frame.pts - round(self.settings.pre_seconds * TICKS_PER_SECOND)
        while len(self._ring_keys) >= 2 and (self._ring_keys[1] <= horizon
                                              or self._ring_bytes > MAX_RING_BYTES):
            self._ring_keys.popleft()
            while self._ring and self._ring[0].pts < self._ring_keys[0]:
                self._ring_bytes -= len(self._ring.popleft().avcc)

    def _clear_ring(self) -> None:
        self._ring.clear()
        self._ring_keys.clear()
        self._ring_bytes = 0

    # -- lifecycle and status --------------------------------------------------------------------

    def close(self) -> Any:
        """End the file and the event (called on the loop at shutdown); returns the writer, to be
        stopped from a thread."""
        self._end_segment()
        self._end_event()
        if self._stream is not None:
            self._stream.remove_consumer(self)
        return self._writer

    def status(self) -> dict:
        index = self._manager.index
        oldest = index.oldest(self.camera_id)
        newest = index.newest(self.camera_id)
        current = self._paths.get(self._token) if self._builder is not None else None
        return {
            "mode": self.mode,
            "state": self.state,
            "file": self._manager.relative(current) if current else None,
            "bytes": index.bytes(self.camera_id),
            "oldest": iso(oldest),
            "newest": iso(newest),
            "last_error": ({"at": iso(self.last_error[0]), "message": self.last_error[1]}
                           if self.last_error else None),
            "segments_started": self.segments_started,
            "frames_recorded": self.frames_recorded,
            "frames_dropped": self.frames_dropped,
            "motion_events": self.motion_events,
            "motion_score": (round(self.last_score, 4) if self.last_score is not None
                             else None),
        }


def iso(utc: float | None) -> str | None:
    """ISO 8601 UTC with milliseconds, as the API writes times."""
    if utc is None:
        return None
    seconds = int(utc // 1)
    millis = int(round((utc - seconds) * 1000))
    if millis == 1000:
        seconds, millis = seconds + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"
