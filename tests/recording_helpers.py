"""Shared by the recording tests: a server that records into a temporary directory, what it
wrote (read with the server's own parser and with the real ffprobe/ffmpeg), and the HTTP API."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from camserver.recording.segment import SegmentFile, read_segment


ANONYMOUS_ALL = '[anonymous]\nallow = ["publish", "read", "playback", "status", "metrics"]\n'


def recording_server(start_server, tmp_path: Path, toml: str = "", *args: str,
                     record_dir: Path | None = None):
    """A server recording into ``record_dir`` (default tmp_path/rec) with ``toml`` as its
    recording config; returns (server, record_dir)."""
    record_dir = record_dir or tmp_path / "rec"
    config = tmp_path / "recording.toml"
    # A config file closes the server to anonymous callers unless it says otherwise.
    config.write_text(ANONYMOUS_ALL + toml)
    server = start_server("--record-dir", str(record_dir), "--config", str(config),
                          *args)
    return server, record_dir


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.1, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met in {timeout} s {what}")


def segment_files(record_dir: Path, camera: str) -> list[Path]:
    """The camera's segment files, oldest first (their names sort by time within a day)."""
    return sorted((record_dir / camera).glob("*/*.mp4"))


def read(path: Path) -> SegmentFile:
    with open(path, "rb") as f:
        return read_segment(f, path.stat().st_size)


def probe(path: Path) -> list[dict]:
    out = subprocess.run([shutil.which("ffprobe"), "-v", "error", "-select_streams", "v",
                          "-show_frames", "-show_entries", "frame=pts,pts_time,key_frame,width,"
                          "height", "-of", "json", str(path)], capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode()
    return json.loads(out.stdout)["frames"]


def decode_errors(path: Path) -> str:
    """What the real ffmpeg reports when decoding ``path`` (empty: nothing). The output keeps the
    file's own times (``passthrough``, 90 kHz), so uneven frame intervals are not reported as
    timestamp errors of the null output."""
    out = subprocess.run([shutil.which("ffmpeg"), "-v", "error", "-i", str(path), "-fps_mode",
                          "passthrough", "-enc_time_base", "1/90000", "-f", "null", "-"],
                         capture_output=True, text=True, timeout=120)
    return out.stderr + ("" if out.returncode == 0 else f"exit code {out.returncode}")


def get(server, path: str, headers: dict | None = None, method: str = "GET"):
    """(status, headers, body) of an HTTP request; error statuses are returned, not raised."""
    request = urllib.request.Request(server.http_url(path), headers=headers or {},
                                     method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def get_json(server, path: str):
    status, _, body = get(server, path)
    assert status == 200, (status, body)
    return json.loads(body)


def camera_status(server, camera: str) -> dict:
    cameras = get_json(server, "/status")["cameras"]
    return next((c for c in cameras if c["id"] == camera), {})
