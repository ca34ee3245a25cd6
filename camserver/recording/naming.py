"""Segment file names, and the UTC time each segment is stamped with. Pure: no file system.

Names: ``<camera>/<YYYY-MM-DD>/<HH-MM-SS>.mp4`` in the server's local time, from the segment's
first frame. Local time repeats when the clocks go back (daylight saving time ends), so in a
repeated hour the name carries the UTC offset too (``02-30-00+0100.mp4`` after
``02-30-00+0200.mp4``). A wall clock that is set back (NTP correcting a Raspberry Pi that booted
with a stale clock) can repeat even a UTC second; then the writer takes the next free name of
:func:`candidates` (``-2``, ``-3``...). Names are for people and for sorting; the exact time of a
segment comes from inside the file (a ``prft`` box before every fragment, see :mod:`segment`).

Time stamps: frames carry the stream clock (``time.monotonic`` ticks since the stream began),
which never jumps. Each segment is anchored to the wall clock once, at its first frame
(:class:`WallClock`): UTC of a frame = anchor + media time since the first frame. A wall clock
that jumps mid-segment changes nothing already written; the recorder sees the jump
(:meth:`WallClock.jumped`) and starts a new segment, anchored to the new time, at the next
keyframe. So a jump shows in the API as a gap or an overlap between two segments, never as a
segment stretched or squeezed.
"""

from __future__ import annotations

import re
import time
from typing import Callable, Iterator

TICKS_PER_SECOND = 90000
#: Clock changes a daylight-saving or zone change can make; checked either side of a time.
_MAX_SHIFT = 3 * 3600
#: A wall clock that moved this far against the monotonic clock has been set, not slewed.
JUMP_SECONDS = 2.0

#: What the recorder writes (and the only files retention ever deletes).
SEGMENT_FILE = re.compile(r"(\d{2})-(\d{2})-(\d{2})(?:([+-])(\d{2})(\d{2}))?(?:-(\d+))?\.mp4")
DAY_DIR = re.compile(r"\d{4}-\d{2}-\d{2}")

OffsetAt = Callable[[float], int]


def system_offset(t: float) -> int:
    """Seconds east of UTC of the server's local time zone at Unix time ``t`` (honours TZ)."""
    return time.localtime(t).tm_gmtoff


def _local_parts(t: float, offset: int) -> time.struct_time:
    return time.gmtime(int(t // 1) + offset)


def is_repeated(t: float, offset_at: OffsetAt = system_offset) -> bool:
    """Whether the local time (to the second) at ``t`` also occurs at another UTC time: the hour
    the clocks go back. Found by trying the offsets in force hours before and after."""
    second = int(t // 1)
    offset = offset_at(second)
    for other in {offset_at(second - _MAX_SHIFT), offset_at(second + _MAX_SHIFT)}:
        if other != offset:
            twin = second + offset - other
            if offset_at(twin) == other:
                return True
    return False


def format_offset(offset: int) -> str:
    sign = "+" if offset >= 0 else "-"
    minutes = abs(offset) // 60
    return f"{sign}{minutes // 60:02d}{minutes % 60:02d}"


def candidates(start_utc: float, offset_at: OffsetAt = system_offset) -> Iterator[str]:
    """Relative names for a segment starting at ``start_utc``, best first:
    ``2024-10-27/02-30-00.mp4``; in a repeated hour only ``...02-30-00+0200.mp4``; then, for a
    name taken already, ``...+0200-2.mp4``, ``-3`` and so on without end."""
    offset = offset_at(int(start_utc // 1))
    parts = _local_parts(start_utc, offset)
    day = time.strftime("%Y-%m-%d", parts)
    base = time.strftime("%H-%M-%S", parts)
    with_offset = base + format_offset(offset)
    if not is_repeated(start_utc, offset_at):
        yield f"{day}/{base}.mp4"
    yield f"{day}/{with_offset}.mp4"
    n = 2
    while True:
        yield f"{day}/{with_offset}-{n}.mp4"
        n += 1


def is_segment_path(day: str, name: str) -> bool:
    """Whether ``day/name`` looks like a file the recorder writes."""
    return DAY_DIR.fullmatch(day) is not None and SEGMENT_FILE.fullmatch(name) is not None


class WallClock:
    """Turns a stream's media time into UTC for one segment at a time.

    ``epoch_monotonic`` is the stream clock's zero on :func:`time.monotonic`; a frame's ``pts``
    counts 90 kHz ticks from there. ``now`` returns ``(wall, monotonic)``; tests pass their own.
    """

    def __init__(self, epoch_monotonic: float,
                 now: Callable[[], tuple[float, float]] = lambda: (time.time(),
                                                                   time.monotonic())):
        self._epoch = epoch_monotonic
        self._now = now
        self._anchor_pts: int | None = None
        self._anchor_utc = 0.0

    def wall_time_of(self, pts: int) -> float:
        """What the wall clock says now, carried back to the frame's arrival."""
        wall, mono = self._now()
        return wall - (mono - (self._epoch + pts / TICKS_PER_SECOND))

    def anchor(self, pts: int) -> float:
        """Start a segment at ``pts``: anchor it to the wall clock now; return its UTC start."""
        self._anchor_pts = pts
        self._anchor_utc = self.wall_time_of(pts)
        return self._anchor_utc

    def utc(self, pts: int) -> float:
        """UTC of ``pts`` in the anchored segment."""
        assert self._anchor_pts is not None, "utc() before anchor()"
        return self._anchor_utc + (pts - self._anchor_pts) / TICKS_PER_SECOND

    def jumped(self, pts: int) -> float:
        """Seconds the wall clock moved against the anchored segment's time (0.0 if under
        :data:`JUMP_SECONDS`, i.e. no more than slewing and scheduling noise)."""
        if self._anchor_pts is None:
            return 0.0
        drift = self.wall_time_of(pts) - self.utc(pts)
        return drift if abs(drift) >= JUMP_SECONDS else 0.0
