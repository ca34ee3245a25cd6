"""HLS with fMP4 (CMAF) segments: the stream's frames -> segments cut at keyframes -> a live
media playlist (RFC 8216).

Pure: frames and times in, bytes and text out. :class:`Segmenter` keeps a bounded ring of the
newest segments and renders the playlist of the newest :attr:`Segmenter.window` of them.

- **Segments.** Each starts with a keyframe and holds whole GOPs: it ends at the first keyframe
  at least ``min_seconds`` after its start. Inside, the frames are ``prft`` + ``moof`` + ``mdat``
  fragments of at most 0.5 s, built by the recorder's
  :class:`~camserver.recording.segment.SegmentBuilder` (the same boxes a recording file holds
  after its header). Decode times are the stream's own (``tfdt`` = the frame's arrival time in
  90 kHz ticks since the stream began), so segments follow each other without a seam; the
  ``prft`` boxes carry wall-clock time.
- **Durations.** A frame lasts until the next one, but the last frame before a pause lasts at
  most :data:`MAX_LAST_FRAME` (the pause stays a gap in the timeline, not a frozen picture that
  would stretch a segment past the target duration). Since every frame at least ``gop`` after a
  keyframe is a keyframe (the encoder's rule), a segment lasts less than ``max(min_seconds, gop)
  + gop + MAX_LAST_FRAME``, which fixes ``EXT-X-TARGETDURATION`` for the playlist's life (RFC
  8216 forbids changing it).
- **Discontinuities.** A new init segment (new size or encoder parameters) or a new timeline
  (the stream was made anew: its clock starts over) puts ``EXT-X-DISCONTINUITY`` before the next
  segment; a new init segment also a new ``EXT-X-MAP``.
- **Names** are ``<prefix>-<sequence>.m4s`` and ``<prefix>-init<n>.mp4``; the caller picks a
  prefix that never repeats (random), so a name always means the same bytes and caches may keep
  them forever.
- **Memory.** At most ``keep`` segments and ``max_bytes`` in the ring; a segment that grows past
  ``max_segment_bytes`` or 10 target durations (an encoder that stopped making keyframes) is
  dropped and the next one starts after a discontinuity.
"""

from __future__ import annotations

import collections
import datetime
import math
from dataclasses import dataclass
from typing import Callable

from ..recording.segment import SegmentBuilder

TICKS_PER_SECOND = 90000
#: The longest the last frame before a pause is said to last (seconds).
MAX_LAST_FRAME = 0.5
MAX_LAST_FRAME_TICKS = round(MAX_LAST_FRAME * TICKS_PER_SECOND)
#: A keyframe ``gop`` after the previous one may be a tick or two short of it in 90 kHz ticks
#: (FFmpeg decides on microseconds): it still ends a segment of ``min_seconds`` = ``gop``.
ROUNDING_TICKS = 90


@dataclass(frozen=True, slots=True)
class Segment:
    sequence: int
    name: str
    data: bytes
    #: Seconds of video (the sum of its frames' durations).
    duration: float
    #: Name of the init segment it needs.
    init: str
    #: Preceded by EXT-X-DISCONTINUITY.
    discontinuity: bool
    #: Discontinuities so far, this segment's included (its discontinuity sequence number).
    epoch: int
    #: Wall-clock time of its first frame (Unix seconds), for EXT-X-PROGRAM-DATE-TIME.
    utc: float
    #: When it was finished (Unix seconds): what signed links to it count their expiry from.
    finished: float


class _Open:
    """The segment being collected."""

    __slots__ = ("start_pts", "parts", "bytes")

    def __init__(self, start_pts: int):
        self.start_pts = start_pts
        self.parts: list[bytes] = []
        self.bytes = 0

    def append(self, data: bytes | None) -> None:
        if data:
            self.parts.append(data)
            self.bytes += len(data)


def target_duration(min_seconds: float, gop: float) -> int:
    """EXT-X-TARGETDURATION: no segment, rounded to the nearest second, can be longer."""
    longest = max(min_seconds, gop) + (gop if gop < min_seconds else 0) + MAX_LAST_FRAME
    return max(1, math.floor(longest + 0.5))


