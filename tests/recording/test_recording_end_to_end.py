"""Issue 12's recording scenarios end to end: server.py recording what mock_camera.py sends (real
FFmpeg), files checked with the real ffprobe/ffmpeg and with the server's own reader."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import statistics
import sys
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT
from helpers import Received, ScriptedCamera, probe_frames, watch
from recording_helpers import (ANONYMOUS_ALL, camera_status, decode_errors, get_json,
                               probe, read,
                               recording_server, segment_files, wait_until)

CONTINUOUS = """
[recording]
min_free_bytes = "10M"
[camera."*"]
record = "continuous"
segment_seconds = {segment}
"""


def test_continuous_recording_over_three_segments_has_no_gaps(start_server, start_camera,
                                                              tmp_path):
    server, record_dir = recording_server(start_server, tmp_path, CONTINUOUS.format(segment=2))
    before = time.time()
    camera = start_camera(server.camera_url("cam"), "--fps", "30")
    wait_until(lambda: len(segment_files(record_dir, "cam")) >= 4, 40, what="4 files")
    camera.stop()
    wait_until(lambda: camera_status(server, "cam")["recording"]["state"] == "waiting", 10)
    # Every frame the server encoded is in a file (the encoder's first frame is a keyframe).
    status = camera_status(server, "cam")
    assert status["recording"]["frames_recorded"] == status["frames_encoded"] > 0
    assert sum(len(read(p).samples) for p in segment_files(record_dir, "cam")) == \
        status["frames_encoded"]
    files = segment_files(record_dir, "cam")[:3]
    segments = [read(path) for path in files]
    for path, segment in zip(files, segments):
        # Named after the local time of the first frame, in a day directory.
        local = time.localtime(segment.start_utc)
        assert path.name == time.strftime("%H-%M-%S.mp4", local), path
        assert path.parent.name == time.strftime("%Y-%m-%d", local)
        # Each plays on its own: from a keyframe, every frame decodes, no error.
        frames = probe(path)
        assert frames[0]["key_frame"] == 1 and len(frames) == len(segment.samples)
        assert {(f["width"], f["height"]) for f in frames} == {(640, 480)}
        assert decode_errors(path) == ""
        # Frames keep their arrival times: a camera late on a busy machine shows as a longer
        # interval, never as a pause (over 2 s, which starts a new file).
        intervals = [b.dts - a.dts for a, b in zip(segment.samples, segment.samples[1:])]
        assert max(intervals) < 1.0 * 90000, "a pause inside a file"
        assert 2.0 <= segment.duration <= 3.1  # cut at the first keyframe after 2 s
    # The files follow each other without a gap or an overlap.
    for a, b in zip(segments, segments[1:] + [read(segment_files(record_dir, "cam")[3])]):
        assert abs(b.start_utc - a.end_utc) < 0.02, (a.end_utc, b.start_utc)
    # Media time = wall time within 1%: each file is stamped with the wall clock at its first
    # frame, so three files' media time is measured against the wall clock between them.
    media = sum(s.duration for s in segments)
    wall = read(segment_files(record_dir, "cam")[3]).start_utc - segments[0].start_utc
    frames = sum(len(s.samples) for s in segments)
    print(f"{frames} frames, media {media:.3f} s, wall {wall:.3f} s, {frames / media:.2f} fps")
    assert abs(media / wall - 1) < 0.01
    assert abs(frames / media / 30 - 1) < 0.01  # the camera's exact 30 fps schedule
    assert before < segments[0].start_utc < before + 10
    # The API shows one span from the first frame.
    listing = get_json(server, "/api/recordings/cam")
    assert len(listing["spans"]) == 1
    assert listing["spans"][0]["start"].startswith(
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(segments[0].start_utc)))


def test_sigkill_mid_segment_leaves_a_file_that_plays_to_within_a_second(start_server,
                                                                         start_camera, tmp_path):
    server, record_dir = recording_server(start_server, tmp_path, CONTINUOUS.format(segment=60))
    start_camera(server.camera_url("cam"))
    wait_until(lambda: camera_status(server, "cam").get("recording", {})
               .get("frames_recorded", 0) > 100, 30)
    time.sleep(0.37)  # anywhere inside a fragment
    killed_at = time.time()
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)
    [path] = segment_files(record_dir, "cam")
    segment = read(path)
    frames = probe(path)  # ffprobe decodes the file as the kill left it
    assert frames[0]["key_frame"] == 1 and len(frames) >= len(segment.samples) > 100
    last_frame = segment.start_utc + float(frames[-1]["pts_time"])
    lost = killed_at - last_frame
    print(f"last decodable frame {lost:.3f} s before the kill; {len(frames)} frames")
    assert 0 <= lost < 1.5
    # A new server finds it (and trims a cut-off fragment, if the kill left one).
    size_before = path.stat().st_size
    (tmp_path / "again").mkdir()
    restarted, _ = recording_server(start_server, tmp_path / "again",
                                    CONTINUOUS.format(segment=60), record_dir=record_dir)
    span = wait_until(lambda: get_json(restarted, "/api/recordings/cam")["spans"], 15)
    assert len(span) == 1 and abs(span[0]["duration"] - segment.duration) < 0.001
    if segment.valid_bytes < size_before:
        restarted.wait_for_log("Repaired recording")
    assert decode_errors(path) == ""


def deleted(server) -> list[str]:
    return re.findall(r"Deleted recording (\S+) .*: (.*)", server.log())


def test_max_bytes_deletes_the_oldest_first(start_server, start_camera, tmp_path):
    server, record_dir = recording_server(
        start_server, tmp_path, '[recording]\nmax_bytes = "1M"\nmin_free_bytes = "10M"\n'
        '[camera."*"]\nrecord = "continuous"\nsegment_seconds = 1\n')
    camera = start_camera(server.camera_url("cam"))
    wait_until(lambda: len(deleted(server)) >= 4, 60, what="4 deletions")
    camera.stop()
    # Once the last file is finished, everything fits in max_bytes.
    wait_until(lambda: sum(p.stat().st_size for p in segment_files(record_dir, "cam"))
               <= 1 << 20, 15)
    gone = [name for name, _ in deleted(server)]
    assert all("max_bytes = 1.0 MB" in why for _, why in deleted(server))
    remaining = [str(p.relative_to(record_dir)) for p in segment_files(record_dir, "cam")]
    assert gone == sorted(gone), "deleted out of order"
    assert remaining and max(gone) < min(remaining), "a newer file went before an older one"
    assert not any((record_dir / name).exists() for name in gone)


def test_keep_deletes_the_oldest_first(start_server, start_camera, tmp_path):
    server, record_dir = recording_server(
        start_server, tmp_path, '[recording]\nmin_free_bytes = "10M"\n[camera."*"]\n'
        'record = "continuous"\nsegment_seconds = 1\nkeep = "4s"\n')
    camera = start_camera(server.camera_url("cam"))
    wait_until(lambda: len(deleted(server)) >= 4, 60, what="4 deletions")
    camera.stop()
    gone = [name for name, _ in deleted(server)]
    assert all("older than keep = 4s" in why for _, why in deleted(server))
    assert gone == sorted(gone)
    remaining = segment_files(record_dir, "cam")
    assert remaining and max(gone) < min(str(p.relative_to(record_dir)) for p in remaining)
    # Retention runs every 5 s: nothing that remains ended over keep + 5 s (+ slack) ago.
    now = time.time()
    assert all(now - read(p).end_utc < 4 + 5 + 2 for p in remaining)


# -- a disk that fills up ----------------------------------------------------------------------


class SmallDisk:
    """A size-limited directory: a tmpfs mount where the machine allows it (root); else the
    server's file-layer hook makes writes fail with ENOSPC while a marker file exists."""

    def __init__(self, path: Path, size_mb: int = 8):
        self.path = path
        path.mkdir()
        self.mounted = os.geteuid() == 0 and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
            capture_output=True).returncode == 0
        self.filler = path / "filler"
        self.marker = path.parent / "enospc"
        self.env = {} if self.mounted else {"CAMSERVER_RECORDING_ENOSPC_FILE": str(self.marker)}
        print("size-limited directory:", "tmpfs" if self.mounted else "ENOSPC hook")

    def fill(self, leave_bytes: int) -> None:
        if self.mounted:
            st = os.statvfs(self.path)
            free = st.f_bavail * st.f_frsize
            with open(self.filler, "wb") as f:
                f.write(b"\0" * max(0, free - leave_bytes))
        else:
            self.marker.touch()

    def free(self) -> None:
        if self.mounted:
            self.filler.unlink()
        else:
            self.marker.unlink()

    def close(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.path)], check=True)


