"""The login page and the recordings page in every engine (Chromium, Firefox ESR, WebKitGTK),
at desktop and phone size: each loads and works (the login page shows its error message after a
failed attempt; the recordings page lists the camera's recording of the last seconds and plays a
clip of it), fits the viewport with nothing overlapping or cut off, and is saved as
``test-artifacts/<engine>-<page>-<size>.png`` for a person to look at. (The live pages and the
dashboard are shot by ``test_pages.py``, ``test_dashboard.py`` and ``test_engines.py``.)
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

import conftest
import engines
from engines import DESKTOP, PHONE

SIZES = {"desktop": DESKTOP, "phone": PHONE}
# What a person looks for: items that overlap each other or stick out of the viewport.
ITEMS = ("header.bar > *:not([hidden]), .bar .buttons > *, .day-picker > *, .transport > *, "
         ".camera-row h2 > *, .timeline, p.links a, form.login > *:not([hidden]):not([type=hidden])")
OVERLAPS_JS = """(() => {
  const items = [...document.querySelectorAll(%s)]
    .filter((e) => e.getClientRects().length && getComputedStyle(e).display !== 'none');
  const out = [];
  const boxes = items.map((e) => [e, e.getBoundingClientRect()]);
  const name = (e) => e.id || e.className || e.tagName;
  for (const [e, r] of boxes) {
    if (r.left < -0.5 || r.right > innerWidth + 0.5) out.push(`${name(e)} is cut off`);
  }
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const [a, ra] = boxes[i], [b, rb] = boxes[j];
      if (a.contains(b) || b.contains(a)) continue;
      const x = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
      const y = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
      if (x > 1 && y > 1) out.push(`${name(a)} / ${name(b)}`);
    }
  }
  // The timelines cut off what sticks out of them (their tick labels).
  for (const tick of document.querySelectorAll('.timeline .tick')) {
    const r = tick.getBoundingClientRect(), bar = tick.parentElement.getBoundingClientRect();
    if (r.left < bar.left - 0.5 || r.right > bar.right + 0.5) out.push(`tick ${tick.textContent} is cut off`);
  }
  return out;
})()""" % json.dumps(ITEMS)


def get_json(server, path: str):
    with urllib.request.urlopen(server.http_url(path), timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def recording_server(tmp_path_factory):
    """A server recording its one marked mock camera ("cam1", 640x480, 30 fps), once the
    recording lists a span of a few seconds."""
    record_dir = tmp_path_factory.mktemp("rec")
    server = conftest.ServerProcess("--record", "--record-dir", str(record_dir)).wait_ready()
    camera = conftest.CameraProcess(server.camera_url(), "--camera-id", "cam1", "--mark")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                spans = get_json(server, "/api/recordings/cam1")["spans"]
            except urllib.error.HTTPError as exc:  # 404 until the camera has said hello
                assert exc.code == 404, exc
                spans = []
            if spans and spans[0]["duration"] >= 4:
                break
            assert time.monotonic() < deadline, f"no recording listed: {spans}\n{server.log()}"
            time.sleep(0.2)
        server.span = spans[0]
        yield server
    finally:
        camera.stop()
        assert server.stop() == 0, server.log()


def assert_fits(page, width: int, main: str) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth"), \
        f"{page.engine}: the page is wider than the {width} px viewport"
    box = page.evaluate(f"(() => {{ const r = document.querySelector('{main}')"
                        ".getBoundingClientRect(); return [r.left, r.right, r.width, r.height]; })()")
    assert box[0] >= 0 and box[1] <= width + 0.5 and box[2] > 0 and box[3] > 0, (main, box)
    overlaps = page.evaluate(OVERLAPS_JS)
    assert not overlaps, f"{page.engine}: {overlaps}"


@pytest.mark.parametrize("engine", engines.ALL_ENGINES)
def test_login_and_recordings_pages_fit_in_engine(engine, recording_server, artifacts):
    server = recording_server
    why = engines.missing(engine)
    if why:
        pytest.fail(f"{engine}: {why}", pytrace=False)
    # One second into the recording: the page opens that camera's day and plays from there.
    start = datetime.fromisoformat(server.span["start"].replace("Z", "+00:00"))
    moment = urllib.parse.quote((start + timedelta(seconds=1)).astimezone(timezone.utc)
                                .strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z")
    with engines.launch(engine) as browser:
        page = browser.page
        for size, (width, height) in SIZES.items():
            page.set_viewport(width, height)
            page.goto(server.http_url("/login?next=cameras&error=1"))
            page.wait_for("!document.getElementById('error').hidden "
                          "&& document.getElementById('next').value === 'cameras'")
            page.settle()
            assert_fits(page, width, "form.login")
            # A short form: the page fits the screen without scrolling (it scrolled by the
            # form's top margin, 12% of the screen, in every engine).
            assert page.evaluate("document.documentElement.scrollHeight <= innerHeight"), \
                page.evaluate("[document.documentElement.scrollHeight, innerHeight]")
            page.screenshot(artifacts / f"{engine}-login-{size}.png")

            page.goto(server.http_url(f"/recordings?camera=cam1&t={moment}"))
            page.wait_for("window.recordingsPage && recordingsPage.cameras.length === 1 "
                          "&& document.querySelectorAll('.timeline .span').length >= 2")
            assert page.evaluate("recordingsPage.cameras[0].id") == "cam1"
            # The clip plays: a picture of 640x480 and time moving on.
            page.wait_for("document.getElementById('video').readyState >= 2 "
                          "&& document.getElementById('video').videoWidth === 640")
            played = page.evaluate("document.getElementById('video').currentTime")
            try:
                page.wait_for(f"document.getElementById('video').currentTime > {played}")
            except AssertionError as exc:
                raise AssertionError(f"{exc}; the video: " + json.dumps(page.evaluate(
                    "(() => { const v = document.getElementById('video'); return {paused: "
                    "v.paused, readyState: v.readyState, networkState: v.networkState, "
                    "error: v.error && v.error.message, currentTime: v.currentTime, duration: "
                    "v.duration, buffered: [...Array(v.buffered.length).keys()].map((i) => "
                    "[v.buffered.start(i), v.buffered.end(i)]), src: v.currentSrc, "
                    "status: document.getElementById('status-text').textContent}; })()"))) from None
            assert page.evaluate("document.getElementById('download').getAttribute("
                                 "'aria-disabled')") != "true"
            page.settle()
            assert_fits(page, width, "#video")
            page.screenshot(artifacts / f"{engine}-recordings-{size}.png")
        assert not page.errors, f"uncaught errors in the page: {page.errors}"
