"""MP4 for one H.264 track: fragmented for live viewers and recordings, progressive for clips.

See ISO/IEC 14496-12 (ISO base media file format) and ISO/IEC 14496-15
(AVC file format). A stream is :func:`init_segment` followed by any number
of :func:`fragment` outputs (one frame each, for Media Source Extensions) or
:func:`fragment_of` outputs (several frames, for recordings, each optionally
preceded by a :func:`prft` box with its wall-clock time); a resolution change
needs a new init segment. :func:`progressive_header` is the ``ftyp``, ``moov``
and ``mdat`` header of an ordinary MP4 whose sample data follows it.

"""

from __future__ import annotations

import struct

from typing import NamedTuple, Sequence

from .h264 import AvcConfig

__all__ = ["TIMESCALE", "Sample", "box", "fragment", "fragment_of", "full_box", "init_segment",
           "prft", "progressive_header"]

TIMESCALE = 90000
TRACK_ID = 1

# 16.16 fixed-point unity transform, stored in mvhd and tkhd.
_UNITY_MATRIX = struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)

# tkhd flags: track_enabled | track_in_movie | track_in_preview.
_TRACK_FLAGS = 0x000007
# tfhd flag: data offsets are relative to the start of the moof box, which is
# what MSE requires and what makes each fragment self-contained.
_DEFAULT_BASE_IS_MOOF = 0x020000
# trun flags: data-offset, sample-duration, sample-size and sample-flags present.
_TRUN_FLAGS = 0x000001 | 0x000100 | 0x000200 | 0x000400

# Sample flags: sample_depends_on=2 (independent) for keyframes;
# sample_depends_on=1 and sample_is_non_sync_sample for the others.
_KEYFRAME_SAMPLE_FLAGS = 0x02000000
_NON_KEYFRAME_SAMPLE_FLAGS = 0x01010000
# A repeat picture (camserver/media/repeat.py) also has sample_is_depended_on=2: nothing refers to it.
# Players may drop it; the H.264 page reads it to tell repeats from camera frames.
_DISPOSABLE_SAMPLE_FLAGS = _NON_KEYFRAME_SAMPLE_FLAGS | 0x00800000


def box(type: bytes, *payloads: bytes) -> bytes:
    """Return an ISO BMFF box of four-character ``type`` containing ``payloads``."""
    size = 8 + sum(len(payload) for payload in payloads)
    return b"".join((struct.pack(">I4s", size, type), *payloads))


def full_box(type: bytes, version: int, flags: int, *payloads: bytes) -> bytes:
    """Return a box whose payload starts with a version byte and 24 bits of flags."""
    return box(type, struct.pack(">I", version << 24 | flags), *payloads)


# Initialization segment.


def init_segment(config: AvcConfig, width: int, height: int) -> bytes:
    """Return the ``ftyp`` and ``moov`` boxes describing one H.264 track.

    ``config`` provides the ``avcC`` box; ``width`` and ``height`` are the
    displayed size in pixels. The movie has no samples: they come in
    fragments.

    """
    return _ftyp() + box(b"moov", _mvhd(), _trak(config, width, height, _empty_tables()),
                         _mvex())


def _ftyp() -> bytes:
    # iso5 announces default-base-is-moof; iso6 announces 64-bit tfdt.
    brands = (b"isom", b"iso5", b"iso6", b"avc1", b"mp41")
    return box(b"ftyp", b"isom", struct.pack(">I", 0x200), *brands)


def _mvhd(duration: int = 0) -> bytes:
    return full_box(
        b"mvhd",
        0,
        0,
        struct.pack(">IIII", 0, 0, TIMESCALE, duration),  # times, timescale, duration
        struct.pack(">IH10x", 0x00010000, 0x0100),  # rate 1.0, volume 1.0, reserved
        _UNITY_MATRIX,
        bytes(24),  # pre_defined
        struct.pack(">I", TRACK_ID + 1),  # next_track_ID
    )


