"""server.py as a user runs it: start-up lines, ports in use, clean exits, no orphans."""

import signal
import socket
import subprocess
import sys

from conftest import ROOT, ServerProcess, children_of
from test_end_to_end import wait_until
from helpers import ScriptedCamera, make_jpeg

import asyncio


def test_start_up_lines(server):
    log = server.log()
    lines = ["Using FFmpeg", "H.264 encoder: libx264",
             f"HTTP server started on port {server.http_port}",
             f"Camera WebSocket server started on port {server.camera_port}",
             f"Viewer WebSocket server started on port {server.viewer_port}",
             "Server is ready!"]
    positions = [log.index(line) for line in lines]
    assert positions == sorted(positions)


def test_port_in_use_is_one_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = ServerProcess("--viewer-port", str(port))
        code = server.proc.wait(60)
    log = server.log()
    assert code == 2
    assert f"Port {port} is already in use (viewer WebSocket)" in log
    assert "--viewer-port" in log and "Traceback" not in log


def test_help_lists_every_option():
    out = subprocess.run([sys.executable, "server.py", "--help"], cwd=ROOT,
                         capture_output=True, text=True).stdout
    for flag in ("--host", "--camera-port", "--viewer-port", "--http-port", "--ffmpeg",
                 "--encoder", "--bitrate", "--gop", "--max-frame-bytes", "--log-level"):
        assert flag in out


def _with_running_ffmpeg(server):
    async def send():
        async with ScriptedCamera(server.camera_url("c")) as camera:
            for n in range(5):
                await camera.send(make_jpeg(320, 240, n=n))
    asyncio.run(send())
    return wait_until(lambda: children_of(server.proc.pid))


def test_sigint_stops_cleanly_and_reaps_ffmpeg(start_server):
    server = start_server()
    children = _with_running_ffmpeg(server)
    server.proc.send_signal(signal.SIGINT)
    assert server.proc.wait(15) == 0
    assert "Stopped" in server.log()
    for pid in children:
        assert not _exists(pid)


def test_ffmpeg_dies_with_a_killed_server(start_server):
    """Even SIGKILL, which the server cannot handle, leaves no orphan FFmpeg behind."""
    server = start_server()
    children = _with_running_ffmpeg(server)
    server.proc.kill()
    server.proc.wait()
    wait_until(lambda: not any(_exists(pid) for pid in children), timeout=10)


def _exists(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
