#!/usr/bin/env python3
"""Server benchmark: delay added by the server, 500-viewer fan-out, CPU, and a stalled viewer.

Prints, for this machine:
- server-added delay (JPEG fully received -> that frame's first TS byte handed to a viewer's
  socket) p50/p99 as the server measures it (``/status``), and camera-send -> viewer-receive
  delay p50/p99 as clients on the same machine see it, at 1 and 500 viewers;
- frames lost by viewers that keep up;
- CPU of the server process and of its FFmpeg child, per camera (100% = one core);
- server RSS and another viewer's delay while one viewer stops reading for 60 s.

Usage: python benchmarks/server_benchmark.py [--seconds 20] [--viewers 500] [--stall 60]
       [--capacity] [--format ts|fmp4] [--access]
Viewers run in a separate process so the load generator does not compete with itself: up to
50 timed viewers (a minimal WebSocket client, benchmarks/wsclient.py, timestamping every frame)
and the rest byte-counting viewers drained every 50 ms (wsclient.BulkViewers), so that the
generator stays lighter than the server it loads (its CPU is printed too). The camera sends
pre-rendered 640x480 JPEGs at 30 fps.
``--access`` runs the server with a config file of users and tokens (no anonymous access):
the camera sends its token as ``Authorization: Bearer``, every viewer a reader token as ``?token=``,
``/status`` is read with a token too. Credentials are checked once per connection, so the
delay and fan-out figures should not move.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import statistics
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from camserver.access.passwords import hash_password  # noqa: E402
from mock_camera import FrameRenderer  # noqa: E402
from wsclient import BulkViewers, open_viewer  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True).stdout
    return [int(p) for p in out.split()]


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))] if values else float("nan")


class Access:
    """A config file for ``--access``: two users, a camera token, a reader token."""

    def __init__(self):
        self.camera_token = secrets.token_urlsafe(24)
        self.reader_token = secrets.token_urlsafe(24)
        self.directory = tempfile.TemporaryDirectory(prefix="camserver-bench-")
        self.path = Path(self.directory.name) / "camserver.toml"
        self.path.write_text(f"""
[[user]]
name = "alice"
password = "{hash_password(secrets.token_urlsafe(12))}"
allow = ["read:*", "control:*", "status", "metrics"]

[[user]]
name = "bob"
password = "{hash_password(secrets.token_urlsafe(12))}"
allow = ["read:bench"]

[[token]]
token = "{self.camera_token}"
allow = ["publish:bench"]

