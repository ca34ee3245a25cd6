"""Matroska framing for JPEGs on their way into FFmpeg, each with the timestamp we choose.

Why Matroska: each frame must carry an identity through FFmpeg. With ``-copyts`` the timestamp
written here comes back on the encoded frame (FLV, ms), so encoded frames are paired with their
JPEGs by timestamp, not by order: a JPEG FFmpeg refuses (it passes our checks but its decoder
gives up) no longer shifts every later frame onto its predecessor's arrival time. The same
timestamps are the frames' real arrival times, which drive x264's rate control and keyframe
placement, and they never jump with the wall clock (no ``RTCTIME``). FFmpeg's Matroska demuxer
releases each block as soon as it has been read (measured: frame in to H.264 out 1.2-1.8 ms,
as with ``mpjpeg``), whereas ``image2pipe``/``mjpeg`` hold every frame until the next one starts.

Layout: an EBML header, a Segment of unknown size with Info (1 ms timestamps) and one video
track (``V_MJPEG``), then per frame one Cluster of unknown size holding its timestamp and a
SimpleBlock. A cluster per frame keeps the block's 16-bit relative time at 0, however far apart
frames are. See RFC 9559 (Matroska) and RFC 8794 (EBML).
"""

from __future__ import annotations

_UNKNOWN_SIZE = b"\x01\xff\xff\xff\xff\xff\xff\xff"


def _size(n: int) -> bytes:
    """An EBML variable-length size (all-ones values are reserved for "unknown")."""
    for length in range(1, 9):
        if n < (1 << (7 * length)) - 1:
            return ((1 << (7 * length)) | n).to_bytes(length, "big")
    raise ValueError(f"element of {n} bytes is too large for EBML")


def _uint(n: int) -> bytes:
    return n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")


def _element(element_id: bytes, payload: bytes) -> bytes:
    return element_id + _size(len(payload)) + payload


def header(width: int, height: int) -> bytes:
    """The stream's start: EBML header, Segment, Info and the MJPEG track."""
    ebml = _element(b"\x1a\x45\xdf\xa3", b"".join((
        _element(b"\x42\x86", _uint(1)),            # EBMLVersion
        _element(b"\x42\xf7", _uint(1)),            # EBMLReadVersion
        _element(b"\x42\xf2", _uint(4)),            # EBMLMaxIDLength
        _element(b"\x42\xf3", _uint(8)),            # EBMLMaxSizeLength
        _element(b"\x42\x82", b"matroska"),         # DocType
        _element(b"\x42\x87", _uint(4)),            # DocTypeVersion
        _element(b"\x42\x85", _uint(2)))))          # DocTypeReadVersion
    info = _element(b"\x15\x49\xa9\x66", b"".join((
        _element(b"\x2a\xd7\xb1", _uint(1_000_000)),  # TimestampScale: 1 ms
        _element(b"\x4d\x80", b"camserver"),          # MuxingApp
        _element(b"\x57\x41", b"camserver"))))        # WritingApp
    video = _element(b"\xe0", _element(b"\xb0", _uint(width)) + _element(b"\xba", _uint(height)))
    track = _element(b"\xae", b"".join((
        _element(b"\xd7", _uint(1)),                # TrackNumber
        _element(b"\x73\xc5", _uint(1)),            # TrackUID
        _element(b"\x83", _uint(1)),                # TrackType: video
        _element(b"\x86", b"V_MJPEG"),              # CodecID
        video)))
    return ebml + b"\x18\x53\x80\x67" + _UNKNOWN_SIZE + info + _element(b"\x16\x54\xae\x6b", track)


def frame(timestamp_ms: int, jpeg: bytes) -> bytes:
    """One JPEG at ``timestamp_ms``: a Cluster with its Timestamp and one keyframe SimpleBlock."""
    # SimpleBlock: track number 1 (as an EBML varint), relative time 0, flags: keyframe.
    block = b"\x81\x00\x00\x80"
    return b"".join((b"\x1f\x43\xb6\x75", _UNKNOWN_SIZE,
                     _element(b"\xe7", _uint(timestamp_ms)),
                     b"\xa3", _size(len(block) + len(jpeg)), block, jpeg))