def test_a_full_disk_stops_recording_with_one_line_and_resumes_live_viewers_see_nothing(
        start_server, tmp_path):
    """A camera written here (so the test knows when each frame left) and a live viewer that
    was there first (so the n-th message it gets is the n-th frame): every frame reaches the
    viewer, as fast while the disk is full as before, while recording stops and resumes."""
    disk = SmallDisk(tmp_path / "disk")
    try:
        record_dir = disk.path / "rec"
        config = tmp_path / "full.toml"
        config.write_text(ANONYMOUS_ALL + '[recording]\nmin_free_bytes = 0\n[camera."*"]\n'
                          'record = "continuous"\nsegment_seconds = 2\n')
        server = start_server("--record-dir", str(record_dir), "--config",
                              str(config), env=disk.env)
        live = LiveCameraAndViewer(server, "cam")
        wait_until(lambda: camera_status(server, "cam").get("recording", {})
                   .get("state") == "recording", 30)
        wait_until(lambda: len(segment_files(record_dir, "cam")) >= 2, 20)
        disk.fill(leave_bytes=600_000)
        server.wait_for_log(r"camera cam: recording stopped: No space left on device", 30)
        full_from = time.monotonic()
        status = camera_status(server, "cam")["recording"]
        assert status["state"] == "error" and "No space left" in status["last_error"]["message"]
        time.sleep(12)  # two retries and more: still one line
        assert server.log().count("recording stopped") == 1
        full_until = time.monotonic()
        # What was written before the disk filled plays, to its last whole fragment.
        for path in segment_files(record_dir, "cam"):
            assert decode_errors(path) == "", path
        files_before = set(segment_files(record_dir, "cam"))
        disk.free()
        server.wait_for_log(r"camera cam: recording resumed", 20)
        new = wait_until(lambda: set(segment_files(record_dir, "cam")) - files_before, 10)
        wait_until(lambda: camera_status(server, "cam")["recording"]["state"] == "recording",
                   10)
        grown = wait_until(lambda: [p for p in new if read(p).duration > 1.5], 15)
        assert decode_errors(grown[0]) == ""
        sent, got, payload = live.stop()
        # The live viewer got every frame, and as fast while the disk was full as before.
        assert len(got) == len(sent) > 30 * 15
        delays = [(g - s) * 1000 for s, g in zip(sent, got)]
        before = sorted(d for s, d in zip(sent, delays) if s < full_from)
        during = sorted(d for s, d in zip(sent, delays) if full_from <= s < full_until)
        p50 = [round(statistics.median(x), 1) for x in (before, during)]
        p99 = [round(x[int(len(x) * 0.99)], 1) for x in (before, during)]
        print(f"camera -> viewer delay before / while the disk was full: p50 {p50} ms, "
              f"p99 {p99} ms, max {max(delays):.0f} ms; {len(got)} frames, none lost")
        assert p50[1] < p50[0] + 20 and max(delays) < 1000
        assert len(probe_frames(payload)) == len(got)
        assert server.stop() == 0
    finally:
        disk.close()


