"""The single-camera pages in real headless Chromium (Debian's /usr/bin/chromium driven by
Playwright): the H.264 page on each of its paths (WebCodecs, MSE) and the MJPEG page.

Each test runs the real server and a real camera (``mock_camera.py`` or a small camera written
here), opens a page with ``?camera=...&ws_port=...`` and waits, with timeouts, for what a user
would see: moving video of the right size, statistics that change, recovery without a reload.
Screenshots of the pages go to test-artifacts/ (``chromium-<page>-desktop|phone.png``).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import random
import threading
import time
from unittest import mock

import pytest
from PIL import Image, ImageChops

import conftest
from mock_camera import FrameRenderer, frame_due, read_marker

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--autoplay-policy=no-user-gesture-required"]
# kind: (path, the element showing the picture, query). The H.264 page picks WebCodecs by itself
# where it exists (test_camera_selector_switches_between_cameras checks that); the other tests
# name the path they test.
PAGES = {"webcodecs": ("/", "#canvas", "&mode=webcodecs"), "mse": ("/", "video", "&mode=mse"),
         "mjpeg": ("/mjpeg", "#canvas", "")}
H264 = ("webcodecs", "mse")
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: the page tests need Debian's chromium "
                    "(apt-get install -y chromium; ./test.sh installs it)", pytrace=False)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        # launch() gives every browser a fresh temporary profile (user data dir).
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                             headless=True)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser):
    """Factory: ``new_page(viewport=...)`` -> a Playwright page; uncaught page errors fail."""
    contexts, errors = [], []

    def make(width: int = 1000, height: int = 800, **options):
        context = browser.new_context(viewport={"width": width, "height": height}, **options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


# -- helpers ------------------------------------------------------------------------------------


def open_page(page, server, kind: str, camera: str | None = "cam1", query: str = ""):
    path, _, mode = PAGES[kind]
    args = (f"camera={camera}&" if camera else "") + f"ws_port={server.viewer_port}" + mode + query
    page.goto(server.http_url(f"{path}?{args}"))
    return page


def frames(page) -> int:
    return page.evaluate("window.liveStats.frames")


def wait_frames(page, more_than: int = 0, timeout: float = TIMEOUT_MS) -> int:
    """Wait until the page has shown more than ``more_than`` frames and the light is green."""
    page.wait_for_function(
        "n => window.liveStats && window.liveStats.frames > n "
        "&& document.body.dataset.state === 'live'", arg=more_than, timeout=timeout)
    return frames(page)


def intrinsic_size(page, kind: str) -> tuple[int, int]:
    if kind == "mse":
        return tuple(page.evaluate("[document.querySelector('video').videoWidth, "
                                   "document.querySelector('video').videoHeight]"))
    return tuple(page.evaluate("[document.querySelector('#canvas').width, "
                               "document.querySelector('#canvas').height]"))


def wait_size(page, kind: str, width: int, height: int) -> None:
    element = PAGES[kind][1]
    prop = ("videoWidth", "videoHeight") if kind == "mse" else ("width", "height")
    page.wait_for_function(
        f"([w, h]) => {{ const e = document.querySelector('{element}'); "
        f"return e.{prop[0]} === w && e.{prop[1]} === h; }}", arg=[width, height])


def element_shot(page, kind: str) -> Image.Image:
    return Image.open(io.BytesIO(page.locator(PAGES[kind][1]).screenshot())).convert("RGB")


def assert_moving(page, kind: str) -> Image.Image:
    """Two screenshots of the video element, some frames apart, differ; neither is blank."""
    first = element_shot(page, kind)
    wait_frames(page, frames(page) + 5)
    second = element_shot(page, kind)
    for shot in (first, second):
        low, high = shot.convert("L").getextrema()
        assert high - low > 50, "the picture is blank"
    diff = ImageChops.difference(first, second).convert("L")
    changed = sum(diff.point(lambda v: 255 if v > 24 else 0).histogram()[255:])
    assert changed > 0.01 * diff.width * diff.height, "the picture does not move"
    return second


def stats_text(page) -> dict[str, str]:
    return page.evaluate("Object.fromEntries([...document.querySelectorAll('[data-stat]')]"
                         ".map(e => [e.dataset.stat, e.textContent]))")


def wait_stats_change(page, before: dict[str, str], keys=("frames",)) -> dict[str, str]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        after = stats_text(page)
        if all(after[k] != before[k] for k in keys):
            return after
        page.wait_for_timeout(100)
    raise AssertionError(f"statistics did not change: {before} -> {stats_text(page)}")


def shown_delay(page) -> float | None:
    return page.evaluate("window.liveStats.delayMs")


def restart_on_same_ports(old, start_server, *args):
    """A new server process on ``old``'s ports (``old`` must be stopped)."""
    ports = iter((old.http_port, old.camera_port, old.viewer_port))
    with mock.patch.object(conftest, "free_port", lambda: next(ports)):
        return start_server(*args)


