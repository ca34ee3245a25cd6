"""A clip: one ordinary MP4 made of the frames of one or more segment files. Pure.

:func:`plan_clip` picks the frames (from the keyframe at or before the asked start, up to the
asked end, across segment boundaries) and returns a :class:`ClipPlan`: the MP4's header
(``ftyp``, ``moov`` with full sample tables, the ``mdat`` header) built in memory, and the
frames' bytes as (file, offset, size) pieces to be read from the segment files when served.
So an hour's clip costs about 1.5 MB of header, not the video in memory, and any byte range of
it can be served without building the rest (HTTP Range, a ``<video>`` that seeks).

The header comes first (``moov`` before ``mdat``): every browser can then seek in the clip
while it downloads.

A clip stops early where the recording has a pause longer than :data:`GAP_SECONDS` (camera
away, motion recording stopped) or the encoder's parameters change (new resolution): one MP4
has one sample description here, and a pause is better not played as a frozen picture.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence

from ..media import fmp4
from ..media.h264 import AvcConfig
from .segment import MAX_FRAME_TICKS, TICKS_PER_SECOND, SegmentFile

#: Recording pauses longer than this end a clip (and split spans in the API).
GAP_SECONDS = 2.0


@dataclass(frozen=True)
class Source:
    """A segment file on disk and what :func:`segment.read_segment` found in it."""

    path: str
    segment: SegmentFile


@dataclass(frozen=True)
class ClipPlan:
    header: bytes
    #: The frames' bytes, in order: (path, offset, size).
    pieces: tuple[tuple[str, int, int], ...]
    size: int
    #: UTC of the first frame (a keyframe) and the clip's length in seconds.
    start_utc: float
    duration: float
    frames: int

    @property
    def etag(self) -> str:
        """Changes whenever the bytes would (more frames written, files replaced)."""
        digest = hashlib.sha1(self.header).hexdigest()[:16]
        return f'"{digest}-{self.size:x}"'

    def layout(self) -> list[tuple[int, str | None, int, int]]:
        """Each part of the file: (position in the clip, path or None for the header,
        offset in that file, size)."""
        parts: list[tuple[int, str | None, int, int]] = [(0, None, 0, len(self.header))]
        position = len(self.header)
        for path, offset, size in self.pieces:
            parts.append((position, path, offset, size))
            position += size
        return parts


def plan_clip(sources: Sequence[Source], start: float, duration: float) -> ClipPlan | None:
    """The clip of ``duration`` seconds from UTC ``start``: from the keyframe at or before
    ``start`` (or the first one after it, if ``start`` is not recorded) to the last frame
    before ``start + duration``. None if nothing recorded is in that window."""
    end = start + duration
    usable = sorted((s for s in sources if s.segment.samples and s.segment.start_utc is not None),
                    key=lambda s: s.segment.start_utc)
    first = None
    for n, source in enumerate(usable):
        segment = source.segment
        if segment.end_utc > start and segment.start_utc < end:
            first = n
            break
    if first is None:
        return None
    picked: list[tuple[str, object, float]] = []  # (path, sample, duration ticks)
    reference = usable[first].segment
    previous_end: float | None = None
    for source in usable[first:]:
        segment = source.segment
        if segment.start_utc >= end:
            break
        if picked and (segment.avcc_record != reference.avcc_record
                       or (segment.width, segment.height) != (reference.width, reference.height)
                       or segment.start_utc - previous_end > GAP_SECONDS):
            break
        samples = segment.samples
        begin = 0
        if not picked:
            # The keyframe at or before start; if start is before this segment, its first.
            for index, sample in enumerate(samples):
                if sample.keyframe and segment.utc(sample) <= start:
                    begin = index
                elif segment.utc(sample) > start:
                    break
            if not samples[begin].keyframe:
                continue  # cannot happen with our files: they start at a keyframe
        for index in range(begin, len(samples)):
            sample = samples[index]
            if segment.utc(sample) >= end and picked:
                break
            if index + 1 < len(samples):
                ticks = samples[index + 1].dts - sample.dts
            else:
                ticks = sample.duration
            picked.append((source.path, sample, max(1, min(ticks, MAX_FRAME_TICKS))))
        previous_end = segment.end_utc
        if picked and segment.utc(picked[-1][1]) + picked[-1][2] / TICKS_PER_SECOND >= end:
            break
    if not picked:
        return None
    config = AvcConfig.parse(reference.avcc_record)
    samples = [fmp4.Sample(int(ticks), sample.size, sample.keyframe)
               for _, sample, ticks in picked]
    header = fmp4.progressive_header(config, reference.width, reference.height, samples)
    pieces = _merge([(path, sample.offset, sample.size) for path, sample, _ in picked])
    first_path, first_sample, _ = picked[0]
    start_utc = next(s.segment for s in usable if s.path == first_path).utc(first_sample)
    total_ticks = sum(ticks for _, _, ticks in picked)
    return ClipPlan(header, tuple(pieces), len(header) + sum(s.size for s in samples), start_utc,
                    total_ticks / TICKS_PER_SECOND, len(samples))


def _merge(pieces: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """Join pieces that follow each other in the same file (the frames of one fragment), so
    serving reads few large pieces instead of one per frame."""
    merged: list[list] = []
    for path, offset, size in pieces:
        if merged and merged[-1][0] == path and merged[-1][1] + merged[-1][2] == offset:
            merged[-1][2] += size
        else:
            merged.append([path, offset, size])
    return [tuple(piece) for piece in merged]


def read_range(plan: ClipPlan, first: int, last: int):
    """The parts of the clip's bytes ``first..last`` (inclusive): yields ``bytes`` for the
    header part and ``(path, offset, size)`` for parts to read from segment files."""
    for position, path, offset, size in plan.layout():
        if position + size <= first:
            continue
        if position > last:
            break
        skip = max(0, first - position)
        take = min(size, last + 1 - position) - skip
        if path is None:
            yield plan.header[skip:skip + take]
        else:
            yield (path, offset + skip, take)
