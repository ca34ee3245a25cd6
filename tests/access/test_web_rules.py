"""The HTTP port's pure access helpers: where to go after logging in, and who gets a Basic
challenge (programs) or a plain 401 (a page's script, whose browser would otherwise pop up its
own password dialog)."""

import pytest
from aiohttp.test_utils import make_mocked_request

from camserver.web.access import from_a_script, login_location, safe_next


@pytest.mark.parametrize("value, target", [
    ("", "./"),
    (None, "./"),
    ("mjpeg?camera=desk", "mjpeg?camera=desk"),
    ("recordings?camera=desk&day=2026-11-30", "recordings?camera=desk&day=2026-11-30"),
    ("?camera=desk", "./?camera=desk"),          # the H.264 page is / itself
    ("//evil.example/x", "./"),
    ("/\\evil.example", "./"),
    ("\\\\evil.example", "./"),
    ("https://evil.example", "./"),
    ("https:evil.example", "./"),
    ("javascript:alert(1)", "./"),
    ("\t//evil.example/x", "./"),                # browsers drop the tab: //evil.example/x
    ("/\t/evil.example", "./"),
    (" //evil.example", "./"),
    ("\x01//evil.example", "./"),
    ("\n//evil.example", "./"),
    ("mjpeg?camera=desk\x7f", "./"),
])
def test_after_login_only_a_relative_place_on_this_server(value, target):
    assert safe_next(value) == target


def test_the_login_page_gets_the_page_to_come_back_to():
    assert login_location(make_mocked_request("GET", "/mjpeg?camera=desk")) == \
        "login?next=mjpeg%3Fcamera%3Ddesk"
    assert login_location(make_mocked_request("GET", "/?camera=desk")) == \
        "login?next=%3Fcamera%3Ddesk"


@pytest.mark.parametrize("headers, script", [
    ({}, False),                                           # ffmpeg, VLC, Home Assistant, curl
    ({"Sec-Fetch-Mode": "navigate"}, False),               # an address typed in the browser
    ({"Sec-Fetch-Mode": "websocket"}, False),
    ({"Sec-Fetch-Mode": "cors"}, True),                    # fetch() from a page
    ({"Sec-Fetch-Mode": "same-origin"}, True),
    ({"Sec-Fetch-Mode": "no-cors"}, True),
])
def test_a_pages_script_is_told_apart_from_programs(headers, script):
    assert from_a_script(make_mocked_request("GET", "/api/cameras", headers=headers)) is script
