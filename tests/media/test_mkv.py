"""Live Matroska for FFmpeg's stdin (camserver.media.mkv), read back by the real ffprobe."""

import json
import subprocess

from camserver.media import mkv
from camserver.media.mkv import LiveMjpegWriter
from helpers import make_jpeg
from media_fixtures import ffprobe_exe
from mock_camera import FrameRenderer


def probe(data: bytes) -> dict:
    out = subprocess.run(
        [ffprobe_exe(), "-v", "error", "-f", "matroska", "-i", "pipe:0", "-show_streams",
         "-show_packets", "-show_entries",
         "stream=codec_name,width,height,r_frame_rate:packet=pts_time,size,flags", "-of", "json"],
        input=data, capture_output=True, timeout=60)
    assert out.returncode == 0 and not out.stderr, out.stderr.decode()
    return json.loads(out.stdout)


def test_ffprobe_reads_each_jpeg_with_its_arrival_time_and_the_frame_rate():
    writer = LiveMjpegWriter(320, 240, 7.5)
    jpegs = [make_jpeg(320, 240, n=n) for n in range(5)]
    arrivals = [1000.0, 1000.1334, 1000.2, 1000.2, 1003.5]  # two at once, then a 3.3 s silence
    data = writer.header() + b"".join(writer.frame(j, t) for j, t in zip(jpegs, arrivals))
    result = probe(data)
    [stream] = result["streams"]
    assert {k: stream[k] for k in ("codec_name", "width", "height", "r_frame_rate")} == {
        "codec_name": "mjpeg", "width": 320, "height": 240, "r_frame_rate": "15/2"}
    packets = result["packets"]
    assert [p["pts_time"] for p in packets] == ["0.000000", "0.133400", "0.200000", "0.200001",
                                                "3.500000"]
    assert [int(p["size"]) for p in packets] == [len(j) for j in jpegs]
    assert all(p["flags"].startswith("K") for p in packets)


def test_element_sizes_avoid_the_reserved_all_ones_values():
    assert mkv._size(126) == b"\xfe" and mkv._size(127) == b"\x40\x7f"
    assert mkv._size(2 ** 14 - 2) == b"\x7f\xfe" and len(mkv._size(2 ** 14 - 1)) == 3
    big = FrameRenderer(1600, 1200, quality=95).render(0, 0.0, 10.0)  # a 3-byte size
    assert len(big) > 2 ** 14
    packets = probe(LiveMjpegWriter(1600, 1200, 10).header()
                    + LiveMjpegWriter(1600, 1200, 10).frame(big, 0.0))["packets"]
    assert [int(p["size"]) for p in packets] == [len(big)]
