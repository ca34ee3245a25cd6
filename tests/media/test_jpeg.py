import pytest

from camserver.media.jpeg import JpegError, inspect_jpeg
from helpers import make_jpeg


@pytest.mark.parametrize("subsampling, name", [(0, "4:4:4"), (1, "4:2:2"), (2, "4:2:0")])
def test_reads_size_and_subsampling(subsampling, name):
    info = inspect_jpeg(make_jpeg(800, 600, subsampling))
    assert (info.width, info.height, info.subsampling) == (800, 600, name)
    assert info.process == "baseline"


def test_accepts_zero_padding_after_eoi():
    assert inspect_jpeg(make_jpeg(64, 48) + b"\0" * 100).width == 64


def test_grayscale():
    from io import BytesIO
    from PIL import Image
    out = BytesIO()
    Image.new("L", (33, 17)).save(out, "JPEG")
    info = inspect_jpeg(out.getvalue())
    assert (info.width, info.height, info.subsampling) == (33, 17, "gray")


@pytest.mark.parametrize("data, reason", [
    (b"", "no SOI"),
    (b"hello world, not an image", "no SOI"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "no SOI"),
    (make_jpeg(64, 48)[:-300], "no EOI"),
    (b"\xff\xd8\xff\xd9", "EOI before any image data"),
    (b"\xff\xd8\x00\x00\xff\xd9", "expected a marker"),
    (b"\xff\xd8\xff\xe0\x00\x40JFIF\xff\xd9", "bad length"),
    (b"\xff\xd8\xff\xda\x00\x02\xff\xd9", "scan data before the frame header"),
])
def test_rejects_with_a_reason(data, reason):
    with pytest.raises(JpegError, match=reason):
        inspect_jpeg(data)


def test_rejects_over_size_limit_before_parsing():
    with pytest.raises(JpegError, match="over the 1000-byte frame limit"):
        inspect_jpeg(make_jpeg(64, 48) + b"\0" * 1000, max_bytes=1000)


def test_rejects_zero_height():
    data = bytearray(make_jpeg(64, 48))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 7] = b"\0\0"
    with pytest.raises(JpegError, match="size 64x0"):
        inspect_jpeg(bytes(data))


def test_rejects_lossless_process():
    data = bytearray(make_jpeg(64, 48))
    sof = data.index(b"\xff\xc0")
    data[sof + 1] = 0xC3
    with pytest.raises(JpegError, match="unsupported JPEG process"):
        inspect_jpeg(bytes(data))
