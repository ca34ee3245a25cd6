"""Fragmented MP4 for Media Source Extensions: one H.264 track, one frame per fragment.

See ISO/IEC 14496-12 (ISO base media file format) and ISO/IEC 14496-15
(AVC file format). A stream is :func:`init_segment` followed by any number
of :func:`fragment` outputs; a resolution change needs a new init segment.

"""

from __future__ import annotations

import struct

from .h264 import AvcConfig

__all__ = ["TIMESCALE", "box", "fragment", "full_box", "init_segment"]

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
    return _ftyp() + box(b"moov", _mvhd(), _trak(config, width, height), _mvex())


def _ftyp() -> bytes:
    # iso5 announces default-base-is-moof; iso6 announces 64-bit tfdt.
    brands = (b"isom", b"iso5", b"iso6", b"avc1", b"mp41")
    return box(b"ftyp", b"isom", struct.pack(">I", 0x200), *brands)


def _mvhd() -> bytes:
    return full_box(
        b"mvhd",
        0,
        0,
        struct.pack(">IIII", 0, 0, TIMESCALE, 0),  # times, timescale, duration
        struct.pack(">IH10x", 0x00010000, 0x0100),  # rate 1.0, volume 1.0, reserved
        _UNITY_MATRIX,
        bytes(24),  # pre_defined
        struct.pack(">I", TRACK_ID + 1),  # next_track_ID
    )


def _trak(config: AvcConfig, width: int, height: int) -> bytes:
    return box(b"trak", _tkhd(width, height), _mdia(config, width, height))


def _tkhd(width: int, height: int) -> bytes:
    return full_box(
        b"tkhd",
        0,
        _TRACK_FLAGS,
        struct.pack(">IIIII", 0, 0, TRACK_ID, 0, 0),  # times, ID, reserved, duration
        bytes(8),  # reserved
        struct.pack(">hhhH", 0, 0, 0, 0),  # layer, alternate_group, volume, reserved
        _UNITY_MATRIX,
        struct.pack(">II", width << 16, height << 16),
    )


def _mdia(config: AvcConfig, width: int, height: int) -> bytes:
    return box(b"mdia", _mdhd(), _hdlr(), _minf(config, width, height))


def _mdhd() -> bytes:
    # 0x55C4 is "und" (undetermined language) packed as three 5-bit letters.
    return full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, TIMESCALE, 0, 0x55C4, 0))


def _hdlr() -> bytes:
    return full_box(b"hdlr", 0, 0, bytes(4), b"vide", bytes(12), b"VideoHandler\x00")


def _minf(config: AvcConfig, width: int, height: int) -> bytes:
    return box(b"minf", _vmhd(), _dinf(), _stbl(config, width, height))


def _vmhd() -> bytes:
    # Flags must be 1; graphicsmode and opcolor stay zero (copy).
    return full_box(b"vmhd", 0, 1, bytes(8))


def _dinf() -> bytes:
    # Flag 1 on "url ": the media data is in the same file.
    url = full_box(b"url ", 0, 1)
    return box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), url))


def _stbl(config: AvcConfig, width: int, height: int) -> bytes:
    # The sample tables are empty: all samples are described in fragments.
    return box(
        b"stbl",
        full_box(b"stsd", 0, 0, struct.pack(">I", 1), _avc1(config, width, height)),
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
    sample_flags = (_KEYFRAME_SAMPLE_FLAGS if keyframe else
                    _DISPOSABLE_SAMPLE_FLAGS if disposable else _NON_KEYFRAME_SAMPLE_FLAGS)
    sample_size = len(access_unit_avcc)

    def build_moof(data_offset: int) -> bytes:
        return _moof(
            sequence_number, base_decode_time, duration, sample_size, sample_flags, data_offset
        )

    # The moof's size doesn't depend on the data offset's value, so measure
    # it first to point the offset past the mdat header, at the sample.
    data_offset = len(build_moof(0)) + 8
    return build_moof(data_offset) + box(b"mdat", access_unit_avcc)


def _moof(
    sequence_number: int,
    base_decode_time: int,
    duration: int,
    sample_size: int,
    sample_flags: int,
    data_offset: int,
) -> bytes:
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
                struct.pack(">Ii", 1, data_offset),  # sample_count, data_offset
                struct.pack(">III", duration, sample_size, sample_flags),
            ),
        ),
    )
