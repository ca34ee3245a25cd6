"""A restream target's life beyond connect and reconnect: a push that stalls (its queue stops at
the bound, it skips to a keyframe and goes on), a camera that leaves and comes back (the push
ends cleanly and starts again), a target that is never there (bounded log lines)."""

from __future__ import annotations

import signal
import os
import time

from camserver.outputs.restream import MAX_BACKLOG
from conftest import CameraProcess, children_of, free_port
from live_helpers import BackgroundViewer, camera_status, probe_live, wait_until
from nginx import Nginx
from test_restream import KEY, MAX_LATE, check_masked, target


def push_ffmpeg(server) -> int:
    """The pid of the server's restream FFmpeg (the one reporting -progress)."""
    for pid in children_of(server.proc.pid):
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if b"-progress" in f.read():
                return pid
    raise AssertionError("no restream FFmpeg")


def test_a_stalled_push_skips_to_a_keyframe_and_goes_on(start_server, start_camera, tmp_path):
    """The push's FFmpeg is stopped (SIGSTOP) for 9 s, as if the network to the target stalled:
    its pipe fills, the server keeps at most MAX_BACKLOG for it and skips frames, then (SIGCONT)
    it continues from a keyframe on the same connection: no reconnection, no failure, the
    stream on nginx decodes, and the direct viewer never waited."""
    port = free_port()
    nginx = Nginx.rtmp(tmp_path / "nginx", port).start()
    try:
        url = f"rtmp://127.0.0.1:{port}/live/{KEY}"
        # 4 Mbit/s: 2 MiB of backlog in about 4 s.
        server = start_server("--bitrate", "4M", "--restream", f"cam={url}")
        start_camera(server.camera_url("cam"))
        viewer = BackgroundViewer(server.viewer_url("cam"))
        wait_until(lambda: target(server).get("connected"), 30, what="restream connected")
        time.sleep(1)
        pid = push_ffmpeg(server)
        os.kill(pid, signal.SIGSTOP)
        try:
            stalled = wait_until(lambda: (t := target(server))["frames_skipped"] > 0 and t, 9,
                                 what="the stalled push skips frames")
            deepest = stalled["backlog_bytes"]
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                deepest = max(deepest, target(server)["backlog_bytes"])
                time.sleep(0.1)
        finally:
            os.kill(pid, signal.SIGCONT)
        assert MAX_BACKLOG <= deepest <= MAX_BACKLOG + 512 * 1024, deepest
        skipped = target(server)["frames_skipped"]
        resumed = wait_until(lambda: (t := target(server))["backlog_bytes"] < MAX_BACKLOG // 4
                             and t["frames_delivered"] > stalled["frames_delivered"] + 60
                             and t, 20, what="the push goes on")
        assert resumed["connects"] == 1 and resumed["failures"] == 0, resumed
        assert resumed["state"] == "connected" and push_ffmpeg(server) == pid
        frames = probe_live(url)
        assert len(frames) >= 10
        assert {(f["codec"], f["width"], f["height"]) for f in frames} == {("h264", 640, 480)}
        # The skipped frames leave a jump in the TS continuity counters and times: FFmpeg took
        # it without an error line.
        assert not [line for line in server.log().splitlines()
                    if "restream to" in line and ": ffmpeg:" in line]
        assert camera_status(server, "cam")["viewer_frames_skipped"] == 0
        figures = viewer.stop().check_no_gap(MAX_LATE)
        check_masked(server, KEY)
        print(f"\nstalled push: backlog at most {deepest} bytes, {skipped} frames skipped, "
              f"then {resumed['frames_delivered']} delivered on the same connection; direct "
              f"viewer: {figures}")
    finally:
        nginx.stop()


def test_the_push_ends_with_the_video_and_starts_again_with_it(start_server, start_camera,
                                                                tmp_path):
    port = free_port()
    nginx = Nginx.rtmp(tmp_path / "nginx", port).start()
    try:
        url = f"rtmp://127.0.0.1:{port}/live/{KEY}"
        server = start_server("--restream", f"cam={url}")
        camera = start_camera(server.camera_url("cam"))
        wait_until(lambda: target(server).get("connected"), 30, what="restream connected")
        pid = push_ffmpeg(server)
        camera.stop()
        left = time.monotonic()
        idle = wait_until(lambda: (t := target(server))["state"] == "idle" and t, 20,
                          what="the push ended")
        ended_after = time.monotonic() - left
        assert idle["failures"] == 0 and idle["last_error"] is None, idle
        assert pid not in children_of(server.proc.pid)  # FFmpeg finished and was reaped
        start_camera(server.camera_url("cam"))
        back = wait_until(lambda: (t := target(server))["connected"] and t, 30,
                          what="the push started again")
        assert back["connects"] == 2 and back["failures"] == 0 and back["starts"] == 2, back
        frames = probe_live(url)
        assert {(f["codec"], f["width"], f["height"]) for f in frames} == {("h264", 640, 480)}
        print(f"\npush ended {ended_after:.1f} s after the camera left (5 s without video), "
              f"started again with it: {back}")
    finally:
        nginx.stop()


def test_a_target_that_is_never_there_is_retried_with_backoff_and_few_log_lines(
        start_server, start_camera):
    port = free_port()  # nothing listens there
    server = start_server("--restream", f"cam=rtmp://127.0.0.1:{port}/live/{KEY}")
    start_camera(server.camera_url("cam"))
    def restream_lines():
        return [line for line in server.log().splitlines() if "restream to" in line]

    wait_until(lambda: target(server).get("failures", 0) >= 1, 30, what="a first failed attempt")
    time.sleep(0.5)  # FFmpeg's last error lines of the attempt
    after_first = restream_lines()
    failing = wait_until(lambda: (t := target(server)).get("failures", 0) >= 4 and t, 40,
                         what="four failed attempts")
    assert "Connection refused" in failing["last_error"], failing
    # 1, 2, 4, 8 s between attempts; a line of each kind at most once a minute, so the three
    # attempts after the first added no line.
    assert restream_lines() == after_first
    assert len([line for line in after_first if "trying again" in line]) == 1, after_first
    assert camera_status(server, "cam")["viewer_frames_skipped"] == 0
    check_masked(server, KEY)
    print(f"\n{failing['failures']} attempts, {len(after_first)} log lines: {after_first}")
