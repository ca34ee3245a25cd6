"""Live Matroska with one MJPEG track: how the server hands a camera's JPEGs to FFmpeg.

Each JPEG goes into its own Cluster of known size, stamped with its arrival time at the server
in microseconds, so FFmpeg's matroska demuxer returns it the moment its last byte is in (no
look-ahead for the next element) and FFmpeg's clock is the server's. The Segment has unknown
size: the stream never ends. The track's DefaultDuration carries the camera's frame rate, which
FFmpeg passes to the encoder (see camserver/ingest/framerate.py for why it needs it).

Matroska/EBML as in RFC 8794 (EBML) and the Matroska specification (IETF cellar draft); only
the elements FFmpeg needs are written.
"""

from __future__ import annotations

import struct

__all__ = ["LiveMjpegWriter", "TIMESTAMP_SCALE_NS"]

#: Nanoseconds per Matroska timestamp unit: 1 us.
TIMESTAMP_SCALE_NS = 1000
_TRACK_NUMBER = 1
# A SimpleBlock: track number as an EBML varint, int16 time relative to the Cluster (always 0:
# one block per Cluster), flags (keyframe: every JPEG stands alone).
_BLOCK_HEADER = bytes([0x80 | _TRACK_NUMBER]) + struct.pack(">hB", 0, 0x80)
_UNKNOWN_SIZE = b"\x01\xff\xff\xff\xff\xff\xff\xff"


def _size(n: int) -> bytes:
    """An EBML element data size (the all-ones value of each length is reserved)."""
    for length in range(1, 9):
        if n < (1 << (7 * length)) - 1:
            return (n | (1 << (7 * length))).to_bytes(length, "big")
    raise ValueError(f"element of {n} bytes is too large")


def _element(element_id: int, payload: bytes) -> bytes:
    return element_id.to_bytes((element_id.bit_length() + 7) // 8, "big") + _size(len(payload)) \
        + payload


def _uint(element_id: int, value: int) -> bytes:
    return _element(element_id, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


class LiveMjpegWriter:
    """Bytes for FFmpeg's stdin: :meth:`header` once, then :meth:`frame` per JPEG.

    Frame times are ``arrived`` (monotonic seconds) minus the first frame's, in microseconds,
    kept strictly increasing (FFmpeg's muxers reject two frames at one time).
    """

    def __init__(self, width: int, height: int, fps: float):
        self.width, self.height, self.fps = width, height, fps
        self._origin: float | None = None
        self._last_us = -1

    def header(self) -> bytes:
        ebml = _element(0x1A45DFA3, b"".join((
            _uint(0x4286, 1),                 # EBMLVersion
            _uint(0x42F7, 1),                 # EBMLReadVersion
            _uint(0x42F2, 4),                 # EBMLMaxIDLength
            _uint(0x42F3, 8),                 # EBMLMaxSizeLength
            _element(0x4282, b"matroska"),    # DocType
            _uint(0x4287, 4),                 # DocTypeVersion
            _uint(0x4285, 2),                 # DocTypeReadVersion
        )))
        info = _element(0x1549A966, b"".join((
            _uint(0x2AD7B1, TIMESTAMP_SCALE_NS),
            _element(0x4D80, b"camserver"),   # MuxingApp
            _element(0x5741, b"camserver"),   # WritingApp
        )))
        video = _element(0xE0, _uint(0xB0, self.width) + _uint(0xBA, self.height))
        track = _element(0xAE, b"".join((     # TrackEntry
            _uint(0xD7, _TRACK_NUMBER),
            _uint(0x73C5, 1),                 # TrackUID
            _uint(0x83, 1),                   # TrackType: video
            _uint(0x9C, 0),                   # FlagLacing
            _element(0x86, b"V_MJPEG"),       # CodecID
            _uint(0x23E383, round(1e9 / self.fps)),  # DefaultDuration, ns
            video,
        )))
        return ebml + (0x18538067).to_bytes(4, "big") + _UNKNOWN_SIZE + info \
            + _element(0x1654AE6B, track)     # Tracks

    def frame(self, jpeg: bytes, arrived: float) -> bytes:
        if self._origin is None:
            self._origin = arrived
        t_us = max(self._last_us + 1, round((arrived - self._origin) * 1e6))
        self._last_us = t_us
        return _element(0x1F43B675,           # Cluster
                        _uint(0xE7, t_us)     # Timestamp
                        + _element(0xA3, _BLOCK_HEADER + jpeg))  # SimpleBlock
