"""Real clients for the tests: a viewer that records what arrives and when, a scripted camera,
and ffprobe run over what a viewer received."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import time
from dataclasses import dataclass, field

from PIL import Image
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from conftest import ffprobe_path


def make_jpeg(width: int = 640, height: int = 480, subsampling: int = 1, n: int = 0,
              quality: int = 80) -> bytes:
    """A JPEG; ``subsampling`` as Pillow counts it: 0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0."""
    image = Image.new("RGB", (width, height), ((n * 7) % 256, 90, 200 - n % 100))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, subsampling=subsampling)
    return out.getvalue()


@dataclass
class Received:
    binary: list[tuple[float, bytes]] = field(default_factory=list)
    text: list[dict] = field(default_factory=list)

    @property
    def payload(self) -> bytes:
        return b"".join(m for _, m in self.binary)


async def watch(url: str, seconds: float, received: Received | None = None,
                stop: asyncio.Event | None = None) -> Received:
    """Read a viewer WebSocket for ``seconds`` (or until ``stop``), recording arrival times."""
    received = received or Received()
    deadline = time.monotonic() + seconds
    async with connect(url, max_size=None, compression=None) as ws:
        while (left := deadline - time.monotonic()) > 0 and not (stop and stop.is_set()):
            try:
                message = await asyncio.wait_for(ws.recv(), min(left, 0.5))
            except asyncio.TimeoutError:
                continue
            if isinstance(message, bytes):
                received.binary.append((time.monotonic(), message))
            else:
                received.text.append(json.loads(message))
    return received


def fragment_info(message: bytes) -> tuple[int, bool]:
    """(decode time in 90 kHz ticks, is a repeat) of one of the server's fMP4 fragments."""
    assert message[4:8] == b"moof"
    tfdt = message.index(b"tfdt")
    trun = message.index(b"trun")
    time = int.from_bytes(message[tfdt + 8 : tfdt + 16], "big")  # version 1: 64 bits
    sample_flags = int.from_bytes(message[trun + 24 : trun + 28], "big")
    return time, (sample_flags >> 22) & 3 == 2  # sample_is_depended_on: 2 = nothing does


def probe_frames(data: bytes, fmt: str = "mpegts") -> list[dict]:
    """Decode ``data`` with the real ffprobe; one dict per decoded frame."""
    out = subprocess.run(
        [ffprobe_path(), "-v", "error", "-f", fmt, "-i", "pipe:0", "-select_streams", "v",
         "-show_frames", "-show_entries",
         "frame=pts_time,pkt_dts_time,width,height,pix_fmt,key_frame", "-of", "json"],
        input=data, capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode()
    return json.loads(out.stdout)["frames"]


def probe_packets(data: bytes, fmt: str = "mpegts") -> list[dict]:
    """The video packets in ``data`` as the real ffprobe reads them (pts_time, size, flags)."""
    out = subprocess.run(
        [ffprobe_path(), "-v", "error", "-f", fmt, "-i", "pipe:0", "-select_streams", "v",
         "-show_packets", "-show_entries", "packet=pts_time,size,flags", "-of", "json"],
        input=data, capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode()
    return json.loads(out.stdout)["packets"]


#: Output flags for ``ffmpeg ... -f null -`` that keep every decoded frame's own time. Without
#: them the null output's time base is 1/(guessed frame rate), 1/30 s for the server's streams, so
#: two frames that arrived in one 33 ms slot (a late frame and the next on time, even 1 tick of
#: 90 kHz apart) get the same DTS and the null muxer complains "non monotonically increasing dts"
#: about a stream that is fine. The server's PTS are strictly increasing in 90 kHz ticks.
DECODE_CHECK_OUTPUT = ("-enc_time_base", "1/90000", "-f", "null", "-")


def decode_errors(data: bytes, fmt: str = "mpegts") -> str:
    """What the real ffmpeg complains about when decoding ``data`` (empty if nothing)."""
    import shutil
    out = subprocess.run([shutil.which("ffmpeg"), "-v", "error", "-f", fmt, "-i", "pipe:0",
                          *DECODE_CHECK_OUTPUT], input=data, capture_output=True, timeout=120)
    return out.stderr.decode()


class ScriptedCamera:
    """A camera driven step by step by a test: ``await cam.send(jpeg)``."""

    def __init__(self, url: str):
        self.url = url
        self.ws = None

    async def __aenter__(self) -> "ScriptedCamera":
        self.ws = await connect(self.url, max_size=None, compression=None).__aenter__()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.ws.close()

    async def send(self, message) -> None:
        await self.ws.send(message)


def refusal_status(url: str, headers: dict | None = None) -> int | None:
    """The HTTP status a WebSocket handshake to ``url`` was refused with (None if accepted)."""
    async def attempt():
        async with connect(url, additional_headers=headers):
            return None
    try:
        return asyncio.run(attempt())
    except InvalidStatus as refused:
        return refused.response.status_code


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def noise_jpeg(seed: int) -> bytes:
    channels = [Image.effect_noise((640, 480), 120 + seed + c) for c in range(3)]
    out = io.BytesIO()
    Image.merge("RGB", channels).save(out, "JPEG", quality=90)
    return out.getvalue()
