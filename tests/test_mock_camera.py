"""mock_camera.py: the frames it draws, its rate, its reconnects, and the control protocol it
shares with the firmware (hello with settings and choices, config, config_ack)."""

import asyncio
import io
import json
import random
import re
import statistics
import time
import urllib.request

from PIL import Image, ImageChops
from websockets.asyncio.server import serve

from camserver.media.jpeg import inspect_jpeg
from conftest import ServerProcess, free_port
from mock_camera import FRAME_SIZES, FrameRenderer, MockCamera, Settings, frame_due, read_marker
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


# ------------------------------------------------------------------------ control protocol

CHOICES = {
    "framesize": ["QQVGA", "QCIF", "HQVGA", "QVGA", "CIF", "HVGA", "VGA", "SVGA", "XGA", "HD"],
    "quality": {"min": 1, "max": 100},
    "fps": {"min": 1, "max": 30},
    "vflip": [False, True],
    "hmirror": [False, True],
}


def _hello(**changes) -> dict:
    hello = {"type": "hello", "camera_id": "desk", "board": "mock", "sensor": "mock",
             "firmware": "mock_camera.py", "width": 640, "height": 480, "fps": 15, "quality": 80,
             "framesize": "VGA", "vflip": False, "hmirror": False, "choices": CHOICES}
    hello.update(changes)
    return hello


def test_hello_announces_current_settings_and_choices():
    camera = MockCamera("desk", Settings(640, 480, 80, 15.0))
    assert camera.hello() == _hello()
    assert list(camera.hello()) == list(_hello())  # the documented order, as the firmware sends it
    assert all(FRAME_SIZES[name] for name in CHOICES["framesize"])
    odd = MockCamera("x", Settings(1000, 500, 70, 7.5)).hello()  # a size without a name
    assert (odd["framesize"], odd["width"], odd["fps"]) == ("1000x500", 1000, 7.5)


def test_config_applies_good_keys_and_rejects_the_rest_with_reasons():
    camera = MockCamera("desk", Settings(640, 480, 80, 15.0))
    ack = camera.apply_config({"type": "config", "framesize": "svga", "quality": 40, "fps": 30,
                               "vflip": True, "hmirror": 1})
    assert ack == {"type": "config_ack", "rejected": {}, "applied": {
        "framesize": "SVGA", "quality": 40, "fps": 30, "vflip": True, "hmirror": True}}
    assert camera.settings == Settings(800, 600, 40, 30, True, True)
    assert camera.hello() == _hello(width=800, height=600, framesize="SVGA", quality=40, fps=30,
                                    vflip=True, hmirror=True)
    info = inspect_jpeg(camera.renderer.render(0, 0, 30))
    assert (info.width, info.height) == (800, 600)

    ack = camera.apply_config({"type": "config", "framesize": "UXGA", "quality": 0, "fps": 12.5,
                               "vflip": "yes", "hmirror": 2, "zoom": 4})
    assert ack["applied"] == {}
    assert ack["rejected"] == {
        "framesize": "unknown frame size; this camera offers " + ", ".join(CHOICES["framesize"]),
        "quality": "must be an integer 1-100 (higher is better)",
        "fps": "must be an integer 1-30",
        "vflip": "must be true or false",
        "hmirror": "must be true or false",
        "zoom": "unknown setting",
    }
    assert camera.settings == Settings(800, 600, 40, 30, True, True)  # nothing changed
    ack = camera.apply_config({"type": "config", "framesize": 640, "quality": True, "fps": 0,
                               "vflip": 1.0, "hmirror": None})
    assert ack["applied"] == {} and ack["rejected"]["framesize"] == 'must be a string such as "VGA"'
    assert set(ack["rejected"]) == {"framesize", "quality", "fps", "vflip", "hmirror"}
    ack = camera.apply_config({"type": "config", "framesize": "320x240", "vflip": 0, "bad": 1})
    assert ack["applied"] == {"framesize": "QVGA", "vflip": False}
    assert ack["rejected"] == {"bad": "unknown setting"}

    # replies: an ack, and a hello when something was applied; nothing for other messages
    replies = camera.handle_text(json.dumps({"type": "config", "fps": 5}))
    assert [r["type"] for r in replies] == ["config_ack", "hello"] and replies[1]["fps"] == 5
    assert [r["type"] for r in camera.handle_text('{"type": "config", "fps": 99}')] == ["config_ack"]
    assert camera.handle_text('{"type": "ping"}') == []
    assert camera.handle_text("not json") == []
    assert camera.handle_text("[1, 2]") == []


def _luma(jpeg: bytes) -> Image.Image:
    return Image.open(io.BytesIO(jpeg)).convert("L")


