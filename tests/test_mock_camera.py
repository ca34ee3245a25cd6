"""mock_camera.py: the frames it draws, its rate, and its reconnects."""

import io
import random
import re

from PIL import Image, ImageChops

from camserver.media.jpeg import inspect_jpeg
from conftest import ServerProcess, free_port
from mock_camera import FrameRenderer, frame_due, read_marker
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


def test_schedule_is_exact_without_jitter_and_late_in_order_with_it():
    steady, due = [], 0.0
    for k in range(300):
        due = frame_due(10.0, k, 30, due)
        steady.append(due)
    assert steady == [10.0 + k / 30 for k in range(300)]

    rng, jittered, due = random.Random(7), [], 0.0
    for k in range(3000):
        due = frame_due(10.0, k, 30, due, jitter_ms=10, rng=rng)
        jittered.append(due)
    late = [(d - (10.0 + k / 30)) * 1000 for k, d in enumerate(jittered)]
    assert all(b >= a for a, b in zip(jittered, jittered[1:]))  # in order
    assert min(late) >= 0 and 9 < sum(late) / len(late) < 14  # mean 10 ms, a bit more in order
    bunched = sum(1 for a, b in zip(jittered, jittered[1:]) if b - a < 0.010)
    assert bunched > 100  # late frames come in bursts


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
