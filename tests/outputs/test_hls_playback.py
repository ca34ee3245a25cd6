"""HLS from a real server: the real FFmpeg plays the live playlist, and Debian's nginx, as a
caching proxy in front, carries 200 players for about one origin request per segment."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import subprocess
import tempfile
import time

import aiohttp
import pytest

from conftest import ffprobe_path, free_port
from helpers import decode_errors
from live_helpers import BackgroundViewer, camera_status, get_json, metrics, wait_until
from nginx import Nginx


def packet_times(path: str) -> list[int]:
    """Video packet PTS of a TS file, in 90 kHz ticks, as the real ffprobe reads them."""
    out = subprocess.run([ffprobe_path(), "-v", "error", "-select_streams", "v:0",
                          "-show_entries", "packet=pts", "-of", "json", path],
                         capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode()
    return [p["pts"] for p in json.loads(out.stdout)["packets"]]


def test_ffmpeg_plays_the_hls_playlist_for_20_s_without_gaps(server, start_camera, tmp_path):
    start_camera(server.camera_url("cam"))
    wait_until(lambda: camera_status(server, "cam").get("frames_encoded", 0) > 30, 30)
    viewer = BackgroundViewer(server.viewer_url("cam"))  # what the server encoded, frame by frame
    time.sleep(2)
    output = tmp_path / "hls.ts"
    started = time.monotonic()
    # -copyts: the packets keep the segments' own times (the stream's clock), which the direct
    # viewer's TS carries too, so the two can be compared frame by frame. (-t as an input
    # option: 20 s from the first frame read; as an output option with -copyts it would end at
    # the stream's time 20 s. -mpegts_copyts: the TS muxer would add 1.4 s to times this
    # small.)
    played = subprocess.run(
        ["ffmpeg", "-hide_banner", "-v", "error", "-copyts", "-t", "20",
         "-i", server.http_url("/stream/cam/index.m3u8"), "-map", "0:v", "-c", "copy",
         "-mpegts_copyts", "1", "-f", "mpegts", str(output)],
        capture_output=True, text=True, timeout=90)
    wall = time.monotonic() - started
    assert played.returncode == 0 and played.stderr == "", played.stderr
    viewer.stop()
    hls = packet_times(str(output))
    direct = [t for t in packet_times_of(viewer) if hls[0] <= t <= hls[-1]]
    media = (hls[-1] - hls[0]) / 90000
    assert media >= 19.5, media
    missing = sorted(set(direct) - set(hls))
    assert not missing, f"{len(missing)} frames the server encoded are not in the HLS output"
    assert len(hls) == len(direct)
    data = output.read_bytes()
    assert decode_errors(data) == ""
    streams = json.loads(subprocess.run(
        [ffprobe_path(), "-v", "error", "-select_streams", "v", "-show_entries",
         "stream=codec_name,width,height", "-of", "json", str(output)],
        capture_output=True, text=True).stdout)["streams"]
    assert [(s["codec_name"], s["width"], s["height"]) for s in streams] == [("h264", 640, 480)]
    status = camera_status(server, "cam")["hls"]
    gaps = [(b - a) / 90000 for a, b in zip(hls, hls[1:])]
    print(f"\nffmpeg played {media:.1f} s of HLS ({len(hls)} frames, all {len(direct)} the "
          f"direct viewer got in that span, largest step {max(gaps) * 1000:.0f} ms) in "
          f"{wall:.1f} s of wall time; server: {status}")


def packet_times_of(viewer: BackgroundViewer) -> list[int]:
    with tempfile.NamedTemporaryFile(suffix=".ts") as f:
        f.write(b"".join(m for _, m in viewer.messages))
        f.flush()
        return packet_times(f.name)


CACHE_CONFIG = """
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/body; proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi; uwsgi_temp_path {dir}/uwsgi; scgi_temp_path {dir}/scgi;
    proxy_cache_path {dir}/cache levels=1:2 keys_zone=hls:10m max_size=256m inactive=2m
                     use_temp_path=off;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{origin};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache hls;
            proxy_cache_lock on;
            proxy_cache_lock_timeout 15s;
            proxy_cache_use_stale updating;
            add_header X-Cache-Status $upstream_cache_status;
            # A logged-in player's playlist is private (never cached): straight to the
            # origin, not queued behind the cache lock (which nginx re-checks every 0.5 s).
            location ~ [.]m3u8$ {{
                proxy_pass http://127.0.0.1:{origin};
                proxy_cache_bypass $http_authorization $http_cookie;
            }}
        }}
    }}
}}
"""


async def player(session: aiohttp.ClientSession, base: str, seconds: float, n: int,
                 tally: dict) -> None:
    """A light HLS player: reload the playlist every second, fetch each new segment once."""
    await asyncio.sleep(n * 0.005)  # they start within a second, not all at once
    seen: set[str] = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        async with session.get(base + "index.m3u8") as response:
            tally["playlist"] += 1
            tally["reloads"][n] += 1
            tally["statuses"][response.status] = tally["statuses"].get(response.status, 0) + 1
            text = await response.text()
        uris = re.findall(r'URI="([^"]+)"', text) + [
            line for line in text.splitlines() if line and not line.startswith("#")]
        for uri in uris:
            if uri in seen:
                continue
            seen.add(uri)
            async with session.get(base + uri) as response:
                body = await response.read()
                tally["segment"] += 1
                tally["per_player"][n] += 1
                tally["bytes"] += len(body)
                tally["statuses"][response.status] = \
                    tally["statuses"].get(response.status, 0) + 1
                tally["cache"][response.headers.get("X-Cache-Status")] = \
                    tally["cache"].get(response.headers.get("X-Cache-Status"), 0) + 1
            tally["names"].add(uri)
        await asyncio.sleep(1.0)


async def players(base: str, count: int, seconds: float, headers: dict | None = None) -> dict:
    tally = {"playlist": 0, "segment": 0, "bytes": 0, "statuses": {}, "cache": {},
             "names": set(), "per_player": [0] * count, "reloads": [0] * count}
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        await asyncio.gather(*(player(session, base, seconds, n, tally) for n in range(count)))
    return tally


PRIVATE = """
[[user]]
name = "alice"
password = "alice-password-1"
allow = ["read:*", "status", "metrics"]