def _trak(config: AvcConfig, width: int, height: int, tables: Sequence[bytes],
          duration: int = 0) -> bytes:
    return box(b"trak", _tkhd(width, height, duration),
               _mdia(config, width, height, tables, duration))


def _tkhd(width: int, height: int, duration: int = 0) -> bytes:
    return full_box(
        b"tkhd",
        0,
        _TRACK_FLAGS,
        struct.pack(">IIIII", 0, 0, TRACK_ID, 0, duration),  # times, ID, reserved, duration
        bytes(8),  # reserved
        struct.pack(">hhhH", 0, 0, 0, 0),  # layer, alternate_group, volume, reserved
        _UNITY_MATRIX,
        struct.pack(">II", width << 16, height << 16),
    )


def _mdia(config: AvcConfig, width: int, height: int, tables: Sequence[bytes],
          duration: int) -> bytes:
    return box(b"mdia", _mdhd(duration), _hdlr(), _minf(config, width, height, tables))


def _mdhd(duration: int = 0) -> bytes:
    # 0x55C4 is "und" (undetermined language) packed as three 5-bit letters.
    return full_box(b"mdhd", 0, 0,
                    struct.pack(">IIIIHH", 0, 0, TIMESCALE, duration, 0x55C4, 0))


def _hdlr() -> bytes:
    return full_box(b"hdlr", 0, 0, bytes(4), b"vide", bytes(12), b"VideoHandler\x00")


def _minf(config: AvcConfig, width: int, height: int, tables: Sequence[bytes]) -> bytes:
    return box(b"minf", _vmhd(), _dinf(), _stbl(config, width, height, tables))


def _vmhd() -> bytes:
    # Flags must be 1; graphicsmode and opcolor stay zero (copy).
    return full_box(b"vmhd", 0, 1, bytes(8))


def _dinf() -> bytes:
    # Flag 1 on "url ": the media data is in the same file.
    url = full_box(b"url ", 0, 1)
    return box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), url))


def _stbl(config: AvcConfig, width: int, height: int, tables: Sequence[bytes]) -> bytes:
    return box(
        b"stbl",
        full_box(b"stsd", 0, 0, struct.pack(">I", 1), _avc1(config, width, height)),
        *tables,
    )


def _empty_tables() -> tuple[bytes, ...]:
    # A fragmented stream's sample tables are empty: all samples are described in fragments.
    return (
        full_box(b"stts", 0, 0, struct.pack(">I", 0)),
        full_box(b"stsc", 0, 0, struct.pack(">I", 0)),
        full_box(b"stsz", 0, 0, struct.pack(">II", 0, 0)),
        full_box(b"stco", 0, 0, struct.pack(">I", 0)),
    )


def _avc1(config: AvcConfig, width: int, height: int) -> bytes:
    return box(
        b"avc1",
        bytes(6),  # reserved
        struct.pack(">H", 1),  # data_reference_index
        bytes(16),  # pre_defined, reserved
        struct.pack(">HH", width, height),
        struct.pack(">II", 0x00480000, 0x00480000),  # 72 dpi, 16.16
        bytes(4),  # reserved
        struct.pack(">H", 1),  # frame_count
        bytes(32),  # compressorname: empty Pascal string
        struct.pack(">Hh", 0x0018, -1),  # depth: colour, no alpha; pre_defined
        box(b"avcC", config.record),
    )


def _mvex() -> bytes:
    # trex defaults are unused: every trun states its samples' properties.
    trex = full_box(b"trex", 0, 0, struct.pack(">IIIII", TRACK_ID, 1, 0, 0, 0))
    return box(b"mvex", trex)


# Media segments.