[[token]]
token = "{self.reader_token}"
allow = ["read:*", "status"]
""")
        os.chmod(self.path, 0o600)

    def args(self) -> list[str]:
        return ["--config", str(self.path), "--state-dir", self.directory.name]


class Server:
    """server.py on free ports, logging warnings only; ``extra_args`` go to its command line."""

    def __init__(self, access: Access | None = None, extra_args: list[str] = ()):
        self.access = access
        self.ports = {name: free_port() for name in ("http", "camera", "viewer")}
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "server.py"), "--host", "127.0.0.1",
             "--http-port", str(self.ports["http"]), "--camera-port", str(self.ports["camera"]),
             "--viewer-port", str(self.ports["viewer"]), "--log-level", "WARNING",
             *(access.args() if access else []), *extra_args],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.status()
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.proc.kill()  # (one that answers nothing would keep its stderr open)
                    raise RuntimeError("server did not start: " + self.proc.communicate()[1])
                time.sleep(0.2)

    def status(self) -> dict:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.ports['http']}/status",
            headers={"Authorization": f"Bearer {self.access.reader_token}"}
            if self.access else {})
        with urllib.request.urlopen(request, timeout=5) as r:
            return json.load(r)

    def stop(self) -> str:
        """Stops the server; returns what it logged."""
        self.proc.terminate()
        _, err = self.proc.communicate(timeout=30)
        return err


#: Viewers whose every frame is timed; the others only count bytes (wsclient.BulkViewers).
TIMED_VIEWERS = 50


def viewer_process(port: int, count: int, seconds: float, ready, results, stall: bool = False,
                   fmt: str = "ts", token: str | None = None):
    async def run():
        path = f"/bench?format={fmt}" + (f"&token={token}" if token else "")
        timed = [await open_viewer("127.0.0.1", port, path)
                 for _ in range(min(count, TIMED_VIEWERS))]
        bulk = BulkViewers("127.0.0.1", port, path, count - len(timed))
        stalled = None
        if stall:
            # A viewer that stops reading: the kernel's buffers fill, then the server's.
            stalled = socket.create_connection(("127.0.0.1", port))
            stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stalled.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                            b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                            b"Sec-WebSocket-Version: 13\r\n\r\n")
        ready.set()
        cpu0 = time.process_time()
        await bulk.run(seconds)
        cpu = (time.process_time() - cpu0) / seconds * 100
        results.put(([v.arrivals for v in timed], [v.bytes for v in timed], bulk.received, cpu))
        bulk.close()
        if stalled:
            stalled.close()
    asyncio.run(run())


async def camera(port: int, seconds: float, fps: float = 30.0,
                 token: str | None = None) -> list[float]:
    from websockets.asyncio.client import connect
    renderer = FrameRenderer(640, 480)
    frames = [renderer.render(n, n / fps, fps) for n in range(60)]
    sent = []
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with connect(f"ws://127.0.0.1:{port}/bench", compression=None,
                       additional_headers=headers) as ws:
        # As the firmware and mock_camera.py do: the encoder starts at the announced rate.
        await ws.send(json.dumps({"type": "hello", "board": "benchmark", "width": 640,
                                  "height": 480, "fps": fps}))
        start = time.monotonic()
        n = 0
        while (now := time.monotonic()) - start < seconds:
            due = start + n / fps
            if due > now:
                await asyncio.sleep(due - now)
            await ws.send(frames[n % len(frames)])
            sent.append(time.monotonic())
            n += 1
        await asyncio.sleep(1.0)
    return sent


def run_phase(viewers: int, seconds: float, stall_seconds: float = 0.0, fmt: str = "ts",
              access: Access | None = None) -> dict:
    server = Server(access)
    ctx = multiprocessing.get_context("spawn")
    ready, results = ctx.Event(), ctx.Queue()
    duration = seconds + stall_seconds
    pool = ctx.Process(target=viewer_process, args=(server.ports["viewer"], viewers,
                                                    duration + 4, ready, results,
                                                    stall_seconds > 0, fmt,
                                                    access.reader_token if access else None))
    pool.start()
    ready.wait(120)
    time.sleep(0.5)

    async def measure():
        task = asyncio.create_task(camera(server.ports["camera"], duration,
                                          token=access.camera_token if access else None))
        await asyncio.sleep(3)  # FFmpeg started, steady state
        ffmpeg = children(server.proc.pid)[0]
        t0 = time.monotonic()
        cpu0 = cpu_seconds(server.proc.pid), cpu_seconds(ffmpeg)
        rss = [(0.0, rss_mb(server.proc.pid))]
        while not task.done():
            await asyncio.sleep(1)
            if not task.done():
                rss.append((time.monotonic() - t0, rss_mb(server.proc.pid)))
                cpu1 = cpu_seconds(server.proc.pid), cpu_seconds(ffmpeg), time.monotonic()
        status = server.status()
        return await task, cpu0, cpu1, t0, rss, status

    sent, cpu0, cpu1, t0, rss, status = asyncio.run(measure())
    arrivals, timed_bytes, bulk_bytes, load_cpu = results.get(timeout=60)
    pool.join(30)
    server.stop()
    elapsed = cpu1[2] - t0
    per_viewer_lost, delays = [], []
    for got in arrivals:
        per_viewer_lost.append(len(sent) - len(got))
        delays += [(g - s) * 1000 for s, g in zip(sent[60:], got[60:])]  # after warm-up
    # A bulk viewer that lost nothing got exactly the bytes of a timed one that lost nothing.
    complete = timed_bytes[per_viewer_lost.index(0)] if 0 in per_viewer_lost else None
    bulk_short = sum(1 for n in bulk_bytes if complete is None or n < complete)
    camera_status = status["cameras"][0]
    return {
        "viewers": viewers, "frames_sent": len(sent),
        "server_delay_p50": camera_status["server_delay_ms_p50"],
        "server_delay_p99": camera_status["server_delay_ms_p99"],
        "delivery_p50": statistics.median(delays), "delivery_p99": pct(delays, 0.99),
        "delivery_max": max(delays),
        "frames_lost_max": max(per_viewer_lost), "frames_lost_total": sum(per_viewer_lost),
        "bulk_viewers": len(bulk_bytes), "bulk_short": bulk_short, "load_cpu": load_cpu,
        "server_cpu": (cpu1[0] - cpu0[0]) / elapsed * 100,
        "ffmpeg_cpu": (cpu1[1] - cpu0[1]) / elapsed * 100,
        "rss": rss, "sent": sent, "arrivals": arrivals,
    }


def bare_ffmpeg_cpu(seconds: float, fps: float = 30.0) -> float:
    """CPU (% of a core) of FFmpeg alone, with the server's command line, on the same frames at
    the same rate: the floor a camera costs whatever server is around it."""
    from camserver.ingest.ffmpeg import _encoder, find_ffmpeg, transcode_command
    from camserver.media.mkv import LiveMjpegWriter
    renderer = FrameRenderer(640, 480)
    frames = [renderer.render(n, n / fps, fps) for n in range(60)]
    command = transcode_command(find_ffmpeg(), _encoder("libx264"), "1500k", 1.0, (640, 480))
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    writer = LiveMjpegWriter(640, 480, fps)
    proc.stdin.write(writer.header())
    start = time.monotonic()
    cpu0 = None
    n = 0
    while (now := time.monotonic()) - start < seconds + 3:
        due = start + n / fps
        if due > now:
            time.sleep(due - now)
        proc.stdin.write(writer.frame(frames[n % len(frames)], time.monotonic())[1])
        proc.stdin.flush()
        n += 1
        if cpu0 is None and time.monotonic() - start > 3:
            cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
    cpu = (cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - t0) * 100
    proc.stdin.close()
    proc.wait(10)
    return cpu


def report(result: dict) -> None:
    print(f"  viewers {result['viewers']}, frames sent {result['frames_sent']}")
    print(f"  server-added delay (/status: received -> first TS byte to a viewer): "
          f"p50 {result['server_delay_p50']:.2f} ms, p99 {result['server_delay_p99']:.2f} ms")
    print(f"  camera send -> viewer receive, all viewers: p50 {result['delivery_p50']:.2f} ms, "
          f"p99 {result['delivery_p99']:.2f} ms, max {result['delivery_max']:.2f} ms")
    print(f"  frames lost by timed viewers: {result['frames_lost_total']} "
          f"(worst viewer {result['frames_lost_max']}); byte-counting viewers short of a "
          f"complete stream: {result['bulk_short']} of {result['bulk_viewers']}")
    print(f"  CPU per camera: server {result['server_cpu']:.1f}% of a core, "
          f"FFmpeg {result['ffmpeg_cpu']:.1f}%; the load generator {result['load_cpu']:.1f}%")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--viewers", type=int, default=500)
    p.add_argument("--stall", type=float, default=60, help="stalled-viewer phase length, s")
    p.add_argument("--capacity", action="store_true",
                   help="also measure bare FFmpeg on the same frames: cameras per machine")
    p.add_argument("--format", choices=("ts", "fmp4"), default="ts",
                   help="what the many viewers read (fmp4: with the repeat pictures)")
    p.add_argument("--access", action="store_true",
                   help="a config file of users and tokens; camera and viewers send tokens")
    args = p.parse_args()
    access = Access() if args.access else None
    setup = "config file with users and tokens, every client sends a token" if access \
        else "no config file"
    print(f"Machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; {setup}")
    print("1 viewer:")
    single = run_phase(1, args.seconds, access=access)
    report(single)
    if args.capacity:
        bare = bare_ffmpeg_cpu(args.seconds)
        per_camera = single["server_cpu"] + single["ffmpeg_cpu"]
        print(f"Capacity, 640x480 at 30 fps: bare FFmpeg {bare:.1f}% of a core per camera; "
              f"server + FFmpeg {per_camera:.1f}% ({per_camera / bare:.2f}x bare FFmpeg); "
              f"this machine's {os.cpu_count()} cores carry about "
              f"{int(os.cpu_count() * 100 / per_camera)} cameras (with 1 viewer each)")
    print(f"{args.viewers} {args.format} viewers:")
    report(run_phase(args.viewers, args.seconds, fmt=args.format, access=access))
    if args.stall:
        print(f"1 viewer reading + 1 viewer that stops reading for {args.stall:g} s:")
        result = run_phase(1, 10, stall_seconds=args.stall, access=access)
        rss = result["rss"]
        base = rss[0][1]
        print(f"  server RSS: {base:.1f} MB at start, max {max(r for _, r in rss):.1f} MB, "
              f"{rss[-1][1]:.1f} MB at end (growth {max(r for _, r in rss) - base:+.1f} MB)")
        sent, got = result["sent"], result["arrivals"][0]
        delays = [(g - s) * 1000 for s, g in zip(sent, got)]
        early, late = delays[60:300], delays[300:]
        print(f"  reading viewer's delay: first 10 s p50 {statistics.median(early):.2f} / "
              f"p99 {pct(early, 0.99):.2f} ms; during the stall p50 "
              f"{statistics.median(late):.2f} / p99 {pct(late, 0.99):.2f} ms; "
              f"frames lost {len(sent) - len(got)}")


if __name__ == "__main__":
    main()
