"""The recordings page and the live pages' recording indicator in real headless Chromium (Debian's
chromium driven by Playwright, as in tests/test_pages.py), against a real recording server."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from recording_helpers import (camera_status, get, read, recording_server, segment_files,
                               wait_until)
from test_pages import browser, new_page  # noqa: F401  (the page tests' Chromium fixtures)

CONFIG = """
[recording]
min_free_bytes = "10M"
[camera."*"]
record = "continuous"
segment_seconds = 2
"""


def playing(page, beyond: float = 0.5) -> None:
    page.wait_for_function(
        "t => { const v = document.querySelector('video'); return v.readyState >= 3 && "
        "!v.paused && v.currentTime > t && v.videoWidth > 0; }", arg=beyond)


def test_the_recordings_page_plays_a_clip_steps_and_downloads(start_server, start_camera,
                                                               tmp_path, new_page, artifacts):
    server, record_dir = recording_server(start_server, tmp_path, CONFIG)
    camera = start_camera(server.camera_url("cam"))
    wait_until(lambda: len(segment_files(record_dir, "cam")) >= 7, 60)  # 12 s and more
    camera.stop()
    wait_until(lambda: camera_status(server, "cam")["recording"]["state"] == "waiting", 10)
    page = new_page()
    clip_responses = []
    page.on("response", lambda r: "clip.mp4" in r.url and clip_responses.append(
        (r.request.method, r.status, r.request.headers.get("range"))))
    page.goto(server.http_url("/recordings?camera=cam"))
    span = page.locator(".camera-row.selected .timeline:not(.zoom) .span")
    span.first.wait_for()
    span.first.click()  # a few seconds on a 24 h bar: a few pixels
    playing(page)
    assert page.evaluate("[document.querySelector('video').videoWidth, "
                         "document.querySelector('video').videoHeight]") == [640, 480]
    shot = Image.open(io.BytesIO(page.locator("video").screenshot())).convert("L")
    low, high = shot.getextrema()
    assert high - low > 50, "the picture is blank"
    page.screenshot(path=str(artifacts / "recordings_page.png"))
    # The position, the cursor and the download link follow the clip.
    assert page.locator("#position").inner_text().startswith("cam · ")
    assert page.locator(".timeline .cursor:not([hidden])").count() >= 1
    href = page.get_attribute("#download", "href")
    assert "download=1" in href and "clip.mp4?start=" in href
    status, headers, _ = get(server, "/" + href.lstrip("/"))
    assert status == 200 and headers["Content-Disposition"].startswith("attachment")
    # Clicking a span a few pixels wide plays it from its start (the keyframe at or before).
    clip_start, span_start = page.evaluate("[window.recordingsPage.clip.start, "
                                           "window.recordingsPage.cameras[0].spans[0].start]")
    assert 0 <= span_start - clip_start < 0.01 or 0 <= clip_start - span_start < 1.1
    # Steps of 10 s, inside the clip: the video seeks.
    page.evaluate("document.querySelector('video').pause()")
    before = page.evaluate("document.querySelector('video').currentTime")
    page.click("#fwd-10")
    page.wait_for_function(f"() => document.querySelector('video').currentTime > {before + 9}")
    page.click("#back-10")
    page.wait_for_function(f"() => document.querySelector('video').currentTime < {before + 1}")
    # Seeking in the plain <video>: Chromium asks for byte ranges, the server answers 206.
    page.evaluate("() => { const v = document.querySelector('video'); "
                  "v.currentTime = Math.max(0, v.duration - 1.5); v.play(); }")
    page.wait_for_function("() => { const v = document.querySelector('video'); "
                           "return v.ended || v.currentTime > v.duration - 1.2; }")
    print("clip requests:", clip_responses)
    assert ("HEAD", 200, None) in clip_responses
    assert any(status == 206 and rng for method, status, rng in clip_responses
               if method == "GET"), clip_responses


def test_the_recordings_page_fits_a_phone(start_server, start_camera, tmp_path, new_page):
    server, record_dir = recording_server(start_server, tmp_path, CONFIG)
    camera = start_camera(server.camera_url("cam"))
    wait_until(lambda: len(segment_files(record_dir, "cam")) >= 2, 40)
    page = new_page(390, 844, is_mobile=True, has_touch=True, device_scale_factor=2)
    page.goto(server.http_url("/recordings?camera=cam"))
    page.locator(".camera-row.selected .timeline.zoom .span").first.wait_for()
    assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
    box = page.locator(".camera-row.selected .timeline:not(.zoom)").bounding_box()
    assert box["width"] > 300 and box["height"] >= 32  # thumb-sized, full width
    page.locator(".camera-row.selected .timeline.zoom .span").first.tap()
    playing(page, 0.2)
    camera.stop()


@pytest.mark.parametrize("path", ["/", "/mjpeg"])
def test_live_pages_show_recording_and_link_to_recordings(start_server, start_camera, tmp_path,
                                                           new_page, path):
    server, record_dir = recording_server(start_server, tmp_path, CONFIG)
    start_camera(server.camera_url("cam"))
    wait_until(lambda: camera_status(server, "cam").get("recording", {}).get("state")
               == "recording", 30)
    page = new_page()
    page.goto(server.http_url(f"{path}?camera=cam&ws_port={server.viewer_port}"))
    rec = page.locator("#rec")
    page.wait_for_function("() => !document.getElementById('rec').hidden && "
                           "document.getElementById('rec').dataset.state === 'recording'")
    assert rec.inner_text() == "● REC"
    link = page.locator(".links a", has_text="recordings")
    assert "/recordings?camera=cam" in link.get_attribute("href")
    link.click()
    page.wait_for_url("**/recordings?*camera=cam*")
    page.locator(".camera-row.selected h2").wait_for()


def test_a_segment_file_plays_on_its_own_in_the_browser(start_server, start_camera, tmp_path,
                                                        new_page):
    """A recorded file as it is on disk (fragmented, prft boxes and all), served as a plain
    file: Chromium plays it from its first frame to its end."""
    import functools
    import http.server
    import threading

    server, record_dir = recording_server(start_server, tmp_path, CONFIG)
    camera = start_camera(server.camera_url("cam"))
    wait_until(lambda: len(segment_files(record_dir, "cam")) >= 2, 40)
    camera.stop()
    path = segment_files(record_dir, "cam")[0]
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(path.parent))
    files = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=files.serve_forever, daemon=True)
    thread.start()
    try:
        page = new_page()
        page.goto(f"http://127.0.0.1:{files.server_port}/")
        page.set_content(f'<video id="v" muted autoplay src="http://127.0.0.1:'
                         f'{files.server_port}/{path.name}"></video>')
        page.wait_for_function("() => document.getElementById('v').ended")
        played = page.evaluate("[document.getElementById('v').duration, "
                               "document.getElementById('v').videoWidth, "
                               "document.getElementById('v').getVideoPlaybackQuality()"
                               ".totalVideoFrames]")
        print("segment in Chromium: duration, width, frames", played)
        assert abs(played[0] - read(path).duration) < 0.05 and played[1] == 640
        assert played[2] >= len(read(path).samples) - 2
    finally:
        files.shutdown()