class Sample(NamedTuple):
    """One access unit of a multi-frame fragment or of a progressive movie."""

    #: Until the next sample's decode time, in :data:`TIMESCALE` units.
    duration: int
    #: Its bytes (fragments), or only its size as an int (progressive headers).
    data: bytes | int
    keyframe: bool
    disposable: bool = False

    @property
    def size(self) -> int:
        return self.data if isinstance(self.data, int) else len(self.data)

    @property
    def flags(self) -> int:
        return (_KEYFRAME_SAMPLE_FLAGS if self.keyframe else
                _DISPOSABLE_SAMPLE_FLAGS if self.disposable else _NON_KEYFRAME_SAMPLE_FLAGS)


def fragment(
    sequence_number: int,
    base_decode_time: int,
    duration: int,
    access_unit_avcc: bytes,
    keyframe: bool,
    disposable: bool = False,
) -> bytes:
    """Return a ``moof`` and ``mdat`` pair holding one access unit as one sample.

    ``sequence_number`` should increase by one per fragment.
    ``base_decode_time`` and ``duration`` are in :data:`TIMESCALE` units.
    ``access_unit_avcc`` is stored as is: length-prefixed NAL units, with
    the length size announced by the init segment's ``avcC`` (4 bytes from
    FFmpeg). ``disposable`` marks a non-keyframe no other sample depends on.

    """
    return fragment_of(sequence_number, base_decode_time,
                       (Sample(duration, access_unit_avcc, keyframe, disposable),))


def fragment_of(sequence_number: int, base_decode_time: int, samples: Sequence[Sample]) -> bytes:
    """Return a ``moof`` and ``mdat`` pair holding ``samples`` back to back, in decode order,
    the first decoded at ``base_decode_time``. Each sample's bytes are stored as is (see
    :func:`fragment`)."""
    if not samples:
        raise ValueError("a fragment needs at least one sample")
    # Built once: this runs per frame for every live fMP4 viewer.
    entries = b"".join([_TRUN_ENTRY.pack(sample.duration, sample.size, sample.flags)
                        for sample in samples])
    # The moof's size doesn't depend on the data offset's value: point the offset past the
    # moof and the mdat header, at the first sample.
    data_offset = _MOOF_FIXED_SIZE + len(entries) + 8
    moof = _moof(sequence_number, base_decode_time, len(samples), entries, data_offset)
    return moof + box(b"mdat", *(sample.data for sample in samples))


_TRUN_ENTRY = struct.Struct(">III")
# moof(8) mfhd(16) traf(8) tfhd(16) tfdt(20) trun header(8 + 4 flags + 4 count + 4 offset).
_MOOF_FIXED_SIZE = 8 + 16 + 8 + 16 + 20 + 20


def _moof(sequence_number: int, base_decode_time: int, count: int, entries: bytes,
          data_offset: int) -> bytes:
    return box(
        b"moof",
        full_box(b"mfhd", 0, 0, struct.pack(">I", sequence_number)),
        box(
            b"traf",
            full_box(b"tfhd", 0, _DEFAULT_BASE_IS_MOOF, struct.pack(">I", TRACK_ID)),
            full_box(b"tfdt", 1, 0, struct.pack(">Q", base_decode_time)),
            full_box(
                b"trun",
                0,
                _TRUN_FLAGS,
                struct.pack(">Ii", count, data_offset),  # sample_count, data_offset
                entries,
            ),
        ),
    )


# Seconds from the NTP epoch (1900) to the Unix epoch (1970).
NTP_UNIX_OFFSET = 2_208_988_800


def prft(unix_seconds: float, media_time: int) -> bytes:
    """Return a producer reference time box: the sample decoded at ``media_time``
    (:data:`TIMESCALE` units, e.g. the next fragment's ``tfdt``) reached the encoder at
    ``unix_seconds`` (UTC). Players skip it; recordings read their wall-clock time from it.

    Version 1 (64-bit media time), flags 0: the time is when the frame was input to the
    encoder, i.e. when its JPEG arrived at the server.
    """
    ntp = round((unix_seconds + NTP_UNIX_OFFSET) * (1 << 32))
    return full_box(b"prft", 1, 0, struct.pack(">IQQ", TRACK_ID, ntp, media_time))


