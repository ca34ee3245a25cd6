"""Helpers for tests that run the server next to other live parts (nginx, FFmpeg receivers, HLS
players): a direct viewer that plays in the background the whole time, status polling, and
checks that the direct viewer's video had no gap."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.request

from websockets.sync.client import connect

from conftest import ffprobe_path
from helpers import decode_errors, probe_frames


def get_json(url: str, headers: dict | None = None) -> dict:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def camera_status(server, camera_id: str) -> dict:
    report = get_json(server.http_url("/status"))
    return next((c for c in report["cameras"] if c["id"] == camera_id), {})


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.1, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(interval)
    raise AssertionError(f"not within {timeout} s: {what or predicate}")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BackgroundViewer:
    """A TS viewer on the viewer WebSocket, reading in a thread until :meth:`stop`."""

    def __init__(self, url: str):
        self.url = url
        self.messages: list[tuple[float, bytes]] = []
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with connect(self.url, max_size=None, compression=None) as ws:
                while not self._stop.is_set():
                    try:
                        message = ws.recv(timeout=0.5)
                    except TimeoutError:
                        continue
                    if isinstance(message, bytes):
                        self.messages.append((time.monotonic(), message))
        except BaseException as exc:  # reported by stop()
            self._error = exc

    def stop(self) -> "BackgroundViewer":
        self._stop.set()
        self._thread.join(10)
        assert self._error is None, f"the direct viewer failed: {self._error!r}"
        return self

    def check_no_gap(self, max_late: float = 0.25, max_stall: float = 0.5) -> dict:
        """Every frame decodes, and each reached this viewer within ``max_late`` s of the
        fastest one (its delay after its arrival at the server, from the frame's media time,
        which is that arrival): a server that stalled, even for a moment, fails this. A camera
        that sends nothing for a while (the mock camera on a busy machine) does not: no frame,
        no delay. Returns the figures; the caller also checks that the server skipped no frame
        for this viewer (``viewer_frames_skipped`` in /status).

        Also no gap in the frames' arrival longer than ``max_stall`` s beyond the gap in their
        media times (the camera's own pause, which the server cannot fill): the viewer's
        picture never froze for the server's sake."""
        assert self.messages, "the direct viewer got nothing"
        payload = b"".join(m for _, m in self.messages)
        frames = probe_frames(payload)
        assert len(frames) == len(self.messages), (len(frames), len(self.messages))
        assert decode_errors(payload) == ""
        arrivals = [t for t, _ in self.messages]
        times = [float(f["pts_time"]) for f in frames]
        delays = [a - t for a, t in zip(arrivals, times)]
        fastest = min(delays)
        figures = {
            "frames": len(frames),
            "seconds": round(arrivals[-1] - arrivals[0], 1),
            "latest_ms": round((max(delays) - fastest) * 1000),
            "p99_late_ms": round((sorted(delays)[int(len(delays) * 0.99)] - fastest) * 1000),
            "max_arrival_gap_ms": round(max(b - a for a, b in zip(arrivals, arrivals[1:]))
                                        * 1000),
            "max_media_gap_ms": round(max(b - a for a, b in zip(times, times[1:])) * 1000),
            "max_stall_ms": round(max((b - a) - (d - c) for (a, b), (c, d) in zip(
                zip(arrivals, arrivals[1:]), zip(times, times[1:]))) * 1000),
        }
        assert figures["latest_ms"] <= max_late * 1000, figures
        assert figures["max_stall_ms"] <= max_stall * 1000, figures
        return figures


def probe_live(url: str, seconds: float = 2.0, timeout: float = 30.0) -> list[dict]:
    """Decode ``seconds`` of a live URL (rtmp://, a file being written...) with the real ffprobe:
    one dict per decoded frame (codec, size)."""
    out = subprocess.run(
        [ffprobe_path(), "-v", "error", "-read_intervals", f"%+{seconds}", "-select_streams",
         "v:0", "-show_frames", "-show_entries", "frame=width,height,key_frame,pict_type",
         "-show_entries", "stream=codec_name", "-of", "json", url],
        capture_output=True, timeout=timeout)
    assert out.returncode == 0, out.stderr.decode()
    report = json.loads(out.stdout)
    codecs = {s.get("codec_name") for s in report.get("streams", [])}
    return [dict(f, codec=",".join(sorted(filter(None, codecs)))) for f in report["frames"]]


def get_text(url: str, headers: dict | None = None) -> str:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def metrics(server, headers: dict | None = None) -> dict[str, float]:
    """``/metrics`` as {'name{labels}': value}."""
    samples = {}
    for line in get_text(server.http_url("/metrics"), headers).splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            samples[key] = float(value)
    return samples
