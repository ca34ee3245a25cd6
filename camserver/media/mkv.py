"""Live Matroska with one MJPEG track: how the server hands a camera's JPEGs to FFmpeg.

Each JPEG goes into its own Cluster of known size, stamped with its arrival time at the server,
so FFmpeg's matroska demuxer returns it the moment its last byte is in (no look-ahead for the
next element; ``image2pipe``/``mjpeg`` hold every frame until the next one starts) and FFmpeg's
clock is the server's: rate control and keyframe placement follow real arrival times, and a wall
clock that jumps changes nothing. The times are whole milliseconds, unique and increasing: with
``-copyts`` each encoded frame comes back out of FFmpeg (FLV, milliseconds) with its JPEG's time,
which is how the transcoder pairs them, so a JPEG FFmpeg refuses shifts nothing. The Segment has
unknown size: the stream never ends. The track's DefaultDuration carries the camera's frame
rate, which FFmpeg passes to the encoder (see camserver/ingest/framerate.py for why it needs it).

Matroska/EBML as in RFC 8794 (EBML) and RFC 9559 (Matroska); only the elements FFmpeg needs are
written.
"""

from __future__ import annotations

import struct

__all__ = ["LiveMjpegWriter"]

_TRACK_NUMBER = 1
# A SimpleBlock: track number as an EBML varint, int16 time relative to the Cluster (always 0:
# one block per Cluster, so frames may be any distance apart), flags (keyframe: every JPEG
# stands alone).
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

    A frame's time is its arrival (monotonic seconds) minus the first frame's, in milliseconds,
    moved a millisecond later where needed to keep every time unique and increasing.
    """

    def __init__(self, width: int, height: int, fps: float):
        self.width, self.height, self.fps = width, height, fps
        self._origin: float | None = None
        self._last_ms = -1

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
            _uint(0x2AD7B1, 1_000_000),       # TimestampScale: 1 ms
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

    def frame(self, jpeg: bytes, arrived: float) -> tuple[int, bytes]:
        """The JPEG's time in ms, and its Cluster."""
        if self._origin is None:
            self._origin = arrived
        ms = max(self._last_ms + 1, round((arrived - self._origin) * 1000))
        self._last_ms = ms
        return ms, _element(0x1F43B675,       # Cluster
                            _uint(0xE7, ms)   # Timestamp
                            + _element(0xA3, _BLOCK_HEADER + jpeg))  # SimpleBlock
