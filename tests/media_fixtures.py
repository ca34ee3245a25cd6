"""Real media for tests, encoded once per session with the real FFmpeg.

Plain cached functions rather than pytest fixtures, so test modules can
import them without touching conftest.py.

"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess

from camserver.media.flv import FlvReader, FlvVideoTag
from camserver.media.h264 import AvcConfig

__all__ = [
    "FRAME_COUNT",
    "encode_flv",
    "ffmpeg_exe",
    "ffprobe_exe",
    "ffprobe_json",
    "run_ffmpeg_decode",
    "video_tags",
]

FRAME_COUNT = 45
GOP = 30

# What the camera transcoder uses, minus the JPEG input.
LIVE_ENCODER_ARGS = (
    "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
    "-pix_fmt", "yuv420p", "-g", str(GOP), "-bf", "0",
)  # fmt: skip


@functools.cache
def ffmpeg_exe() -> str:
    path = shutil.which("ffmpeg")
    if path is None:
        import imageio_ffmpeg

        path = imageio_ffmpeg.get_ffmpeg_exe()
    return path


@functools.cache
def ffprobe_exe() -> str:
    path = shutil.which("ffprobe")
    # No skipping: without ffprobe, the outputs aren't verified at all.
    assert path is not None, "ffprobe is required to run these tests"
    return path


@functools.cache
def encode_flv(
    size: str = "640x480",
    frames: int = FRAME_COUNT,
    encoder_args: tuple[str, ...] = LIVE_ENCODER_ARGS,
    source: str = "testsrc2",
) -> bytes:
    """Encode ``frames`` frames of a lavfi test source to FLV, like the transcoder."""
    command = [
        ffmpeg_exe(), "-nostdin", "-v", "error",
        "-f", "lavfi", "-i", f"{source}=size={size}:rate=30",
        "-frames:v", str(frames), *encoder_args, "-f", "flv", "pipe:1",
    ]  # fmt: skip
    return subprocess.run(command, check=True, capture_output=True).stdout


def video_tags(flv: bytes) -> tuple[AvcConfig, list[FlvVideoTag]]:
    """Return the decoder configuration and the frame tags of an FLV stream."""
    tags = FlvReader().feed(flv)
    assert tags[0].is_sequence_header
    assert not any(tag.is_sequence_header for tag in tags[1:])
    return AvcConfig.parse(tags[0].data), tags[1:]


def ffprobe_json(path: str, *args: str) -> dict:
    command = [ffprobe_exe(), "-v", "error", "-of", "json", *args, path]
    return json.loads(subprocess.run(command, check=True, capture_output=True).stdout)


def run_ffmpeg_decode(path: str) -> str:
    """Decode ``path`` fully and return what FFmpeg reports at level error."""
    command = [ffmpeg_exe(), "-nostdin", "-v", "error", "-i", path, "-f", "null", "-"]
    completed = subprocess.run(command, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    return completed.stderr
