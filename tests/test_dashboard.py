"""The dashboard (/cameras) in headless Chromium: nine real mock cameras (640x480, 10 fps), nine
live tiles on a wall screen, a click opens one camera, a phone shows one column and streams only
the tiles in view."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from test_pages import OVERLAPS_JS, browser, new_page, shoot  # noqa: F401

CAMERAS = [f"cam{n}" for n in range(1, 10)]
WALL = (1920, 1080)
PHONE = (390, 844)

TILES_JS = """Object.fromEntries([...window.dashboard.tiles.values()].map(t => [t.id, {
  state: t.element.dataset.state, fps: t.stats.fps, delay: t.stats.delayMs,
  drawn: t.framesDrawn, streaming: t.connection.wanted,
  visible: t.visible}]))"""


@pytest.fixture(scope="module")
def nine_cameras():
    import conftest
    server = conftest.ServerProcess().wait_ready()
    cameras = [conftest.CameraProcess(server.camera_url(), "--camera-id", camera, "--fps", "10",
                                      "--width", "640", "--height", "480")
               for camera in CAMERAS]
    yield server
    for camera in cameras:
        camera.stop()
    assert server.stop() == 0, server.log()


def tiles(page) -> dict:
    return page.evaluate(TILES_JS)


def test_nine_cameras_are_nine_live_tiles_on_a_wall_screen(nine_cameras, new_page, artifacts):
    server = nine_cameras
    page = new_page(*WALL)
    page.goto(server.http_url("/cameras"))
    # Every tile live: its camera's pictures arrive at (about) the camera's rate.
    page.wait_for_function(
        "window.dashboard && window.dashboard.tiles.size === 9 && [...window.dashboard.tiles"
        ".values()].every(t => t.element.dataset.state === 'live' && t.stats.fps >= 7)",
        timeout=45_000)
    before = tiles(page)
    page.wait_for_timeout(2000)  # a measurement window: frames drawn in 2 s
    after = tiles(page)
    for camera in CAMERAS:
        drawn = after[camera]["drawn"] - before[camera]["drawn"]
        assert drawn >= 12, (camera, drawn, after[camera])  # 10 fps: 20 in 2 s
        assert after[camera]["delay"] is not None and 0 < after[camera]["delay"] < 500, after
    # In name order, each with its name, figures and a picture that is not blank.
    order = page.evaluate("[...document.querySelectorAll('.tile')].map(t => t.dataset.camera)")
    assert order == CAMERAS
    texts = page.evaluate("[...document.querySelectorAll('.tile')].map(t => t.innerText)")
    for camera, text in zip(CAMERAS, texts):
        assert camera in text and " fps" in text and " ms" in text and "viewer" in text, text
    assert page.locator("#summary").text_content() == "9 cameras, 9 online"
    for camera in ("cam1", "cam9"):
        shot = Image.open(io.BytesIO(page.locator(f".tile[data-camera={camera}] canvas")
                                     .screenshot())).convert("L")
        low, high = shot.getextrema()
        assert high - low > 50, f"{camera}: blank picture"
    # All nine on one screen, nothing overlapping or cut off.
    assert page.evaluate("document.documentElement.scrollHeight <= innerHeight")
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    assert not page.evaluate(OVERLAPS_JS)
    shoot(page, artifacts, "cameras-wall", full_page=False)

    # The server counts this page as a viewer of each camera.
    page.wait_for_function("[...document.querySelectorAll('[data-f=viewers]')]"
                           ".every(e => e.textContent === '1 viewer')")

    # A click opens that camera's live page.
    page.click(".tile[data-camera=cam5]")
    page.wait_for_url(server.http_url("/?camera=cam5"))
    page.wait_for_function("window.liveStats && window.liveStats.frames > 5 "
                           "&& document.body.dataset.state === 'live'")
    assert page.locator("#status-text").text_content() == "Live: cam5"


def test_dashboard_on_desktop_and_phone(nine_cameras, new_page, artifacts):
    server = nine_cameras
    page = new_page(1000, 800)
    page.goto(server.http_url("/cameras"))
    # All nine tiles are in view at 1000x800 (four columns), and all must be live. (Filtering
    # on t.visible passed on an empty list before the page had measured what is in view: the
    # screenshot showed nine "Waiting for video" tiles.)
    page.wait_for_function("window.dashboard && window.dashboard.tiles.size === 9 && "
                           "[...window.dashboard.tiles.values()]"
                           ".every(t => t.visible && t.element.dataset.state === 'live' && "
                           "t.stats.fps >= 7 && t.camera.viewers >= 1)", timeout=45_000)
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    assert not page.evaluate(OVERLAPS_JS)
    shoot(page, artifacts, "cameras-desktop", full_page=False)

    phone = new_page(*PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    phone.goto(server.http_url("/cameras"))
    phone.wait_for_function("window.dashboard && window.dashboard.tiles.size === 9 && "
                            "window.dashboard.tiles.get('cam1').element.dataset.state === 'live'",
                            timeout=45_000)
    # One column, as wide as the screen.
    boxes = [phone.locator(f".tile[data-camera={c}]").bounding_box() for c in ("cam1", "cam2")]
    assert boxes[0]["x"] == boxes[1]["x"] and boxes[1]["y"] > boxes[0]["y"]
    assert boxes[0]["x"] >= 0 and boxes[0]["x"] + boxes[0]["width"] <= PHONE[0]
    assert phone.evaluate("document.documentElement.scrollWidth <= innerWidth")
    assert not phone.evaluate(OVERLAPS_JS)
    # Tiles out of view do not stream; scrolled into view, they do.
    state = tiles(phone)
    assert state["cam1"]["streaming"] and not state["cam9"]["streaming"], state
    assert phone.locator(".tile[data-camera=cam9] .overlay").text_content() in ("Paused", "")
    shoot(phone, artifacts, "cameras-phone", full_page=False)
    phone.locator(".tile[data-camera=cam9]").scroll_into_view_if_needed()
    phone.wait_for_function("window.dashboard.tiles.get('cam9').element.dataset.state === 'live'"
                            " && !window.dashboard.tiles.get('cam1').connection.wanted")
