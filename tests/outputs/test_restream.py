"""Restream to real servers: Debian's nginx with the RTMP module, and an FFmpeg SRT listener.
The server pushes the camera's H.264; ffprobe reads it back from the receiver; the receiver dies
and comes back, and the push resumes by itself while a direct viewer keeps playing."""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import imageio_ffmpeg
import pytest

from camserver.outputs.restream import MAX_BACKLOG
from conftest import free_port
from live_helpers import (BackgroundViewer, camera_status, free_udp_port, get_json, get_text,
                          metrics, probe_live, wait_until)
from nginx import Nginx

KEY = "s3cretStreamKey42"


def target(server, camera_id: str = "cam", n: int = 0) -> dict:
    return (camera_status(server, camera_id).get("restream") or [{}])[n]


#: check_no_gap's bound: a frame may reach the direct viewer at most this much later than the
#: fastest one. A restream that blocked the server (a connect or a pipe write waited on) would
#: hold every viewer for seconds; the noise on this shared 2-core machine, with other test
#: runs beside, was up to ~0.35 s (encoder and loop both late). check_no_gap also bounds each
#: gap between two frames' arrivals, beyond their media gap, to 0.5 s (seen: at most 0.13 s).
MAX_LATE = 1.0


def target_metrics(server, shown: str, camera_id: str = "cam") -> dict:
    """The target's samples in /metrics, by name without the prefix; ``errors``: the
    ``error`` labels of its ``last_error`` series."""
    labels = f'{{camera="{camera_id}",target="{shown}"'
    found: dict = {"errors": []}
    for key, value in metrics(server).items():
        name, _, rest = key.partition("{")
        if not name.startswith("camserver_restream_") or not ("{" + rest).startswith(labels):
            continue
        short = name.removeprefix("camserver_restream_")
        if short == "last_error":
            found["errors"].append(rest.split('error="', 1)[1].rsplit('"', 1)[0])
        else:
            found[short] = value
    return found


def check_masked(server, secret: str) -> None:
    """The secret is nowhere a user or a log reader sees it."""
    assert secret not in server.log()
    assert secret not in get_text(server.http_url("/status"))
    assert secret not in get_text(server.http_url("/metrics"))


def test_restream_to_nginx_rtmp_resumes_after_nginx_is_killed(start_server, start_camera,
                                                              tmp_path):
    port = free_port()
    nginx = Nginx.rtmp(tmp_path / "nginx", port).start()
    try:
        url = f"rtmp://127.0.0.1:{port}/live/{KEY}"
        server = start_server("--restream", f"cam={url}")
        start_camera(server.camera_url("cam"))
        viewer = BackgroundViewer(server.viewer_url("cam"))
        started = time.monotonic()
        wait_until(lambda: target(server).get("connected"), 30, what="restream connected")
        connected_after = time.monotonic() - started
        first = probe_live(url)
        assert len(first) >= 10, first
        assert {(f["codec"], f["width"], f["height"]) for f in first} == {("h264", 640, 480)}
        status = target(server)
        assert status["url"] == f"rtmp://127.0.0.1:{port}/live/***"
        assert status["bytes"] > 0 and status["frames_sent"] > 0

        nginx.kill()
        killed = time.monotonic()
        lost = wait_until(lambda: (t := target(server))["failures"] >= 1 and
                          not t["connected"] and t, 30, what="loss noticed")
        noticed_after = time.monotonic() - killed
        assert lost["last_error"], lost
        shown = f"rtmp://127.0.0.1:{port}/live/***"
        down = target_metrics(server, shown)
        assert down["connected"] == 0 and down["failures_total"] >= 1, down
        assert down["bytes_total"] >= status["bytes"] > 0, down
        assert len(down["errors"]) == 1 and down["errors"][0], down
        assert abs(down["last_error_timestamp_seconds"] - time.time()) < 60, down
        nginx.start()
        restarted = time.monotonic()
        back = wait_until(lambda: (t := target(server))["connects"] >= 2 and t["connected"]
                          and t, 60, what="restream resumed")
        resumed_after = time.monotonic() - restarted
        second = probe_live(url)
        assert len(second) >= 10, second
        assert {(f["codec"], f["width"], f["height"]) for f in second} == {("h264", 640, 480)}
        up = target_metrics(server, shown)
        assert up["connected"] == 1 and up["connects_total"] >= 2, up
        assert up["bytes_total"] > down["bytes_total"], (up, down)
        assert back["bytes"] > 0 and back["last_error"], back  # the last error stays, with its age
        time.sleep(1)  # the direct viewer plays on after the reconnection too
        assert camera_status(server, "cam")["viewer_frames_skipped"] == 0
        figures = viewer.stop().check_no_gap(MAX_LATE)
        check_masked(server, KEY)
        print(f"\nconnected {connected_after:.1f} s after the viewer started; loss noticed "
              f"{noticed_after:.1f} s after SIGKILL ({lost['last_error']!r}); resumed "
              f"{resumed_after:.1f} s after nginx came back (after {back['failures']} failed "
              f"attempts); direct viewer: {figures}; ffprobe read {len(first)} and "
              f"{len(second)} frames of 640x480 H.264 from nginx; /metrics after the loss: {down}")
    finally:
        nginx.stop()