class Segmenter:
    def __init__(self, prefix: str, gop: float = 1.0, *, min_seconds: float = 1.0,
                 window: int = 6, keep: int = 12, max_bytes: int = 32 * 1024 * 1024,
                 max_segment_bytes: int = 16 * 1024 * 1024):
        self.prefix = prefix
        self.min_ticks = round(min_seconds * TICKS_PER_SECOND)
        self.target_duration = target_duration(min_seconds, gop)
        self.window = window
        self.keep = keep
        self.max_bytes = max_bytes
        self.max_segment_bytes = max_segment_bytes
        self.segments: collections.deque[Segment] = collections.deque()
        self.bytes = 0
        #: Init segments by name (only those segments in the ring still need, and the current).
        self.inits: dict[str, bytes] = {}
        self._init_name: str | None = None
        self._init_data: bytes | None = None
        self._inits_made = 0
        self._builder: SegmentBuilder | None = None
        self._utc_zero = 0.0
        self._open: _Open | None = None
        self._sequence = 0
        self._epoch = 0
        self._discontinuity = False
        #: Segments given up (too big or too long without a keyframe).
        self.dropped = 0

    # -- input -----------------------------------------------------------------------------------

    def set_init(self, data: bytes, now: float) -> Segment | None:
        """The encoder's init segment (``ftyp`` + ``moov``); the frames that follow belong to
        it. The same bytes again change nothing. Returns the segment this ended, if any."""
        if data == self._init_data:
            return None
        done = self._end_timeline(now)
        self._init_data = data
        self._init_name = f"{self.prefix}-init{self._inits_made}.mp4"
        self._inits_made += 1
        self.inits[self._init_name] = data
        return done

    def new_timeline(self, now: float) -> Segment | None:
        """The stream's clock starts over (a new stream for the camera): what follows is a
        discontinuity. Returns the segment this ended, if any."""
        return self._end_timeline(now)

    def _end_timeline(self, now: float) -> Segment | None:
        done = self.finish(now)
        self._builder = None
        if self._sequence:
            self._discontinuity = True
        return done

    def add(self, pts: int, avcc: bytes, keyframe: bool, utc_zero: float,
            now: float) -> Segment | None:
        """A frame at ``pts`` (90 kHz ticks of the stream clock, whose zero is ``utc_zero`` in
        Unix seconds); ``now`` is the wall-clock time. Returns the segment it completed, if
        any. Frames before the first keyframe, or without an init segment, are ignored."""
        if self._init_data is None:
            return None
        done = None
        if self._builder is None:
            if not keyframe:
                return None
            self._builder = SegmentBuilder(self._init_data, 0, utc_zero)
            self._utc_zero = utc_zero
        builder = self._builder
        current = self._open
        if keyframe and current is not None and builder.last_pts is not None:
            gap = pts - builder.last_pts
            current.append(builder.flush(next_pts=builder.last_pts + min(gap,
                                                                         MAX_LAST_FRAME_TICKS)))
            if pts - current.start_pts >= self.min_ticks - ROUNDING_TICKS \
                    or gap > MAX_LAST_FRAME_TICKS:
                done = self._close(now)
                current = None
        if current is None:
            if not keyframe:
                return done  # after a dropped segment: wait for a keyframe
            current = self._open = _Open(pts)
        current.append(builder.add(pts, avcc, keyframe))
        if current.bytes > self.max_segment_bytes \
                or pts - current.start_pts > 10 * self.target_duration * TICKS_PER_SECOND:
            self._open = None
            self._builder = None
            self._discontinuity = True
            self.dropped += 1
        return done

    def finish(self, now: float) -> Segment | None:
        """End the segment being collected with the frames so far (the camera left); returns
        it, if it had any. The next segment starts at the next keyframe."""
        current = self._open
        if current is None or self._builder is None:
            self._open = None
            return None
        current.append(self._builder.flush())
        return self._close(now)

    def _close(self, now: float) -> Segment | None:
        current, self._open = self._open, None
        if current is None or not current.parts:
            return None
        if self._discontinuity:
            self._epoch += 1
        segment = Segment(
            sequence=self._sequence, name=f"{self.prefix}-{self._sequence}.m4s",
            data=b"".join(current.parts),
            duration=(self._builder.end_pts - current.start_pts) / TICKS_PER_SECOND,
            init=self._init_name, discontinuity=self._discontinuity, epoch=self._epoch,
            utc=self._utc_zero + current.start_pts / TICKS_PER_SECOND, finished=now)
        self._sequence += 1
        self._discontinuity = False
        self.segments.append(segment)
        self.bytes += len(segment.data)
        while len(self.segments) > self.keep or (self.bytes > self.max_bytes
                                                 and len(self.segments) > 1):
            old = self.segments.popleft()
            self.bytes -= len(old.data)
        needed = {s.init for s in self.segments} | {self._init_name}
        for name in [n for n in self.inits if n not in needed]:
            del self.inits[name]
        return segment

    # -- output ----------------------------------------------------------------------------------

    def get(self, name: str) -> bytes | None:
        """A segment's or init segment's bytes, None if it is not (or no longer) kept."""
        if name in self.inits:
            return self.inits[name]
        prefix = f"{self.prefix}-"
        if not name.startswith(prefix) or not name.endswith(".m4s"):
            return None
        number = name[len(prefix):-4]
        if not number.isdigit() or not self.segments:
            return None
        index = int(number) - self.segments[0].sequence
        if 0 <= index < len(self.segments):
            return self.segments[index].data
        return None

    def playlist(self, uri: Callable[[str, Segment | None], str] = lambda name, s: name) -> str:
        """The live media playlist of the newest :attr:`window` segments. ``uri(name, segment)``
        makes each URI (``segment`` is None for an init segment), e.g. to sign it."""
        shown = list(self.segments)[-self.window:]
        lines = ["#EXTM3U", "#EXT-X-VERSION:6",
                 f"#EXT-X-TARGETDURATION:{self.target_duration}"]
        if shown:
            lines += [f"#EXT-X-MEDIA-SEQUENCE:{shown[0].sequence}",
                      f"#EXT-X-DISCONTINUITY-SEQUENCE:{shown[0].epoch}"]
        lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
        previous: Segment | None = None
        for segment in shown:
            if previous is not None and segment.discontinuity:
                lines.append("#EXT-X-DISCONTINUITY")
            if previous is None or segment.init != previous.init:
                lines.append(f'#EXT-X-MAP:URI="{uri(segment.init, None)}"')
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_iso(segment.utc)}")
            lines.append(f"#EXTINF:{segment.duration:.3f},")
            lines.append(uri(segment.name, segment))
            previous = segment
        return "\n".join(lines) + "\n"


def _iso(unix: float) -> str:
    moment = datetime.datetime.fromtimestamp(unix, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