def parse_prft(payload: bytes) -> tuple[float, int]:
    """(UTC Unix seconds, media time) of a ``prft`` box's payload (after its size and type)."""
    version = payload[0]
    ntp, = struct.unpack_from(">Q", payload, 8)
    if version == 1:
        media_time, = struct.unpack_from(">Q", payload, 16)
    else:
        media_time, = struct.unpack_from(">I", payload, 16)
    return ntp / (1 << 32) - NTP_UNIX_OFFSET, media_time


# Progressive (non-fragmented) movies.


def progressive_header(config: AvcConfig, width: int, height: int,
                       samples: Sequence[Sample]) -> bytes:
    """Return ``ftyp``, ``moov`` and the ``mdat`` header of an ordinary MP4 holding ``samples``
    (their ``data`` may be just sizes): the samples' bytes, in order and back to back, must
    follow it. The ``moov`` comes first, so a player can seek anywhere before the data arrives
    (HTTP Range). The first sample is decoded at time 0; it should be a keyframe.

    The ``mdat`` uses a 64-bit size, and chunk offsets ``co64``, only when 32 bits are too few.
    """
    if not samples:
        raise ValueError("a movie needs at least one sample")
    data_size = sum(sample.size for sample in samples)
    mdat_header = (struct.pack(">I4s", 8 + data_size, b"mdat") if 8 + data_size < 1 << 32 else
                   struct.pack(">I4sQ", 1, b"mdat", 16 + data_size))
    duration = sum(sample.duration for sample in samples)

    def build(first_offset: int) -> bytes:
        tables = _sample_tables(samples, first_offset)
        return _ftyp_progressive() + box(b"moov", _mvhd(duration),
                                         _trak(config, width, height, tables, duration))

    # The header's size depends on whether offsets need 64 bits, not on their values.
    size = len(build(0)) + len(mdat_header)
    if size + data_size >= 1 << 32:
        size = len(build(1 << 32)) + len(mdat_header)
    return build(size) + mdat_header


def _ftyp_progressive() -> bytes:
    return box(b"ftyp", b"isom", struct.pack(">I", 0x200), b"isom", b"iso2", b"avc1", b"mp41")


def _sample_tables(samples: Sequence[Sample], first_offset: int) -> tuple[bytes, ...]:
    # stts: runs of equal durations.
    runs: list[list[int]] = []
    for sample in samples:
        if runs and runs[-1][1] == sample.duration:
            runs[-1][0] += 1
        else:
            runs.append([1, sample.duration])
    stts = full_box(b"stts", 0, 0, struct.pack(">I", len(runs)),
                    b"".join(struct.pack(">II", count, delta) for count, delta in runs))
    sync = [n + 1 for n, sample in enumerate(samples) if sample.keyframe]
    stss = full_box(b"stss", 0, 0, struct.pack(">I", len(sync)),
                    b"".join(struct.pack(">I", n) for n in sync))
    # One chunk per sample: the simplest table that lets samples come from anywhere.
    stsc = full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, 1, 1))
    stsz = full_box(b"stsz", 0, 0, struct.pack(">II", 0, len(samples)),
                    b"".join(struct.pack(">I", sample.size) for sample in samples))
    offsets = []
    offset = first_offset
    for sample in samples:
        offsets.append(offset)
        offset += sample.size
    if offset >= 1 << 32:
        stco = full_box(b"co64", 0, 0, struct.pack(">I", len(offsets)),
                        struct.pack(f">{len(offsets)}Q", *offsets))
    else:
        stco = full_box(b"stco", 0, 0, struct.pack(">I", len(offsets)),
                        struct.pack(f">{len(offsets)}I", *offsets))
    return stts, stss, stsc, stsz, stco
