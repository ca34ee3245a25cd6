"""Camera settings in the H.264 page, in headless Chromium, with a config file of two users:
alice may ``control`` the camera and changes the real mock camera's resolution from the page,
which shows the camera's answer; bob may only watch and sees no settings at all."""

from __future__ import annotations

import pytest

from test_pages import (SHOT_NAMES, assert_fits, browser, new_page, shoot, stats_text,  # noqa: F401
                        wait_frames)

CONFIG = """
[anonymous]
allow = ["publish"]

[[user]]
name = "alice"
password = "alice-secret"
allow = ["read:*", "control:*", "playback:*"]

[[user]]
name = "bob"
password = "bob-secret"
allow = ["read:*"]
"""


@pytest.fixture
def two_users(start_server, start_camera, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    # Logins are kept in the state directory: a temporary one, not the worktree's state/.
    server = start_server("--config", str(config), "--state-dir", str(tmp_path / "state"))
    start_camera(server.camera_url(), "--camera-id", "cam1", "--mark", "--framesize", "VGA")
    return server


def log_in(page, server, user: str, next_page: str) -> None:
    page.goto(server.http_url(f"/login?next={next_page}"))
    page.fill("#name", user)
    page.fill("#password", f"{user}-secret")
    page.click("button[type=submit]")
    page.wait_for_url(server.http_url(f"/{next_page}"))  # "?camera=..." opens "/?camera=..."


def test_a_user_with_control_changes_the_cameras_resolution_and_sees_its_answer(
        two_users, new_page, artifacts):
    server = two_users
    page = new_page()
    log_in(page, server, "alice", "?camera=cam1")
    wait_frames(page, 10)
    assert stats_text(page)["resolution"] == "640×480"
    controls = page.locator("#controls")
    controls.wait_for(state="visible")
    page.click("#controls summary")
    form = page.locator("#controls form")
    # The camera's choices and current settings, from its hello.
    assert form.locator("select[name=framesize]").input_value() == "VGA"
    sizes = form.locator("select[name=framesize] option").all_text_contents()
    assert sizes[:2] == ["QQVGA", "QCIF"] and "SVGA" in sizes and "HD" in sizes
    assert form.locator("input[name=quality]").input_value() == "80"
    assert form.locator("input[name=fps]").get_attribute("max") == "30"
    assert not form.locator("input[name=vflip]").is_checked()

    form.locator("select[name=framesize]").select_option("SVGA")
    form.locator("input[name=hmirror]").check()
    form.locator("button[type=submit]").click()
    answer = page.locator("#controls .answer")
    page.wait_for_function("document.querySelector('#controls .answer').dataset.state "
                           "=== 'applied'")
    assert answer.text_content() == "Applied: frame size SVGA, mirror on."
    # The mock camera now sends 800x600, and the page follows.
    page.wait_for_function("document.querySelector('#canvas').width === 800 "
                           "&& document.querySelector('#canvas').height === 600")
    wait_frames(page, page.evaluate("liveStats.frames") + 5)
    page.wait_for_function("document.querySelector('[data-stat=resolution]').textContent"
                           " === '800×600'")
    # The camera's new hello came over the viewer socket: the form shows its settings.
    page.wait_for_function("document.querySelector('#controls input[name=hmirror]').checked")
    assert form.locator("select[name=framesize]").input_value() == "SVGA"
    shoot(page, artifacts, "h264-settings-desktop")

    # A size the server knows but this camera does not offer: the camera's reason is shown.
    page.evaluate("document.querySelector('#controls select[name=framesize]')"
                  ".append(new Option('UXGA', 'UXGA'))")
    form.locator("select[name=framesize]").select_option("UXGA")
    form.locator("button[type=submit]").click()
    page.wait_for_function("document.querySelector('#controls .answer').dataset.state "
                           "=== 'rejected'")
    assert answer.text_content().startswith(
        "Rejected frame size: unknown frame size; this camera offers QQVGA, QCIF"), \
        answer.text_content()
    assert page.evaluate("document.querySelector('#canvas').width") == 800

    page.set_viewport_size({"width": 390, "height": 844})
    assert_fits(page, "#canvas", 390)
    shoot(page, artifacts, "h264-settings-phone")


def test_a_user_without_control_sees_no_settings(two_users, new_page, artifacts):
    server = two_users
    page = new_page()
    log_in(page, server, "bob", "?camera=cam1")
    wait_frames(page, 10)
    page.wait_for_function("document.getElementById('user').textContent === 'bob'")
    listing = page.evaluate("fetch('api/cameras').then(r => r.json())")
    camera = listing["cameras"][0]
    assert camera["actions"] == ["read"] and "settings" not in camera, camera
    assert page.locator("#controls").is_hidden()
    assert page.locator("#controls form *").count() == 0
    assert page.locator("text=Camera settings").is_hidden()
    # The MJPEG page neither.
    page.goto(server.http_url("/mjpeg?camera=cam1"))
    wait_frames(page, 5)
    page.wait_for_function("document.getElementById('user').textContent === 'bob'")
    assert page.locator("#controls").is_hidden()
    assert page.locator("#controls form *").count() == 0

