"""One recording segment file: how it is built from the stream's frames, and how it is read back.

Pure (no file system): :class:`SegmentBuilder` turns frames into bytes to append, and
:func:`read_segment` reads a binary file object.

Layout (fragmented MP4, :mod:`camserver.media.fmp4`)::

    ftyp moov                 the stream's init segment as is: no samples, no duration
    prft moof mdat            a fragment: up to FRAGMENT_SECONDS of frames, the first one a
    prft moof mdat            keyframe or the frame after the previous fragment
    ...

Why this survives a crash: every fragment is complete in itself and is written in one go, so a
file cut anywhere holds whole fragments up to the cut and at most one partial fragment, which
players ignore (and start-up trims, see :mod:`index`). A cut loses the frames not yet written:
at most one fragment (FRAGMENT_SECONDS) plus the frame in hand.

Time: decode times (``tfdt``) count from 0 at the segment's first frame, so each file plays on
its own from 0. Each fragment is preceded by a ``prft`` box mapping its ``tfdt`` to UTC, all
from the segment's one wall-clock anchor (:class:`naming.WallClock`): the API's exact times come
from there, not from the file name.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import BinaryIO, Sequence

from ..media import fmp4

TICKS_PER_SECOND = fmp4.TIMESCALE
#: A fragment is cut at a keyframe, or when its frames span this long: the most a crash loses.
FRAGMENT_SECONDS = 0.5
FRAGMENT_TICKS = round(FRAGMENT_SECONDS * TICKS_PER_SECOND)
#: Duration given to a fragment's last frame when no next frame is known (the previous frame
#: interval is used when there is one), and the longest any frame may last.
DEFAULT_FRAME_TICKS = TICKS_PER_SECOND // 30
MAX_FRAME_TICKS = TICKS_PER_SECOND


@dataclass
class _Pending:
    pts: int
    avcc: bytes
    keyframe: bool


class SegmentBuilder:
    """The fragments of one segment file, from its first frame (a keyframe) on.

    ``init`` is the stream's init segment (``ftyp`` + ``moov``: :attr:`header`), ``start_pts``
    the first frame's stream time and ``start_utc`` its wall-clock time. :meth:`add` takes each
    frame and returns bytes to append when a fragment is complete; :meth:`flush` returns what is
    pending (on a pause, at the end).
    """

    def __init__(self, init: bytes, start_pts: int, start_utc: float):
        self.header = init
        self.start_pts = start_pts
        self.start_utc = start_utc
        self._pending: list[_Pending] = []
        self._sequence = 0
        self._last_interval = DEFAULT_FRAME_TICKS
        #: Stream time just past the last frame written out (its pts plus its duration).
        self.end_pts = start_pts
        self.frames = 0
        self.bytes = len(init)
        self._last_pts: int | None = None

    @property
    def last_pts(self) -> int | None:
        """The newest frame taken (pending or written)."""
        return self._last_pts

    @property
    def pending(self) -> int:
        """Frames taken but not yet returned in a fragment."""
        return len(self._pending)

    @property
    def duration(self) -> float:
        """Seconds written out so far."""
        return (self.end_pts - self.start_pts) / TICKS_PER_SECOND

    def add(self, pts: int, avcc: bytes, keyframe: bool) -> bytes | None:
        if not self._pending and self.frames == 0 and not keyframe:
            raise ValueError("a segment starts at a keyframe")
        out = None
        if self._pending and (keyframe or pts - self._pending[0].pts >= FRAGMENT_TICKS):
            out = self._fragment(next_pts=pts)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # decode times must increase
        self._last_pts = pts
        self._pending.append(_Pending(pts, avcc, keyframe))
        return out

    def flush(self, next_pts: int | None = None) -> bytes | None:
        """The pending frames as a fragment (None if none). Their last frame lasts until
        ``next_pts`` if given, else as long as the frame interval before it."""
        return self._fragment(next_pts) if self._pending else None

    def _fragment(self, next_pts: int | None) -> bytes:
        pending, self._pending = self._pending, []
        samples = []
        for this, following in zip(pending, pending[1:]):
            interval = following.pts - this.pts
            samples.append(fmp4.Sample(interval, this.avcc, this.keyframe))
            self._last_interval = interval
        last = pending[-1]
        if next_pts is not None and next_pts > last.pts:
            duration = self._last_interval = next_pts - last.pts
        else:
            duration = self._last_interval
        duration = max(1, min(duration, MAX_FRAME_TICKS))
        samples.append(fmp4.Sample(duration, last.avcc, last.keyframe))
        self._sequence += 1
        base = pending[0].pts - self.start_pts
        utc = self.start_utc + base / TICKS_PER_SECOND
        data = fmp4.prft(utc, base) + fmp4.fragment_of(self._sequence, base, samples)
        self.end_pts = last.pts + duration
        self.frames += len(samples)
        self.bytes += len(data)
        return data


# -- reading ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SampleRef:
    """Where one frame is in a segment file and when it plays."""

    offset: int
    size: int
    #: Decode time in the file (ticks from the segment's start) and duration.
    dts: int
    duration: int
    keyframe: bool


@dataclass
class SegmentFile:
    """What :func:`read_segment` found in a file."""

    #: The ``avcC`` record and picture size from the ``moov`` (None: no usable header).
    avcc_record: bytes | None = None
    width: int = 0
    height: int = 0
    #: UTC of decode time 0 (from the first ``prft``; None if the file has no fragment).
    start_utc: float | None = None
    samples: list[SampleRef] = field(default_factory=list)
    #: Bytes up to the end of the last whole fragment: anything after it is a cut-off write.
    valid_bytes: int = 0
    #: The ftyp + moov bytes (for rebuilding an init segment).
    init: bytes = b""

    @property
    def duration(self) -> float:
        if not self.samples:
            return 0.0
        last = self.samples[-1]
        return (last.dts + last.duration - self.samples[0].dts) / TICKS_PER_SECOND

    @property
    def end_utc(self) -> float | None:
        return None if self.start_utc is None else self.start_utc + self.duration

    def utc(self, sample: SampleRef) -> float:
        assert self.start_utc is not None
        return self.start_utc + sample.dts / TICKS_PER_SECOND


class NotASegment(ValueError):
    """The file is not a segment the recorder wrote (or its header is damaged)."""


def _box_header(f: BinaryIO, offset: int, file_size: int) -> tuple[int, bytes, int] | None:
    """(size, type, header length) of the box at ``offset``, None if cut off."""
    if offset + 8 > file_size:
        return None
    f.seek(offset)
    head = f.read(8)
    if len(head) < 8:
        return None
    size, kind = struct.unpack(">I4s", head)
    header = 8
    if size == 1:
        more = f.read(8)
        if len(more) < 8:
            return None
        size, = struct.unpack(">Q", more)
        header = 16
    elif size == 0:
        size = file_size - offset
    if size < header:
        raise NotASegment(f"bad box size {size} at offset {offset}")
    return size, kind, header


def _children(data: bytes, start: int = 0, end: int | None = None):
    end = len(data) if end is None else end
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, offset)
        if size < 8 or offset + size > end:
            raise NotASegment(f"bad {kind!r} box")
        yield kind, offset + 8, offset + size
        offset += size


def _find(data: bytes, path: Sequence[bytes], start: int = 0, end: int | None = None):
    for kind, body, stop in _children(data, start, end):
        if kind == path[0]:
            if len(path) == 1:
                return body, stop
            if kind == b"stsd":
                body += 8  # version, flags, entry_count
            elif kind == b"avc1":
                body += 78  # the visual sample entry's fields before its child boxes
            return _find(data, path[1:], body, stop)
    raise NotASegment(f"no {b'/'.join(path).decode()} box")


def _parse_moov(moov: bytes) -> tuple[bytes, int, int]:
    avc1, _ = _find(moov, (b"trak", b"mdia", b"minf", b"stbl", b"stsd", b"avc1"))
    width, height = struct.unpack_from(">HH", moov, avc1 + 24)
    body, stop = _find(moov, (b"trak", b"mdia", b"minf", b"stbl", b"stsd", b"avc1", b"avcC"))
    return moov[body:stop], width, height


def _parse_moof(moof: bytes, header_size: int, moof_offset: int) -> list[SampleRef]:
    """The samples of a whole ``moof`` box (``moof``: its bytes, header included), which starts
    at ``moof_offset`` in the file."""
    traf, traf_end = _find(moof, (b"traf",), header_size)
    tfhd, _ = _find(moof, (b"tfhd",), traf, traf_end)
    tfhd_flags = int.from_bytes(moof[tfhd + 1:tfhd + 4], "big")
    base_offset = moof_offset
    pos = tfhd + 8
    if tfhd_flags & 0x000001:  # base-data-offset-present
        base_offset, = struct.unpack_from(">Q", moof, pos)
        pos += 8
    if tfhd_flags & 0x000002:
        pos += 4
    default_duration = default_size = default_flags = 0
    if tfhd_flags & 0x000008:
        default_duration, = struct.unpack_from(">I", moof, pos)
        pos += 4
    if tfhd_flags & 0x000010:
        default_size, = struct.unpack_from(">I", moof, pos)
        pos += 4
    if tfhd_flags & 0x000020:
        default_flags, = struct.unpack_from(">I", moof, pos)
    tfdt, _ = _find(moof, (b"tfdt",), traf, traf_end)
    dts = (struct.unpack_from(">Q", moof, tfdt + 4)[0] if moof[tfdt] == 1
           else struct.unpack_from(">I", moof, tfdt + 4)[0])
    trun, _ = _find(moof, (b"trun",), traf, traf_end)
    flags = int.from_bytes(moof[trun + 1:trun + 4], "big")
    count, = struct.unpack_from(">I", moof, trun + 4)
    pos = trun + 8
    data_offset = 0
    if flags & 0x000001:
        data_offset, = struct.unpack_from(">i", moof, pos)
        pos += 4
    first_flags = None
    if flags & 0x000004:
        first_flags, = struct.unpack_from(">I", moof, pos)
        pos += 4
    offset = base_offset + data_offset
    samples = []
    for n in range(count):
        duration, size, sample_flags = default_duration, default_size, default_flags
        if flags & 0x000100:
            duration, = struct.unpack_from(">I", moof, pos)
            pos += 4
        if flags & 0x000200:
            size, = struct.unpack_from(">I", moof, pos)
            pos += 4
        if flags & 0x000400:
            sample_flags, = struct.unpack_from(">I", moof, pos)
            pos += 4
        if flags & 0x000800:
            pos += 4
        if n == 0 and first_flags is not None:
            sample_flags = first_flags
        keyframe = not sample_flags & 0x00010000  # sample_is_non_sync_sample
        samples.append(SampleRef(offset, size, dts, duration, keyframe))
        offset += size
        dts += duration
    return samples


def read_segment(f: BinaryIO, file_size: int) -> SegmentFile:
    """Read a segment file's header and every whole fragment; stop at a cut-off one.

    Raises :class:`NotASegment` if the file does not start like a segment.
    """
    result = SegmentFile()
    offset = 0
    anchor: tuple[float, int] | None = None
    while True:
        header = _box_header(f, offset, file_size)
        if header is None:
            break
        size, kind, header_size = header
        if offset + size > file_size:
            break  # cut off
        if kind == b"moov":
            f.seek(offset + header_size)
            moov = f.read(size - header_size)
            result.avcc_record, result.width, result.height = _parse_moov(moov)
            f.seek(0)
            result.init = f.read(offset + size)
        elif kind == b"prft":
            f.seek(offset + header_size)
            anchor = fmp4.parse_prft(f.read(size - header_size))
        elif kind == b"moof":
            if result.avcc_record is None:
                raise NotASegment("a fragment before the moov")
            f.seek(offset)
            moof = f.read(size)
            # The fragment counts only once its mdat is whole.
            mdat = _box_header(f, offset + size, file_size)
            if mdat is None or mdat[1] != b"mdat" or offset + size + mdat[0] > file_size:
                break
            samples = _parse_moof(moof, header_size, offset)
            if samples:
                if result.start_utc is None and anchor is not None:
                    result.start_utc = anchor[0] - anchor[1] / TICKS_PER_SECOND
                result.samples += samples
            offset += size + mdat[0]
            result.valid_bytes = offset
            continue
        elif kind not in (b"ftyp", b"mdat", b"free", b"skip", b"styp", b"sidx"):
            if result.avcc_record is None and offset == 0:
                raise NotASegment(f"starts with {kind!r}, not ftyp")
        offset += size
        if kind in (b"ftyp", b"moov"):
            result.valid_bytes = offset
    if result.avcc_record is None:
        raise NotASegment("no moov box")
    return result
