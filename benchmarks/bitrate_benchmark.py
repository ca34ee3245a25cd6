#!/usr/bin/env python3
"""Bitrate benchmark: how close the H.264 a viewer receives comes to ``--bitrate``.

Starts server.py (with ``--ffmpeg`` and ``--bitrate`` as given) and one real mock camera per
case (mock_camera.py, 640x480, each its own camera id, all at once), watches each camera with one
MPEG-TS viewer over WebSocket, and prints per camera: kbit/s of H.264 from ffprobe's packet sizes
after the first second, the rate the encoder was told (``encoder_fps``), FFmpeg starts, and the
server-added delay p50/p99 from ``/status`` (JPEG received -> first TS byte to a viewer).

Usage: python benchmarks/bitrate_benchmark.py [--ffmpeg PATH|bundled] [--bitrate 1500k]
       [--seconds 22] [--case 5] [--case 15:30] ...   (a case is FPS or FPS:JITTER_MS;
       default 5, 10, 15, 30 and 15:30)
Several cameras share this machine's cores with the server and their FFmpegs, so run it on a
quiet machine for figures to quote.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kbits(setting: str) -> float:
    units = {"k": 1.0, "M": 1000.0}
    return float(setting[:-1]) * units[setting[-1]] if setting[-1] in units \
        else float(setting) / 1000


def h264_kbps(ts: bytes, skip: float = 1.0) -> tuple[float, float]:
    """(kbit/s, seconds) of the H.264 packets in an MPEG-TS, after the first ``skip`` s."""
    out = subprocess.run([shutil.which("ffprobe"), "-v", "error", "-f", "mpegts", "-i", "pipe:0",
                          "-select_streams", "v", "-show_packets", "-show_entries",
                          "packet=pts_time,size", "-of", "json"],
                         input=ts, capture_output=True, check=True, timeout=120)
    packets = json.loads(out.stdout)["packets"]
    start = float(packets[0]["pts_time"]) + skip
    window = [p for p in packets if float(p["pts_time"]) >= start]
    seconds = float(window[-1]["pts_time"]) - float(window[0]["pts_time"])
    return sum(int(p["size"]) for p in window[1:]) * 8 / seconds / 1000, seconds


async def watch(url: str, seconds: float) -> bytes:
    chunks = []
    deadline = time.monotonic() + seconds
    async with connect(url, max_size=None, compression=None) as ws:
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = await asyncio.wait_for(ws.recv(), left)
            except asyncio.TimeoutError:
                break
            if isinstance(message, bytes):
                chunks.append(message)
    return b"".join(chunks)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ffmpeg", default=None, help="FFmpeg binary, or 'bundled' for "
                   "imageio-ffmpeg's (default: the server's choice)")
    p.add_argument("--bitrate", default="1500k")
    p.add_argument("--seconds", type=float, default=22)
    p.add_argument("--case", action="append", help="FPS or FPS:JITTER_MS (repeatable)")
    args = p.parse_args()
    cases = args.case or ["5", "10", "15", "30", "15:30"]
    ffmpeg = args.ffmpeg
    if ffmpeg == "bundled":
        import imageio_ffmpeg
        ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    ports = {name: free_port() for name in ("http", "camera", "viewer")}
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "server.py"), "--host", "127.0.0.1",
         "--http-port", str(ports["http"]), "--camera-port", str(ports["camera"]),
         "--viewer-port", str(ports["viewer"]), "--log-level", "WARNING",
         "--bitrate", args.bitrate, *(["--ffmpeg", ffmpeg] if ffmpeg else [])],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cameras = []

    def status() -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{ports['http']}/status", timeout=5) as r:
            return json.load(r)

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("server did not start")
                time.sleep(0.2)
        ids = {}
        for case in cases:
            fps, _, jitter = case.partition(":")
            camera_id = f"fps{fps}" + (f"-jitter{jitter}" if jitter else "")
            ids[camera_id] = case
            cameras.append(subprocess.Popen(
                [sys.executable, str(ROOT / "mock_camera.py"), "--url",
                 f"ws://127.0.0.1:{ports['camera']}", "--camera-id", camera_id, "--fps", fps,
                 *(["--jitter", jitter] if jitter else [])],
                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 60
        while {c["id"] for c in status()["cameras"] if c["frames_encoded"]} != set(ids):
            if time.monotonic() > deadline:
                raise SystemExit("not every camera is streaming")
            time.sleep(0.2)

        async def watch_all():
            return await asyncio.gather(*(watch(f"ws://127.0.0.1:{ports['viewer']}/{i}?format=ts",
                                                args.seconds) for i in ids))

        payloads = dict(zip(ids, asyncio.run(watch_all())))
        final = {c["id"]: c for c in status()["cameras"]}
    finally:
        for camera in cameras:
            camera.send_signal(signal.SIGINT)
        for camera in cameras:
            camera.wait(10)
        server.terminate()
        server.wait(20)
    target = kbits(args.bitrate)
    version = subprocess.run([ffmpeg or shutil.which("ffmpeg"), "-version"], capture_output=True,
                             text=True).stdout.split("\n")[0]
    print(f"Machine: {os.cpu_count()} cores; {version}; --bitrate {args.bitrate}")
    print(f"{'camera':18} {'kbit/s':>8} {'vs setting':>10} {'seconds':>8} {'fps':>6} "
          f"{'encoder fps':>11} {'starts':>6} {'delay p50/p99 ms':>17}")
    for camera_id, payload in payloads.items():
        kbps, seconds = h264_kbps(payload)
        c = final[camera_id]
        print(f"{camera_id:18} {kbps:8.0f} {kbps / target - 1:+10.1%} {seconds:8.1f} "
              f"{c['fps']:6.2f} {c['encoder_fps']:11} {c['encoder_starts']:6} "
              f"{c['server_delay_ms_p50']:>8} / {c['server_delay_ms_p99']}")


if __name__ == "__main__":
    main()
