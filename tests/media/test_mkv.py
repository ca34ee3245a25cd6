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
         "stream=codec_name,width,height,r_frame_rate:packet=pts,size,flags", "-of", "json"],
        input=data, capture_output=True, timeout=60)
    assert out.returncode == 0 and not out.stderr, out.stderr.decode()
    return json.loads(out.stdout)


def test_ffprobe_reads_each_jpeg_with_its_arrival_time_and_the_frame_rate():
    writer = LiveMjpegWriter(320, 240, 7.5)
    jpegs = [make_jpeg(320, 240, n=n) for n in range(6)]
    # Two at once (the second moved 1 ms later: times stay unique), a 3.3 s silence, and past
    # 2^32 ms (FLV's timestamps wrap there; the transcoder compares them modulo 2^32).
    arrivals = [1000.0, 1000.1334, 1000.2, 1000.2, 1003.5, 1000.0 + 4_300_000.0]
    frames = [writer.frame(j, t) for j, t in zip(jpegs, arrivals)]
    assert [ms for ms, _ in frames] == [0, 133, 200, 201, 3500, 4_300_000_000]
    result = probe(writer.header() + b"".join(data for _, data in frames))
    [stream] = result["streams"]
    assert {k: stream[k] for k in ("codec_name", "width", "height", "r_frame_rate")} == {
        "codec_name": "mjpeg", "width": 320, "height": 240, "r_frame_rate": "15/2"}
    packets = result["packets"]
    assert [int(p["pts"]) for p in packets] == [ms for ms, _ in frames]
    assert [int(p["size"]) for p in packets] == [len(j) for j in jpegs]
    assert all(p["flags"].startswith("K") for p in packets)


def test_element_sizes_avoid_the_reserved_all_ones_values():
    assert mkv._size(126) == b"\xfe" and mkv._size(127) == b"\x40\x7f"
    assert mkv._size(2 ** 14 - 2) == b"\x7f\xfe" and len(mkv._size(2 ** 14 - 1)) == 3
    big = FrameRenderer(1600, 1200, quality=95).render(0, 0.0, 10.0)  # a 3-byte size
    assert len(big) > 2 ** 14
    writer = LiveMjpegWriter(1600, 1200, 10)
    packets = probe(writer.header() + writer.frame(big, 0.0)[1])["packets"]
    assert [int(p["size"]) for p in packets] == [len(big)]