class Receiver:
    """The real FFmpeg as the receiving end (an SRT or RTSP listener), writing what it gets
    to a TS file."""

    def __init__(self, url: str, output: Path, *input_args: str):
        self.output = output
        self.proc = subprocess.Popen(
            ["ffmpeg", "-hide_banner", "-v", "error", "-y", *input_args, "-i", url,
             "-map", "0:v", "-c", "copy", "-f", "mpegts", str(output)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def size(self) -> int:
        return self.output.stat().st_size if self.output.exists() else 0

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def has_srt(ffmpeg: str) -> bool:
    out = subprocess.run([ffmpeg, "-hide_banner", "-protocols"], capture_output=True,
                         text=True, timeout=20).stdout
    return "srt" in out.split("Output:")[-1].split()


SRT_SECRET = "s3cretStreamId7"
RTSP_SECRET = "s3cretPassw0rd"


def receiver_case(kind: str):
    """(target URL, its masked form, receiver URL, receiver input options, the secret)."""
    if kind == "srt":
        port = free_udp_port()
        return (f"srt://127.0.0.1:{port}?mode=caller&streamid={SRT_SECRET}",
                f"srt://127.0.0.1:{port}?mode=caller&streamid=***",
                f"srt://127.0.0.1:{port}?mode=listener", (), SRT_SECRET)
    port = free_port()
    return (f"rtsp://cam:{RTSP_SECRET}@127.0.0.1:{port}/live",
            f"rtsp://cam:***@127.0.0.1:{port}/live",
            f"rtsp://127.0.0.1:{port}/live", ("-rtsp_flags", "listen"), RTSP_SECRET)


@pytest.mark.parametrize("kind, ffmpeg", [
    pytest.param("srt", "ffmpeg", id="srt-debian-ffmpeg"),
    pytest.param("srt", imageio_ffmpeg.get_ffmpeg_exe(), id="srt-bundled-ffmpeg"),
    pytest.param("rtsp", "ffmpeg", id="rtsp-debian-ffmpeg"),
])
def test_restream_to_an_ffmpeg_listener_resumes_after_it_is_killed(kind, ffmpeg, start_server,
                                                                   start_camera, tmp_path):
    """An SRT target (both FFmpeg builds have SRT: Debian's 5.1 with libsrt, the bundled
    9.0.2) and an RTSP one (ANNOUNCE/RECORD over TCP), each received by the real FFmpeg."""
    if kind == "srt":
        assert has_srt(ffmpeg)
    url, shown, listen_url, listen_args, secret = receiver_case(kind)
    listener = Receiver(listen_url, tmp_path / "first.ts", *listen_args)
    second_listener = None
    try:
        server = start_server("--ffmpeg", ffmpeg, "--restream", f"cam={url}")
        start_camera(server.camera_url("cam"))
        viewer = BackgroundViewer(server.viewer_url("cam"))
        wait_until(lambda: target(server).get("connected") and listener.size() > 200_000, 30,
                   what="restream connected and received")
        status = target(server)
        assert status["url"] == shown and status["bytes"] > 0, status
        listener.kill()
        killed = time.monotonic()
        first = probe_live(str(listener.output), seconds=30)
        assert len(first) >= 30
        assert {(f["codec"], f["width"], f["height"]) for f in first} == {("h264", 640, 480)}
        lost = wait_until(lambda: (t := target(server))["failures"] >= 1 and
                          not t["connected"] and t, 30, what="loss noticed")
        noticed_after = time.monotonic() - killed
        second_listener = Receiver(listen_url, tmp_path / "second.ts", *listen_args)
        restarted = time.monotonic()
        wait_until(lambda: (t := target(server))["connects"] >= 2 and t["connected"]
                   and second_listener.size() > 200_000, 60, what="restream resumed")
        resumed_after = time.monotonic() - restarted
        second_listener.stop()
        second = probe_live(str(second_listener.output), seconds=30)
        assert len(second) >= 30
        assert {(f["codec"], f["width"], f["height"]) for f in second} == {("h264", 640, 480)}
        assert camera_status(server, "cam")["viewer_frames_skipped"] == 0
        figures = viewer.stop().check_no_gap(MAX_LATE)
        check_masked(server, secret)
        print(f"\n{kind} with {ffmpeg}: loss noticed {noticed_after:.1f} s after SIGKILL "
              f"({lost['last_error']!r}); resumed {resumed_after:.1f} s after the listener "
              f"came back; receivers decoded {len(first)} and {len(second)} frames of 640x480 "
              f"H.264; direct viewer: {figures}")
    finally:
        listener.kill()
        if second_listener is not None:
            second_listener.kill()


class SilentServer:
    """Accepts TCP connections and never answers or reads: an RTMP server that hangs."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def close(self) -> None:
        self.sock.close()
        for connection in self.accepted:
            connection.close()


def test_a_hanging_target_costs_bounded_memory_and_never_disturbs_viewers(start_server,
                                                                         start_camera):
    """A target that accepts the connection and then answers nothing: FFmpeg hangs in the RTMP
    handshake and reads no more video. The server's queue for it stops at the bound (the
    target skips frames), FFmpeg is killed when the target has not taken the stream within
    20 s and tried again; the direct viewer plays on as if nothing happened."""
    silent = SilentServer()
    try:
        server = start_server("--restream", f"cam=rtmp://127.0.0.1:{silent.port}/live/{KEY}")
        start_camera(server.camera_url("cam"))
        viewer = BackgroundViewer(server.viewer_url("cam"))
        wait_until(lambda: target(server).get("frames_skipped", 0) > 0, 60,
                   what="the hanging target's queue is full and it skips")
        status = target(server)
        assert status["state"] == "connecting" and not status["connected"], status
        assert 0 < status["backlog_bytes"] <= MAX_BACKLOG + 256 * 1024, status
        failed = wait_until(lambda: (t := target(server))["failures"] >= 1 and t, 40,
                            what="FFmpeg killed after the connect timeout")
        assert "did not take the stream within 20 s" in failed["last_error"], failed
        wait_until(lambda: target(server)["starts"] >= 2, 10, what="tried again")
        assert camera_status(server, "cam")["viewer_frames_skipped"] == 0
        figures = viewer.stop().check_no_gap(MAX_LATE)
        check_masked(server, KEY)
        report = get_json(server.http_url("/status"))
        print(f"\nhanging target: {failed}; direct viewer: {figures}; server delay p99 "
              f"{camera_status(server, 'cam')['server_delay_ms_p99']} ms, loop lag max "
              f"{report['server']['loop_lag_max_ms']} ms")
    finally:
        silent.close()