class LiveCameraAndViewer:
    """A 30 fps camera and a TS viewer of it in a thread of their own, until :meth:`stop`."""

    def __init__(self, server, camera: str):
        from mock_camera import FrameRenderer
        renderer = FrameRenderer(640, 480)
        self._jpegs = [renderer.render(n, n / 30, 30) for n in range(30)]
        self._server, self._camera = server, camera
        self._stop = threading.Event()
        self._viewer_stop = threading.Event()
        self.sent: list[float] = []
        self.received = Received()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()))
        self._thread.start()
        assert self._ready.wait(20), "viewer did not connect"

    async def _run(self) -> None:
        viewer = asyncio.create_task(watch(self._server.viewer_url(self._camera, "ts"), 600,
                                           self.received, _Stop(self._viewer_stop)))
        await asyncio.sleep(1.0)  # the viewer is subscribed before the first frame
        self._ready.set()
        async with ScriptedCamera(self._server.camera_url(self._camera)) as camera:
            start, n = time.monotonic(), 0
            while not self._stop.is_set():
                await asyncio.sleep(max(0.0, start + n / 30 - time.monotonic()))
                await camera.send(self._jpegs[n % len(self._jpegs)])
                self.sent.append(time.monotonic())
                n += 1
            deadline = time.monotonic() + 5  # the last frames reach the viewer
            while len(self.received.binary) < len(self.sent) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            self._viewer_stop.set()
            await viewer

    def stop(self):
        self._stop.set()
        self._thread.join(30)
        return self.sent, [t for t, _ in self.received.binary], self.received.payload


class _Stop:
    """An asyncio-looking stop flag backed by a threading.Event (helpers.watch polls it)."""

    def __init__(self, event: threading.Event):
        self._event = event

    def is_set(self) -> bool:
        return self._event.is_set()


def test_bad_recording_settings_stop_the_server_at_start_with_one_clear_line(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('[camera.desk]\nrecord = "continuous"\nkeep = "a week"\n')
    proc = subprocess.run([sys.executable, str(ROOT / "server.py"), "--config",
                           str(config), "--http-port", "0", "--camera-port", "0",
                           "--viewer-port", "0"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert f"{config}: camera.desk.keep: must look like 7d, 12h or 30m" in proc.stderr
    assert "Traceback" not in proc.stderr
