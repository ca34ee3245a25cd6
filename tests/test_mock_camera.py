"""mock_camera.py: the frames it draws, its rate, and its reconnects."""

import io
import re

from PIL import Image, ImageChops

from camserver.jpeg import inspect_jpeg
from conftest import ServerProcess, free_port
from mock_camera import FrameRenderer, read_marker
from test_end_to_end import status, wait_until


def test_frames_are_animated_jpegs_of_the_asked_size():
    renderer = FrameRenderer(800, 600, subsampling="4:2:2")
    first, later = renderer.render(0, 0, 30), renderer.render(15, 0.5, 30)
    info = inspect_jpeg(first)
    assert (info.width, info.height, info.subsampling) == (800, 600, "4:2:2")
    a = Image.open(io.BytesIO(first)).convert("L")
    b = Image.open(io.BytesIO(later)).convert("L")
    changed = sum(ImageChops.difference(a, b).point(lambda v: 255 if v > 16 else 0)
                  .histogram()[255:])
    assert changed > 800 * 600 // 10


def test_marker_reads_back():
    renderer = FrameRenderer(640, 480, mark=True)
    for n in (0, 1, 12345, 2 ** 20 - 1):
        image = Image.open(io.BytesIO(renderer.render(n, 0, 30))).convert("L")
        assert read_marker(lambda x, y: image.getpixel((x, y)), 480) == n


def test_sends_at_its_rate_and_reports_it(server, start_camera):
    camera = start_camera(server.camera_url(), "--duration", "3")
    out = camera.proc.communicate(timeout=20)[0]
    assert "Connected to server!" in out
    assert re.search(r"Sent frame 30 \(\d+ bytes\)", out)
    sent, fps = re.search(r"Done: (\d+) frames in [\d.]+ s \(([\d.]+) fps\)", out).groups()
    assert 88 <= int(sent) <= 91 and 29.5 <= float(fps) <= 30.5


def test_reconnects_when_the_server_comes_later(start_camera, start_server):
    port = free_port()
    camera = start_camera(f"ws://127.0.0.1:{port}", "--camera-id", "late")
    server = ServerProcess("--camera-port", str(port))
    try:
        server.wait_ready()
        wait_until(lambda: any(c["id"] == "late" and c["frames_in"] > 30
                               for c in status(server)["cameras"]), timeout=30)
    finally:
        assert server.stop() == 0
    out = camera.stop()
    assert "retrying in" in out and "Connected to server!" in out
