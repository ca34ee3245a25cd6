"""Check a camera message before it reaches FFmpeg.

:func:`inspect_jpeg` walks the marker segments of a baseline, extended or progressive JPEG up to
the start of scan, reads the frame header (size and chroma subsampling) and checks that the image
ends with an EOI marker. It raises :class:`JpegError` with a reason a human can act on; it never
decodes entropy-coded data, so it costs microseconds whatever the image size.
"""

from __future__ import annotations

from dataclasses import dataclass

SOI = b"\xff\xd8"
EOI = b"\xff\xd9"

# Start-of-frame markers FFmpeg's MJPEG decoder handles: baseline, extended sequential, progressive.
_SUPPORTED_SOF = {0xC0: "baseline", 0xC1: "extended", 0xC2: "progressive"}
# Other SOFn (lossless, hierarchical, arithmetic) are valid JPEG but no camera sends them.
_OTHER_SOF = {0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
# Markers that stand alone, without a length field.
_STANDALONE = {0x01, *range(0xD0, 0xD8)}


class JpegError(ValueError):
    """The message is not a complete JPEG image we can transcode; ``str()`` says why and
    ``reason`` is a short code without numbers (for log keys and counters): ``too-large``,
    ``not-jpeg``, ``truncated``, ``corrupt`` or ``unsupported``."""

    def __init__(self, message: str):
        super().__init__(message)
        words = message.split()
        self.reason = ("too-large" if "limit" in message else "not-jpeg" if words[0] == "not"
                       else words[0])


@dataclass(frozen=True)
class JpegInfo:
    width: int
    height: int
    #: Chroma subsampling as usually written: "4:2:0", "4:2:2", "4:4:4", "gray" or "other".
    subsampling: str
    process: str


def inspect_jpeg(data: bytes, max_bytes: int | None = None) -> JpegInfo:
    """Return the size and subsampling of a JPEG, or raise :class:`JpegError`.

    ``max_bytes`` rejects larger messages before anything else is read.
    """
    size = len(data)
    if max_bytes is not None and size > max_bytes:
        raise JpegError(f"{size} bytes is over the {max_bytes}-byte frame limit")
    if size < 4 or data[:2] != SOI:
        raise JpegError("not a JPEG (no SOI marker at the start)")
    if not _ends_with_eoi(data):
        raise JpegError("truncated JPEG (no EOI marker at the end)")

    info: JpegInfo | None = None
    pos = 2
    while True:
        # Markers may be preceded by any number of 0xFF fill bytes.
        if pos >= size or data[pos] != 0xFF:
            raise JpegError(f"corrupt JPEG (expected a marker at byte {pos})")
        while pos < size and data[pos] == 0xFF:
            pos += 1
        if pos >= size:
            raise JpegError("truncated JPEG (ends inside a marker)")
        marker = data[pos]
        pos += 1
        if marker in _STANDALONE:
            continue
        if marker == 0xD9:
            raise JpegError("corrupt JPEG (EOI before any image data)")
        if pos + 2 > size:
            raise JpegError("truncated JPEG (ends inside a segment header)")
        length = int.from_bytes(data[pos:pos + 2], "big")
        if length < 2 or pos + length > size:
            raise JpegError(f"corrupt JPEG (segment 0xFF{marker:02X} has a bad length {length})")
        segment = data[pos + 2:pos + length]
        if marker in _SUPPORTED_SOF:
            info = _parse_frame_header(segment, _SUPPORTED_SOF[marker])
        elif marker in _OTHER_SOF:
            raise JpegError(f"unsupported JPEG process (SOF marker 0xFF{marker:02X})")
        elif marker == 0xDA:
            if info is None:
                raise JpegError("corrupt JPEG (scan data before the frame header)")
            return info
        pos += length


def _ends_with_eoi(data: bytes) -> bool:
    # Some camera drivers pad the buffer after EOI with zero bytes; FFmpeg ignores them.
    end = len(data)
    while end > 2 and data[end - 1] == 0:
        end -= 1
    return data[end - 2:end] == EOI


def _parse_frame_header(segment: bytes, process: str) -> JpegInfo:
    if len(segment) < 6:
        raise JpegError("corrupt JPEG (short frame header)")
    height = int.from_bytes(segment[1:3], "big")
    width = int.from_bytes(segment[3:5], "big")
    components = segment[5]
    if width == 0 or height == 0:
        raise JpegError(f"unsupported JPEG size {width}x{height} (size given after the scan)")
    if components not in (1, 3) or len(segment) < 6 + 3 * components:
        raise JpegError(f"unsupported JPEG with {components} colour components")
    factors = [segment[6 + 3 * i + 1] for i in range(components)]
    return JpegInfo(width, height, _subsampling_name(factors), process)


def _subsampling_name(factors: list[int]) -> str:
    if len(factors) == 1:
        return "gray"
    (luma_h, luma_v), chroma = divmod(factors[0], 16), factors[1:]
    if any(f != 0x11 for f in chroma):
        return "other"
    return {(1, 1): "4:4:4", (2, 1): "4:2:2", (2, 2): "4:2:0", (1, 2): "4:4:0"}.get(
        (luma_h, luma_v), "other")