[[token]]
token = "camera-token-0123456789"
allow = ["publish:*"]
"""


@pytest.mark.parametrize("camera", ["open", "private"])
def test_200_players_behind_nginx_cost_the_origin_one_request_per_segment(
        camera, start_server, start_camera, tmp_path):
    """``open``: anyone may watch; the playlist is public for a second, segments forever.
    ``private``: the players log in (Basic); the playlist is private (nginx passes each request
    on), and the segment links are signed, the same for every player, so nginx still fetches
    each segment once."""
    args, token, headers = ["--bitrate", "400k"], "", None
    if camera == "private":
        config = tmp_path / "camserver.toml"
        config.write_text(PRIVATE)
        config.chmod(0o600)
        args += ["--config", str(config), "--state-dir", str(tmp_path / "state")]
        headers = {"Authorization": "Basic " +
                   base64.b64encode(b"alice:alice-password-1").decode()}
        token = "?token=camera-token-0123456789"
    server = start_server(*args)
    start_camera(server.camera_url("cam") + token)
    wait_until(lambda: any(c["frames_encoded"] > 30 for c in get_json(
        server.http_url("/status"), headers)["cameras"]), 30)
    port = free_port()
    nginx = Nginx(tmp_path / "nginx", CACHE_CONFIG.format(dir=tmp_path / "nginx", port=port,
                                                          origin=server.http_port), port)
    nginx.start()
    try:
        base = f"http://127.0.0.1:{port}/stream/cam/"
        seconds = 15
        started = time.monotonic()
        tally = asyncio.run(players(base, 200, seconds, headers))
        wall = time.monotonic() - started
        origin = next(c for c in get_json(server.http_url("/status"), headers)["cameras"]
                      if c["id"] == "cam")["hls"]
        playlist_at_origin = origin["playlist_requests"]
        segments_at_origin = origin["segment_requests"]
        distinct = len(tally["names"])
        assert tally["statuses"] == {200: tally["playlist"] + tally["segment"]}, tally["statuses"]
        # All of them played live: each reloaded the playlist at least every 3 s (13-14 times
        # in 15 s seen; a private playlist queued behind nginx's cache lock got 2) and fetched
        # the segments it named.
        assert min(tally["reloads"]) >= seconds / 3, tally["reloads"]
        assert min(tally["per_player"]) >= 6, tally["per_player"]
        # One origin request per segment (and per init segment), however many players: the
        # segments are immutable, and nginx's cache lock makes simultaneous misses wait for one.
        assert distinct <= segments_at_origin <= distinct + 2, (segments_at_origin, distinct)
        # Two other witnesses: nginx said MISS (it went to the origin) exactly that often, and
        # the server's /metrics counts what /status does.
        assert tally["cache"].get("MISS") == segments_at_origin, tally["cache"]
        assert set(tally["cache"]) <= {"MISS", "HIT"}, tally["cache"]
        counted = metrics(server, headers)
        assert counted['camserver_hls_segment_requests_total{camera="cam"}'] == segments_at_origin
        assert counted['camserver_hls_playlist_requests_total{camera="cam"}'] == playlist_at_origin
        if camera == "open":
            # The playlist lives a second: about one origin request per second.
            assert playlist_at_origin <= wall + 3, (playlist_at_origin, wall)
        else:
            assert all("?e=" in name for name in tally["names"])
            assert playlist_at_origin == tally["playlist"]  # private: never from the cache
        print(f"\n{camera} camera, 200 players for {wall:.1f} s through nginx: "
              f"{tally['playlist']} playlist and {tally['segment']} segment requests "
              f"({tally['bytes'] / 1e6:.1f} MB), segments from the cache: {tally['cache']}; the "
              f"origin served {playlist_at_origin} playlist and {segments_at_origin} segment "
              f"requests for {distinct} distinct segments; playlist reloads per player: "
              f"{min(tally['reloads'])}-{max(tally['reloads'])}")
    finally:
        nginx.stop()
