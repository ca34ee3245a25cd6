"""HLS on the HTTP port with access control: the playlist needs ``read``; a camera anonymous
callers may not read gets signed segment links that work without credentials (so a shared cache
can hold them), and only for that segment, until they expire."""

from __future__ import annotations

import base64
import os
import re
import stat
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from camserver.access.signing import KEY_FILE, UrlSigner
from live_helpers import camera_status, wait_until

CONFIG = """
[[user]]
name = "alice"
password = "alice-password-1"
allow = ["read:*"]

[[token]]
token = "camera-token-0123456789"
allow = ["publish:*"]

[anonymous]
allow = ["read:open", "status"]

[camera.private]
[camera.open]
"""

BASIC = {"Authorization": "Basic " + base64.b64encode(b"alice:alice-password-1").decode()}


def fetch(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def uris(playlist: str) -> list[str]:
    return re.findall(r'URI="([^"]+)"', playlist) + [
        line for line in playlist.splitlines() if line and not line.startswith("#")]


@pytest.fixture
def site(start_server, start_camera, tmp_path):
    config = tmp_path / "camserver.toml"
    config.write_text(CONFIG)
    config.chmod(0o600)
    state = tmp_path / "state"
    server = start_server("--config", str(config), "--state-dir", str(state))
    for camera in ("private", "open"):
        start_camera(server.camera_url(camera) + "?token=camera-token-0123456789",
                     "--width", "320", "--height", "240", "--fps", "15")
    for camera in ("private", "open"):
        wait_until(lambda: camera_status(server, camera).get("frames_encoded"), 30)
    return server, state


def test_a_private_camera_gets_signed_links_that_need_no_credentials(site):
    server, state = site
    playlist_url = server.http_url("/stream/private/index.m3u8")
    status, headers, _ = fetch(playlist_url)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
    assert not (state / KEY_FILE).exists()  # no key until a link is signed

    status, headers, body = fetch(playlist_url, BASIC)
    assert status == 200, body
    assert headers["Content-Type"].startswith("application/vnd.apple.mpegurl")
    assert headers["Cache-Control"] == "private, max-age=1"
    links = uris(body.decode())
    assert links and all(re.fullmatch(r"[a-z2-7]{8}-(init)?\d+\.(m4s|mp4)\?e=\d+&s=[\w-]+", u)
                         for u in links), links
    assert stat.S_IMODE(os.stat(state / KEY_FILE).st_mode) == 0o600

    base = server.http_url("/stream/private/")
    for link in links:  # no credentials, no cookie
        status, headers, data = fetch(base + link)
        assert status == 200 and data, (link, status)
        assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert headers["Content-Type"] == "video/mp4"

    name, query = links[-1].split("?")
    expires = urllib.parse.parse_qs(query)["e"][0]
    other = uris(body.decode())[-2].split("?")[0]
    refused = {
        "no signature": name,
        "another segment's signature": f"{other}?{query}",
        "a changed expiry": f"{name}?{query.replace(f'e={expires}', f'e={int(expires) + 30}')}",
    }
    for why, link in refused.items():
        status, headers, text = fetch(base + link)
        assert status == 403, (why, status)
        assert headers["Cache-Control"] == "no-store"

    # An expired link (signed with the server's own key, read from its state directory).
    signer = UrlSigner((state / KEY_FILE).read_bytes())
    past = signer.query("private", name, int(time.time()) - 1)
    status, _, text = fetch(f"{base}{name}?{past}")
    assert status == 403 and b"expired" in text
    # And one that is still valid from the same key: the server takes it.
    assert fetch(f"{base}{name}?{signer.query('private', name, int(time.time()) + 60)}")[0] \
        == 200

    expiry = int(expires) - time.time()
    assert 0 < expiry <= 90, expiry  # short-lived: a minute after the segment was made


def test_the_signing_key_survives_a_restart(site, start_server, tmp_path):
    server, state = site
    status, _, body = fetch(server.http_url("/stream/private/index.m3u8"), BASIC)
    assert status == 200
    link = uris(body.decode())[-1]
    key = (state / KEY_FILE).read_bytes()
    assert server.stop() == 0
    again = start_server("--config", str(tmp_path / "camserver.toml"), "--state-dir", str(state))
    assert (state / KEY_FILE).read_bytes() == key
    # The segment itself is gone (segments live in memory; names never repeat), but its link
    # still passes the signature check: 404, not 403.
    status, headers, _ = fetch(again.http_url("/stream/private/" + link))
    assert status == 404 and headers["Cache-Control"] == "no-store"


def test_an_open_camera_gets_plain_links_and_a_public_playlist(site):
    server, state = site
    status, headers, body = fetch(server.http_url("/stream/open/index.m3u8"))
    assert status == 200
    assert headers["Cache-Control"] == "public, max-age=1"
    links = uris(body.decode())
    assert links and all("?" not in link for link in links)
    for link in links:
        status, headers, _ = fetch(server.http_url("/stream/open/" + link))
        assert status == 200 and headers["Cache-Control"].endswith("immutable")
    assert not (state / KEY_FILE).exists()
    hls = camera_status(server, "open")["hls"]
    assert hls["active"] and hls["playlist_requests"] == 1
    assert hls["segment_requests"] == len(links)


def test_unknown_cameras_and_segments(site):
    server, _ = site
    assert fetch(server.http_url("/stream/nobody/index.m3u8"), BASIC)[0] == 404  # undeclared
    assert fetch(server.http_url("/stream/open/abcdefgh-1.m4s"))[0] == 404
    assert fetch(server.http_url("/stream/open/..%2Fstatus"))[0] == 404
    assert fetch(server.http_url("/stream/open/index.m3u8"))[0] == 200
    assert fetch(server.http_url("/stream/open/abcdefgh-99999.m4s"))[0] == 404


def test_a_signature_covers_camera_name_and_expiry():
    signer = UrlSigner(b"k" * 32, clock=lambda: 1000)
    query = dict(urllib.parse.parse_qsl(signer.query("cam", "abcdefgh-1.m4s", 1060)))
    assert signer.check("cam", "abcdefgh-1.m4s", query) is None
    assert signer.check("other", "abcdefgh-1.m4s", query) == "bad signature"
    assert signer.check("cam", "abcdefgh-2.m4s", query) == "bad signature"
    assert signer.check("cam", "abcdefgh-1.m4s", dict(query, e="1090")) == "bad signature"
    assert UrlSigner(b"j" * 32).check("cam", "abcdefgh-1.m4s", query) == "bad signature"
    assert "expired" in UrlSigner(b"k" * 32, clock=lambda: 1061).check(
        "cam", "abcdefgh-1.m4s", query)
    assert signer.check("cam", "abcdefgh-1.m4s", {"e": "x", "s": "y"}) == "bad link"