class SwitchingCamera:
    """A marked camera at 30 fps in a thread; ``size`` can be changed while it runs. With
    ``jitter_ms``, each frame leaves late by a random delay (exponential, that mean), in order,
    like a camera on busy Wi-Fi."""

    def __init__(self, url: str, size=(640, 480), fps: float = 30, jitter_ms: float = 0):
        self.url, self.size, self.fps, self.jitter_ms = url, size, fps, jitter_ms
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()

    async def _run(self) -> None:
        from websockets.asyncio.client import connect
        renderers: dict[tuple[int, int], FrameRenderer] = {}
        async with connect(self.url, compression=None, max_size=None) as ws:
            await ws.send(json.dumps({"type": "hello", "board": "test", "fps": self.fps}))
            start = due = time.monotonic()
            rng = random.Random(1)
            while not self._stop.is_set():
                size = self.size
                renderer = renderers.setdefault(size, FrameRenderer(*size, mark=True))
                await ws.send(renderer.render(self.sent, time.monotonic() - start, self.fps))
                self.sent += 1
                due = frame_due(start, self.sent, self.fps, due, self.jitter_ms, rng)
                await asyncio.sleep(max(0.0, due - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def switching_camera():
    cameras: list[SwitchingCamera] = []

    def start(url: str, **kwargs) -> SwitchingCamera:
        camera = SwitchingCamera(url, **kwargs)
        cameras.append(camera)
        return camera

    yield start
    for camera in cameras:
        camera.stop()


def frame_number(shot: Image.Image, height: int = 480) -> int:
    """The bar code of the camera frame in a picture of the element (letterboxed 640x480, as
    object-fit: contain shows it)."""
    gray = shot.convert("L")
    scale = min(gray.width / 640, gray.height / height)
    left, top = (gray.width - 640 * scale) / 2, (gray.height - height * scale) / 2
    return read_marker(lambda x, y: gray.getpixel((int(left + x * scale),
                                                   int(top + y * scale))), height)


def snapshot(page) -> Image.Image:
    """Press the page's Snapshot button; the PNG it saves."""
    with page.expect_download() as download:
        page.click("#snapshot")
    assert download.value.suggested_filename.startswith("cam1-")
    assert download.value.suggested_filename.endswith(".png")
    return Image.open(download.value.path()).convert("RGB")


def shoot(page, artifacts, name: str, full_page: bool = True) -> None:
    page.screenshot(path=str(artifacts / f"chromium-{name}.png"), full_page=full_page)


SHOT_NAMES = {"webcodecs": "h264-webcodecs", "mse": "h264-mse", "mjpeg": "mjpeg"}


# -- tests --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", PAGES)
def test_page_plays_moving_video_with_live_statistics(kind, server, start_camera, new_page,
                                                      artifacts):
    start_camera(server.camera_url(), "--camera-id", "cam1", "--mark")
    page = open_page(new_page(accept_downloads=True), server, kind)
    wait_frames(page, 10)
    assert intrinsic_size(page, kind) == (640, 480)
    shot = assert_moving(page, kind)
    # The bar code of the frame on screen reads back as a frame the camera sent.
    assert 0 < frame_number(shot) < 100_000

    before = stats_text(page)
    after = wait_stats_change(page, before, keys=("frames",))
    page.wait_for_function("window.liveStats.delayMs !== null && window.liveStats.kbps > 0")
    after = stats_text(page)
    assert after["resolution"] == "640×480"
    assert after["status"].startswith("Live"), after
    assert "bit/s" in after["bitrate"] and not after["bitrate"].startswith("0 "), after
    assert 15 <= int(after["fps"]) <= 40, after
    delay = shown_delay(page)
    # Loose bounds (CI machines are slow); the benchmark measures the real numbers.
    assert 0 < delay < (400 if kind == "mse" else 200), after
    assert page.evaluate("document.getElementById('status-light').className") == "light live"
    if kind in H264:
        assert after["codec"].startswith("avc1."), after
    if kind == "webcodecs":
        assert after["path"] == "WebCodecs", after
        assert after["decode"].endswith(" ms"), after
        assert page.locator("video").is_hidden() and page.locator("#canvas").is_visible()
        # Only the figures of the path in use are shown.
        assert page.locator("text=Playback rate").is_hidden()
        assert page.locator("text=Decoder queue").is_visible()
    elif kind == "mse":
        assert after["path"] == "MSE", after
        assert page.evaluate("document.querySelector('video').muted")
        assert page.locator("text=Decoder queue").is_hidden()
    # The plots have a point per half second of the last minute.
    page.wait_for_function("[...document.querySelectorAll('canvas[data-plot]')]"
                           ".every(c => Number(c.dataset.points) >= 3)")
    # Snapshot saves the picture on screen, at the camera's size.
    picture = snapshot(page)
    assert picture.size == (640, 480)
    assert 0 < frame_number(picture) < 100_000
    # Full screen: the picture fills the screen, and comes back.
    page.click("#fullscreen")
    page.wait_for_function("document.fullscreenElement && document.fullscreenElement.id === "
                           "'stage'")
    box = page.locator(PAGES[kind][1]).bounding_box()
    assert (box["width"], box["height"]) == (1000, 800), box
    page.dblclick("#stage")  # (the picture covers the button now; Esc or a double click)
    page.wait_for_function("!document.fullscreenElement")
    # Links to the other views.
    assert page.locator("nav a", has_text="All cameras").is_visible()
    assert page.locator("nav a", has_text="Recordings").is_visible()
    # The screenshot shows the whole page: the settings (loopback may control) and a few
    # seconds of the plots (the MSE page was shot before its settings had come).
    page.locator("#controls").wait_for(state="visible", timeout=10_000)
    page.wait_for_function("[...document.querySelectorAll('canvas[data-plot]')]"
                           ".every(c => Number(c.dataset.points) >= 4)")
    assert_fits(page, PAGES[kind][1], 1000)
    shoot(page, artifacts, f"{SHOT_NAMES[kind]}-desktop")


@pytest.mark.parametrize("kind,grace", [("webcodecs", None), ("mse", None), ("mse", "0.5"),
                                        ("mjpeg", None)],
                         ids=["webcodecs", "mse-encoder-kept", "mse-encoder-restarted", "mjpeg"])
def test_page_recovers_when_the_camera_leaves_and_returns(kind, grace, start_server,
                                                          start_camera, new_page):
    server = start_server(*(("--grace", grace) if grace else ()))
    camera = start_camera(server.camera_url(), "--camera-id", "cam1", "--mark")
    page = open_page(new_page(), server, kind)
    wait_frames(page, 10)
    camera.stop()
    page.wait_for_function("document.getElementById('status-text').textContent"
                           ".includes('offline')")
    if grace:
        server.wait_for_log("stopping its encoder")
    shown = frames(page)
    page.wait_for_timeout(300)
    assert frames(page) <= shown + 1, "frames kept coming without a camera"
    assert page.evaluate("document.body.dataset.state") == "wait"

    start_camera(server.camera_url(), "--camera-id", "cam1", "--mark")
    wait_frames(page, frames(page) + 10)
    assert_moving(page, kind)
    assert intrinsic_size(page, kind) == (640, 480)
    page.wait_for_function("window.liveStats.delayMs !== null && window.liveStats.delayMs < 400")


@pytest.mark.parametrize("kind", PAGES)
def test_page_follows_a_resolution_change(kind, server, switching_camera, new_page):
    camera = switching_camera(server.camera_url("cam1"))
    page = open_page(new_page(), server, kind)
    wait_frames(page, 10)
    assert intrinsic_size(page, kind) == (640, 480)
    camera.size = (800, 600)
    wait_size(page, kind, 800, 600)
    wait_frames(page, frames(page) + 10)
    assert_moving(page, kind)
    page.wait_for_function("document.querySelector('[data-stat=resolution]').textContent"
                           " === '800×600'")
    if kind in H264:
        # 800x600 needs level 3.1: a new codec string, so MSE had to changeType() and WebCodecs
        # to configure its decoder again.
        assert stats_text(page)["codec"] == "avc1.42c01f"
    page.wait_for_function("window.liveStats.delayMs !== null && window.liveStats.delayMs < 400")


@pytest.mark.parametrize("kind", H264)
def test_h264_page_shows_a_jittery_cameras_frames(kind, server, switching_camera, new_page):
    """Frames that arrive late and then in bursts must all play. (MSE drops everything up to the
    next keyframe after a frame that starts over twice the previous frame's declared duration
    late; with durations guessed from the last interval, a few of 30 frames a second were left.
    WebCodecs must not take a burst for a decoder that cannot keep up.)"""
    switching_camera(server.camera_url("cam1"), jitter_ms=15)
    page = open_page(new_page(), server, kind)
    wait_frames(page, 10)
    start = frames(page)
    page.wait_for_timeout(3000)
    shown = (frames(page) - start) / 3
    # Frames of a burst that land within one display refresh cannot all be shown: 27-28 of 30
    # here (15 with the old durations in this test, 3.5 over 30 s in the benchmark).
    assert shown >= 22, f"{shown:.1f} frames/s shown"
    if kind == "mse":
        assert page.evaluate("window.livePlayer.seeks") <= 2
    else:
        assert page.evaluate("window.livePlayer.lateDrops") == 0, stats_text(page)


def test_webcodecs_drops_frames_instead_of_queueing_them_on_a_slow_cpu(server, start_camera,
                                                                      new_page):
    """With the page's CPU throttled 20 times (DevTools' Emulation.setCPUThrottlingRate: the
    main thread, where decoded frames are delivered and drawn, runs at 1/20 speed) the decoder
    cannot keep up with 30 fps. The page must drop frames and stay near the live edge; queueing
    them made the delay grow by about a second per second (9 s after 12 s, measured with the
    drop policy switched off). When the CPU is back, it plays every frame again."""
    start_camera(server.camera_url(), "--camera-id", "cam1", "--mark")
    page = open_page(new_page(), server, "webcodecs")
    wait_frames(page, 30)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": 20})
    delays, queue = [], []
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        # Playwright's calls wait for the throttled page too: no fixed rate of samples.
        delay, in_flight = page.evaluate("[liveStats.lastDelayMs, livePlayer.inFlight.length]")
        delays.append(delay)
        queue.append(in_flight)
        time.sleep(0.25)
    late = page.evaluate("livePlayer.lateDrops")
    dropped = page.evaluate("livePlayer.framesDropped")
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": 1})
    assert late >= 2 and dropped > 30, (late, dropped, delays)
    tail = [d for d in delays[len(delays) // 2:] if d is not None]
    assert tail and max(tail) < 1000, delays
    assert max(queue) <= 12, queue
    # Back to normal: full rate at a low delay again.
    page.wait_for_function("window.liveStats.fps >= 20 && window.liveStats.delayMs < 100",
                           timeout=15_000)


@pytest.mark.parametrize("kind", PAGES)
def test_page_reconnects_after_a_server_restart(kind, start_server, start_camera, new_page):
    server = start_server()
    start_camera(server.camera_url(), "--camera-id", "cam1", "--mark")
    page = open_page(new_page(), server, kind)
    page.evaluate("window.__loaded = true")  # gone if the page reloaded
    wait_frames(page, 10)
    assert server.stop() == 0
    page.wait_for_function("document.body.dataset.state === 'error'")
    restart_on_same_ports(server, start_server)
    wait_frames(page, frames(page) + 20)
    assert_moving(page, kind)
    assert page.evaluate("window.__loaded === true")
    page.wait_for_function("window.liveStats.delayMs !== null && window.liveStats.delayMs < 400")


def test_camera_selector_switches_between_cameras(server, start_camera, new_page):
    """Also: without ?mode= the H.264 page takes the WebCodecs path where it exists (Chromium on
    http://127.0.0.1, a secure context), asking the server for no repeats."""
    start_camera(server.camera_url(), "--camera-id", "cam1", "--mark")
    start_camera(server.camera_url(), "--camera-id", "cam2", "--width", "320", "--height", "240")
    page = new_page()
    sockets = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto(server.http_url(f"/?camera=cam1&ws_port={server.viewer_port}"))
    wait_frames(page, 5)
    assert stats_text(page)["path"] == "WebCodecs"
    assert sockets[0].endswith("/cam1?format=fmp4&repeats=0"), sockets
    page.wait_for_function("document.querySelectorAll('#camera-select option').length === 2")
    assert page.locator("#camera-select").is_visible()
    page.select_option("#camera-select", "cam2")
    wait_size(page, "webcodecs", 320, 240)
    wait_frames(page, 10)
    assert "camera=cam2" in page.url
    assert page.locator("#status-text").text_content() == "Live: cam2"


def test_connect_button_and_autoconnect_off(server, start_camera, new_page):
    start_camera(server.camera_url(), "--camera-id", "cam1")
    page = open_page(new_page(), server, "mjpeg", query="&autoconnect=0")
    page.wait_for_timeout(500)
    assert frames(page) == 0 and page.locator("#connect").text_content() == "Connect"
    page.click("#connect")
    wait_frames(page, 5)
    assert page.locator("#connect").text_content() == "Disconnect"
    page.click("#connect")
    page.wait_for_function("document.body.dataset.state === 'off'")
    stopped = frames(page)
    page.wait_for_timeout(300)
    assert frames(page) == stopped
    page.click("#connect")
    wait_frames(page, stopped + 5)


@pytest.mark.parametrize("kind", PAGES)
def test_page_fits_a_phone_screen(kind, server, start_camera, new_page, artifacts):
    start_camera(server.camera_url(), "--camera-id", "cam1")
    page = open_page(new_page(390, 844, is_mobile=True, has_touch=True, device_scale_factor=2),
                     server, kind)
    wait_frames(page, 5)
    # Everything there before the picture is taken: the settings (loopback may control) and
    # a few seconds of the plots.
    page.locator("#controls").wait_for(state="visible", timeout=10_000)
    page.wait_for_function("[...document.querySelectorAll('canvas[data-plot]')]"
                           ".every(c => Number(c.dataset.points) >= 4)")
    assert_fits(page, PAGES[kind][1], 390)
    shoot(page, artifacts, f"{SHOT_NAMES[kind]}-phone")


def assert_fits(page, selector: str, width: int) -> None:
    """Nothing wider than the viewport; the picture, the controls and every statistic are
    inside it and none of the header's controls overlap."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    box = page.locator(selector).bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width and box["height"] >= 150
    for control in ("#connect", "#snapshot", "#fullscreen", "#status-light"):
        assert page.locator(control).is_visible()
    overlaps = page.evaluate(OVERLAPS_JS)
    assert not overlaps, overlaps


# Pairs of visible header items, statistics cells and plots whose boxes overlap, and items that
# stick out of the viewport: what a person looks for in the screenshots.
OVERLAPS_JS = """(() => {
  const items = [...document.querySelectorAll(
      '.bar > *:not([hidden]), .bar .buttons > *, .stats > div, .plots > figure, .nav a')]
    .filter((e) => e.getClientRects().length && getComputedStyle(e).display !== 'none');
  const out = [];
  const boxes = items.map((e) => [e, e.getBoundingClientRect()]);
  for (const [e, r] of boxes) {
    if (r.left < -0.5 || r.right > innerWidth + 0.5) out.push(`${e.id || e.className || e.tagName} is cut off`);
  }
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const [a, ra] = boxes[i], [b, rb] = boxes[j];
      if (a.contains(b) || b.contains(a)) continue;
      const x = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
      const y = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
      if (x > 1 && y > 1) out.push(`${a.id || a.className || a.tagName} / ${b.id || b.className || b.tagName}`);
    }
  }
  return out;
})()"""