def _differs(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per pixel."""
    hist = ImageChops.difference(a, b).histogram()
    return sum(i * n for i, n in enumerate(hist)) / (a.width * a.height)


def test_flips_turn_the_scene_and_keep_the_overlay_readable():
    w, h = 640, 480
    plain = FrameRenderer(w, h)
    bar = plain._font.size + 12  # the overlay's black band at the top
    middle = (0, bar + 4, w, h - bar - 4)  # rows that are scene in every orientation
    base = _luma(plain.render(7, 0, 30))
    flipped = _luma(FrameRenderer(w, h, vflip=True).render(7, 0, 30))
    mirrored = _luma(FrameRenderer(w, h, hmirror=True).render(7, 0, 30))
    assert _differs(base.crop(middle), flipped.crop(middle)) > 10  # the picture did change
    assert _differs(base.transpose(Image.Transpose.FLIP_TOP_BOTTOM).crop(middle),
                    flipped.crop(middle)) < 3  # ... into the upside-down scene
    assert _differs(base.transpose(Image.Transpose.FLIP_LEFT_RIGHT).crop(middle),
                    mirrored.crop(middle)) < 3
    for image in (flipped, mirrored):  # the text band stays on top, unturned
        assert _differs(base.crop((0, 0, w, bar)), image.crop((0, 0, w, bar))) < 3
    marked = FrameRenderer(w, h, mark=True, vflip=True, hmirror=True).render(12345, 0, 30)
    image = _luma(marked)
    assert read_marker(lambda x, y: image.getpixel((x, y)), h) == 12345


class _Peer:
    """A tiny camera server: records what the camera sends, with arrival times."""

    def __init__(self):
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.connected = asyncio.get_running_loop().create_future()

    async def handler(self, ws):
        if not self.connected.done():
            self.connected.set_result(ws)
        async for message in ws:
            await self.inbox.put((time.monotonic(), message))

    async def text(self, timeout: float = 10) -> dict:
        """The next text message (frames in between are skipped)."""
        async with asyncio.timeout(timeout):
            while True:
                _, message = await self.inbox.get()
                if isinstance(message, str):
                    return json.loads(message)

    async def frames(self, count: int, timeout: float = 20) -> list[tuple[float, bytes]]:
        got = []
        async with asyncio.timeout(timeout):
            while len(got) < count:
                arrived, message = await self.inbox.get()
                assert isinstance(message, bytes), f"unexpected text {message!r}"
                got.append((arrived, message))
        return got


def test_config_over_a_real_websocket(start_camera):
    """mock_camera.py as a user runs it, against a small server: hello, config, ack, new hello,
    frames at the new size and rate; bad values and other messages change nothing."""
    port = free_port()

    async def scenario() -> None:
        peer = _Peer()
        async with serve(peer.handler, "127.0.0.1", port, max_size=2**22):
            start_camera(f"ws://127.0.0.1:{port}", "--camera-id", "desk", "--fps", "15")
            ws = await asyncio.wait_for(peer.connected, 30)
            assert await peer.text() == _hello()
            for _, jpeg in await peer.frames(5):
                assert (inspect_jpeg(jpeg).width, inspect_jpeg(jpeg).height) == (640, 480)

            await ws.send(json.dumps({"type": "config", "framesize": "qvga", "quality": 50,
                                      "fps": 12, "vflip": True, "hmirror": 1}))
            assert await peer.text() == {"type": "config_ack", "rejected": {}, "applied": {
                "framesize": "QVGA", "quality": 50, "fps": 12, "vflip": True, "hmirror": True}}
            assert await peer.text() == _hello(width=320, height=240, framesize="QVGA", quality=50,
                                               fps=12, vflip=True, hmirror=True)
            frames = await peer.frames(25)
            for _, jpeg in frames:
                assert (inspect_jpeg(jpeg).width, inspect_jpeg(jpeg).height) == (320, 240)
            gaps = [b[0] - a[0] for a, b in zip(frames, frames[1:])]
            assert 0.07 < statistics.median(gaps) < 0.1, gaps  # 12 fps

            await ws.send(json.dumps({"type": "config", "framesize": "QXGA", "quality": 101,
                                      "fps": 0, "vflip": "on", "zoom": 2}))
            ack = await peer.text()
            assert ack["applied"] == {}
            assert ack["rejected"] == {
                "framesize": "unknown frame size; this camera offers "
                             + ", ".join(CHOICES["framesize"]),
                "quality": "must be an integer 1-100 (higher is better)",
                "fps": "must be an integer 1-30", "vflip": "must be true or false",
                "zoom": "unknown setting"}
            # junk gets no answer, and the rejected config no hello: the next text message is
            # the ack of the next good config
            await ws.send(json.dumps({"type": "ping"}))
            await ws.send("not json")
            await ws.send(b"\x00binary")
            await ws.send(json.dumps({"type": "config", "quality": 60}))
            assert await peer.text() == {"type": "config_ack", "applied": {"quality": 60},
                                         "rejected": {}}
            assert await peer.text() == _hello(width=320, height=240, framesize="QVGA", quality=60,
                                               fps=12, vflip=True, hmirror=True)
            for _, jpeg in await peer.frames(3):
                assert inspect_jpeg(jpeg).width == 320

    asyncio.run(scenario())


def test_the_server_changes_the_mock_cameras_settings(server, start_camera):
    """Through the real server: POST /api/cameras/<id>/config reaches the camera, the ack and
    the new hello come back, and the stream follows the new size."""
    start_camera(server.camera_url("desk"), "--fps", "15")

    def camera():
        return next((c for c in status(server)["cameras"] if c["id"] == "desk"), None)

    wait_until(lambda: (c := camera()) and c["online"] and c["width"] == 640
               and c["hello"].get("framesize") == "VGA")
    request = urllib.request.Request(
        server.http_url("/api/cameras/desk/config"), method="POST",
        data=json.dumps({"framesize": "QVGA", "fps": 10, "hmirror": True}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 202
    c = wait_until(lambda: (c := camera()) and c["width"] == 320 and c["hello"]["width"] == 320
                   and c["last_config_ack"] and c)
    assert c["last_config_ack"] == {"applied": {"framesize": "QVGA", "fps": 10, "hmirror": True},
                                    "rejected": {}}
    assert (c["hello"]["framesize"], c["hello"]["fps"], c["height"]) == ("QVGA", 10, 240)
