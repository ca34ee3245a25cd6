"""Matroska framing: the real ffprobe reads every JPEG back, whole, at the timestamp given."""

import json
import subprocess

from camserver.media import mkv
from helpers import make_jpeg
from media_fixtures import ffprobe_exe


def test_ffprobe_reads_each_jpeg_at_its_timestamp():
    jpegs = [make_jpeg(320, 240, n=n) for n in range(3)] + [make_jpeg(64, 48)]
    stamps = [0, 33, 5_000, 4_000_000_000]  # a gap, and past 32 bits of ms
    data = mkv.header(320, 240) + b"".join(mkv.frame(t, j) for t, j in zip(stamps, jpegs))
    out = subprocess.run([ffprobe_exe(), "-v", "error", "-f", "matroska", "-i", "pipe:0",
                          "-show_packets", "-show_streams", "-of", "json"],
                         input=data, capture_output=True, check=True)
    probe = json.loads(out.stdout)
    assert probe["streams"][0]["codec_name"] == "mjpeg"
    packets = probe["packets"]
    assert [int(p["pts"]) for p in packets] == stamps
    assert [int(p["size"]) for p in packets] == [len(j) for j in jpegs]


def test_sizes_use_longer_varints_as_needed():
    assert mkv._size(0) == b"\x80"
    assert mkv._size(126) == b"\xfe"
    assert mkv._size(127) == b"\x40\x7f"  # 0xff would mean "unknown size"
    assert len(mkv._size(3_000_000)) == 4
