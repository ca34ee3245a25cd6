"""Debian's nginx for the tests, on a free port with a config and directory of its own: an
RTMP server (libnginx-mod-rtmp) to restream to, or an HTTP cache in front of the server.

One process (``master_process off``), so SIGKILL takes all of nginx down at once, as a crash
would. ``test.sh`` installs ``nginx-light`` and ``libnginx-mod-rtmp`` when they are missing.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

RTMP_MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")


def nginx_path() -> str:
    path = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(path).exists(), ("nginx is required (apt-get install nginx-light "
                                 "libnginx-mod-rtmp); the test command installs it")
    return path


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port} after {timeout} s")


class Nginx:
    def __init__(self, directory: Path, body: str, port: int, *, modules: tuple[Path, ...] = ()):
        self.directory = directory
        self.port = port
        directory.mkdir(parents=True, exist_ok=True)
        loads = "".join(f"load_module {m};\n" for m in modules)
        self.config = directory / "nginx.conf"
        self.config.write_text(
            f"{loads}daemon off;\nmaster_process off;\npid {directory}/nginx.pid;\n"
            f"error_log {directory}/error.log warn;\nevents {{ worker_connections 4096; }}\n"
            f"{body}\n")
        self.proc: subprocess.Popen | None = None

    @classmethod
    def rtmp(cls, directory: Path, port: int) -> "Nginx":
        assert RTMP_MODULE.exists(), ("libnginx-mod-rtmp is required (apt-get install "
                                      "libnginx-mod-rtmp); the test command installs it")
        return cls(directory, f"rtmp {{ server {{ listen 127.0.0.1:{port}; "
                              f"application live {{ live on; record off; }} }} }}", port,
                   modules=(RTMP_MODULE,))

    def start(self) -> "Nginx":
        self.proc = subprocess.Popen(
            [nginx_path(), "-c", str(self.config), "-p", f"{self.directory}/",
             "-e", str(self.directory / "error.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for_port(self.port)
        except AssertionError:
            self.stop()
            raise AssertionError("nginx did not start: " + self.errors())
        return self

    def errors(self) -> str:
        log = self.directory / "error.log"
        return log.read_text() if log.exists() else ""

    def kill(self) -> None:
        """SIGKILL: gone at once, connections reset, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
