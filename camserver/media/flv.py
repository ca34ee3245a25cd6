"""Incremental reader for the FLV stream that FFmpeg writes with ``-f flv``.

Only H.264 (AVC) video tags are returned; script data and audio tags are
skipped. See the Adobe Flash Video File Format Specification, version 10.1,
annex E.

"""

from __future__ import annotations

import dataclasses

__all__ = ["FlvError", "FlvReader", "FlvVideoTag"]

_SIGNATURE = b"FLV"
_HEADER_SIZE = 9
_PREVIOUS_TAG_SIZE_SIZE = 4
_TAG_HEADER_SIZE = 11

_TAG_TYPE_VIDEO = 9

_FRAME_TYPE_KEYFRAME = 1
# Video info / command frames carry a one-byte command, not a picture.
_FRAME_TYPE_COMMAND = 5
_CODEC_ID_AVC = 7

_AVC_SEQUENCE_HEADER = 0
_AVC_NALU = 1
_AVC_END_OF_SEQUENCE = 2


class FlvError(ValueError):
    """Raised when the stream isn't FLV or carries video other than H.264."""


@dataclasses.dataclass(frozen=True)
class FlvVideoTag:
    """One H.264 video tag.

    ``data`` is the AVCDecoderConfigurationRecord when ``is_sequence_header``
    is true, else the AVCC (length-prefixed NAL units) payload of one access
    unit. ``timestamp_ms`` is the decoding timestamp; the presentation
    timestamp is ``timestamp_ms + composition_time_ms``, which is always
    ``timestamp_ms`` without B-frames.

    """

    timestamp_ms: int
    keyframe: bool
    is_sequence_header: bool
    data: bytes
    composition_time_ms: int = 0


class FlvReader:
    """Parse an FLV byte stream fed in chunks of arbitrary sizes.

    Memory use is bounded by the largest tag: consumed bytes are dropped as
    soon as their tag is parsed.

    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._header_parsed = False

    def feed(self, chunk: bytes) -> list[FlvVideoTag]:
        """Consume ``chunk`` and return the video tags it completes, in order.

        Raise :exc:`FlvError` if the stream doesn't start with an FLV header
        or contains a video tag that isn't H.264. The reader is unusable
        after an error.

        """
        self._buffer += chunk
        if not self._header_parsed and not self._parse_header():
            return []

        tags = []
        buffer = self._buffer
        while len(buffer) >= _TAG_HEADER_SIZE:
            data_size = int.from_bytes(buffer[1:4], "big")
            tag_end = _TAG_HEADER_SIZE + data_size
            if len(buffer) < tag_end + _PREVIOUS_TAG_SIZE_SIZE:
                break
            # The low five bits are the type; the upper bits are the filter
            # flag and reserved bits.
            if buffer[0] & 0x1F == _TAG_TYPE_VIDEO:
                # Timestamps are 24 bits followed by 8 more significant bits.
                timestamp_ms = int.from_bytes(buffer[4:7], "big") | buffer[7] << 24
                tag = _parse_video_tag(timestamp_ms, bytes(buffer[_TAG_HEADER_SIZE:tag_end]))
                if tag is not None:
                    tags.append(tag)
            del buffer[: tag_end + _PREVIOUS_TAG_SIZE_SIZE]
        return tags

    def _parse_header(self) -> bool:
        """Consume the file header and PreviousTagSize0 if complete; return whether done."""
        buffer = self._buffer
        # Check the signature as soon as it arrives to fail fast on non-FLV input.
        if buffer[:3] != _SIGNATURE[: len(buffer)]:
            raise FlvError("not an FLV stream: bad signature")
        if len(buffer) < _HEADER_SIZE:
            return False
        data_offset = int.from_bytes(buffer[5:9], "big")
        if data_offset < _HEADER_SIZE:
            raise FlvError(f"invalid FLV header size {data_offset}")
        if len(buffer) < data_offset + _PREVIOUS_TAG_SIZE_SIZE:
            return False
        del buffer[: data_offset + _PREVIOUS_TAG_SIZE_SIZE]
        self._header_parsed = True
        return True


def _parse_video_tag(timestamp_ms: int, body: bytes) -> FlvVideoTag | None:
    """Decode a video tag body; return None for tags that carry no picture data."""
    if not body:
        raise FlvError("empty video tag")
    frame_type, codec_id = body[0] >> 4, body[0] & 0x0F
    if frame_type == _FRAME_TYPE_COMMAND:
        return None
    if codec_id != _CODEC_ID_AVC:
        raise FlvError(f"unsupported video codec id {codec_id}, expected H.264")
    if len(body) < 5:
        raise FlvError("truncated AVC video tag")
    packet_type = body[1]
    if packet_type == _AVC_END_OF_SEQUENCE:
        return None
    if packet_type not in (_AVC_SEQUENCE_HEADER, _AVC_NALU):
        raise FlvError(f"unknown AVC packet type {packet_type}")
    return FlvVideoTag(
        timestamp_ms=timestamp_ms,
        keyframe=frame_type == _FRAME_TYPE_KEYFRAME,
        is_sequence_header=packet_type == _AVC_SEQUENCE_HEADER,
        data=body[5:],
        composition_time_ms=int.from_bytes(body[2:5], "big", signed=True),
    )
