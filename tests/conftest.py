"""Shared fixtures: a real server process on free ports, real mock cameras, real FFmpeg.

``server`` starts ``server.py`` as a child process (the same way a user does) and waits for
"Server is ready!"; at teardown it sends SIGTERM and checks that the server exits 0 and leaves no
FFmpeg child behind. Tests read ``server.log()`` for log lines.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ffprobe_path() -> str:
    path = shutil.which("ffprobe")
    assert path, "ffprobe is required (apt-get install ffmpeg); the test command installs it"
    return path


def children_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True).stdout
    return [int(p) for p in out.split()]


class ServerProcess:
    def __init__(self, *extra_args: str, env: dict | None = None):
        self.http_port, self.camera_port, self.viewer_port = (free_port() for _ in range(3))
        # Each server its own state directory (logins), unless the test names one.
        state = [] if "--state-dir" in extra_args else [
            "--state-dir", tempfile.mkdtemp(prefix="camserver-state-")]
        self.args = [sys.executable, str(ROOT / "server.py"), "--host", "127.0.0.1",
                     "--http-port", str(self.http_port), "--camera-port", str(self.camera_port),
                     "--viewer-port", str(self.viewer_port), *state, *extra_args]
        self._lines: list[str] = []
        self._ready = threading.Event()
        self.proc = subprocess.Popen(self.args, cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     env={**os.environ, **(env or {})})
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self._lines.append(line)
            if "Server is ready!" in line:
                self._ready.set()
        self._ready.set()

    def wait_ready(self, timeout: float = 60) -> "ServerProcess":
        assert self._ready.wait(timeout), "server did not start:\n" + self.log()
        assert self.proc.poll() is None, "server exited:\n" + self.log()
        return self

    def log(self) -> str:
        return "".join(self._lines)

    def wait_for_log(self, pattern: str, timeout: float = 30, start: int = 0) -> re.Match:
        """Wait for a log line matching ``pattern`` among lines after line number ``start``."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while time.monotonic() < deadline:
            for line in self._lines[start:]:
                if match := regex.search(line):
                    return match
            time.sleep(0.05)
        raise AssertionError(f"no log line matching {pattern!r}:\n{self.log()}")

    @property
    def line_count(self) -> int:
        return len(self._lines)

    def camera_url(self, camera_id: str | None = None) -> str:
        return f"ws://127.0.0.1:{self.camera_port}" + (f"/{camera_id}" if camera_id else "")

    def viewer_url(self, camera_id: str = "", fmt: str = "ts") -> str:
        return f"ws://127.0.0.1:{self.viewer_port}/{camera_id}?format={fmt}"

    def http_url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.http_port}{path}"

    def stop(self, timeout: float = 15) -> int:
        ffmpeg_children = children_of(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("server did not exit within %s s of SIGTERM" % timeout)
        for pid in ffmpeg_children:
            assert not _alive(pid), f"child {pid} outlived the server"
        return code


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is reaped when its parent (gone) is replaced by init.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class CameraProcess:
    """``mock_camera.py`` as a user runs it."""

    def __init__(self, url: str, *args: str):
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "mock_camera.py"), "--url", url,
                                      *args], cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            out, _ = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return out


@pytest.fixture
def start_server():
    """Factory: ``start_server(*args)`` -> a ready :class:`ServerProcess`, stopped at teardown."""
    started: list[ServerProcess] = []

    def start(*args: str, env: dict | None = None) -> ServerProcess:
        server = ServerProcess(*args, env=env)
        started.append(server)
        return server.wait_ready()

    yield start
    for server in started:
        if server.proc.poll() is None:
            assert server.stop() == 0, server.log()


@pytest.fixture
def server(start_server) -> ServerProcess:
    return start_server()


@pytest.fixture
def start_camera():
    """Factory: ``start_camera(url, *mock_camera_args)`` -> :class:`CameraProcess`."""
    cameras: list[CameraProcess] = []

    def start(url: str, *args: str) -> CameraProcess:
        camera = CameraProcess(url, *args)
        cameras.append(camera)
        return camera

    yield start
    for camera in cameras:
        camera.stop()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
