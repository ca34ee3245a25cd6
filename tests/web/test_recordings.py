"""The playback API against a real server that recorded a real camera for a few seconds: spans,
clips across file boundaries (checked with ffprobe), HTTP Range, bad input, the permission hook."""

from __future__ import annotations

import asyncio
import datetime
import http.client
import json
import re
import time
import urllib.parse

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from camserver.recording.manager import RecordingManager
from camserver.recording.recorder import iso
from camserver.recording.settings import parse_config
from camserver.web.recordings import add_routes
from conftest import CameraProcess, ServerProcess
from recording_helpers import (ANONYMOUS_ALL, camera_status, decode_errors, get, get_json,
                               probe, read,
                               segment_files, wait_until)

GOP = 1.0


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A server that recorded camera "cam" for ~9 s in 2 s files, camera gone since."""
    tmp = tmp_path_factory.mktemp("recorded")
    config = tmp / "rec.toml"
    config.write_text(ANONYMOUS_ALL + '[recording]\nmin_free_bytes = "10M"\nclip_max_seconds = 600\n'
                      '[camera."*"]\nrecord = "continuous"\nsegment_seconds = 2\n')
    record_dir = tmp / "rec"
    server = ServerProcess("--record-dir", str(record_dir), "--config", str(config))
    server.wait_ready()
    camera = CameraProcess(server.camera_url("cam"))
    try:
        wait_until(lambda: len(segment_files(record_dir, "cam")) >= 5, 40)
    finally:
        camera.stop()
    wait_until(lambda: camera_status(server, "cam")["recording"]["state"] == "waiting", 10)
    files = segment_files(record_dir, "cam")
    yield server, record_dir, files, [read(p) for p in files]
    assert server.stop() == 0, server.log()
    assert "Traceback" not in server.log() and "Error handling request" not in server.log()


def fetch_clip(server, start: float, duration: float, headers=None, extra=""):
    query = urllib.parse.urlencode({"start": iso(start), "duration": repr(duration)})
    return get(server, f"/api/recordings/cam/clip.mp4?{query}{extra}", headers)


def test_a_clip_across_a_file_boundary_starts_at_the_keyframe_before(recorded, tmp_path):
    server, _, files, segments = recorded
    first, second = segments[1], segments[2]
    boundary = second.start_utc
    # As the server reads it (ISO times have milliseconds), and ending between two frames, so
    # that which frame is the last does not hang on a rounding.
    start = datetime.datetime.fromisoformat(iso(boundary - 0.4)).timestamp()
    times = [seg.utc(s) for seg in (first, second) for s in seg.samples]
    after = next(n for n, t in enumerate(times) if t >= start + 2.0)
    duration = (times[after - 1] + times[after]) / 2 - start
    status, headers, body = fetch_clip(server, start, duration)
    assert status == 200 and headers["Content-Type"] == "video/mp4"
    assert int(headers["Content-Length"]) == len(body)
    clip_start = datetime.datetime.fromisoformat(headers["X-Clip-Start"]).timestamp()
    # The keyframe at or before start: a keyframe of the first file, at most a GOP back.
    keyframes = [first.utc(s) for s in first.samples if s.keyframe]
    assert min(abs(k - clip_start) for k in keyframes) < 0.001
    assert 0 <= start - clip_start <= GOP + 0.1
    path = tmp_path / "clip.mp4"
    path.write_bytes(body)
    frames = probe(path)
    assert frames[0]["key_frame"] == 1 and decode_errors(path) == ""
    # The frames are the recorded ones, at their times, through the boundary.
    expected = [seg.utc(s) - clip_start for seg in (first, second) for s in seg.samples
                if clip_start - 0.0005 <= seg.utc(s) < start + duration]
    assert len(frames) == len(expected)
    assert all(abs(float(f["pts_time"]) - e) < 0.0005 for f, e in zip(frames, expected))
    assert any(e > boundary - clip_start for e in expected)
    # Its length: the asked duration plus at most one GOP before start.
    length = float(headers["X-Clip-Duration"])
    assert duration - 0.05 <= length <= duration + GOP + 0.1
    print(f"asked {duration} s from {start - clip_start:.3f} s after a keyframe; got {length} s, "
          f"{len(frames)} frames")


def test_range_requests(recorded):
    server, _, _, segments = recorded
    start = segments[0].start_utc + 0.5
    status, headers, whole = fetch_clip(server, start, 5)
    assert status == 200 and headers["Accept-Ranges"] == "bytes"
    size, etag = len(whole), headers["ETag"]
    for spec, first, last in [("bytes=0-99", 0, 99), ("bytes=100-", 100, size - 1),
                              ("bytes=-500", size - 500, size - 1),
                              (f"bytes={size // 2}-{size // 2 + 70000}", size // 2,
                               size // 2 + 70000),
                              (f"bytes=5-{size + 1000}", 5, size - 1)]:
        status, headers, body = fetch_clip(server, start, 5, {"Range": spec})
        assert status == 206, spec
        assert headers["Content-Range"] == f"bytes {first}-{last}/{size}"
        assert body == whole[first:last + 1], spec
    status, headers, _ = fetch_clip(server, start, 5, {"Range": f"bytes={size}-"})
    assert status == 416 and headers["Content-Range"] == f"bytes */{size}"
    # Several ranges, or an If-Range that no longer matches: the whole clip.
    assert fetch_clip(server, start, 5, {"Range": "bytes=0-1,5-6"})[0] == 200
    assert fetch_clip(server, start, 5, {"Range": "bytes=0-1", "If-Range": '"old"'})[0] == 200
    assert fetch_clip(server, start, 5, {"Range": "bytes=0-1", "If-Range": etag})[0] == 206
    # HEAD: the headers only.
    status, headers, body = get(
        server, f"/api/recordings/cam/clip.mp4?start={iso(start)}&duration=5", method="HEAD")
    assert status == 200 and int(headers["Content-Length"]) == size and body == b""


def test_download_sets_a_file_name(recorded):
    server, _, _, segments = recorded
    status, headers, _ = fetch_clip(server, segments[0].start_utc, 1, extra="&download=1")
    assert status == 200
    assert re.fullmatch(r'attachment; filename="cam-\d{8}-\d{6}Z\.mp4"',
                        headers["Content-Disposition"])
    assert "Content-Disposition" not in fetch_clip(server, segments[0].start_utc, 1)[1]


def test_spans_and_cameras(recorded):
    server, _, files, segments = recorded
    listing = get_json(server, "/api/recordings/cam")
    [span] = listing["spans"]
    total = segments[-1].end_utc - segments[0].start_utc
    assert span["start"] == iso(segments[0].start_utc)
    assert abs(span["duration"] - total) < 0.01
    assert listing["events"] == []
    # The span's URL is a clip of it.
    status, headers, _ = get(server, span["url"])
    assert status == 200 and headers["X-Clip-Start"] == span["start"]
    # A window clips the span.
    a, b = segments[0].start_utc + 1, segments[0].start_utc + 3
    windowed = get_json(server, f"/api/recordings/cam?start={iso(a)}&end={iso(b)}")["spans"]
    assert [(s["start"], s["duration"]) for s in windowed] == [(iso(a), 2.0)]
    assert get_json(server, f"/api/recordings/cam?start={iso(b + 3600)}")["spans"] == []
    cameras = get_json(server, "/api/recordings")["cameras"]
    assert [c["id"] for c in cameras] == ["cam"]
    assert cameras[0]["bytes"] == sum(p.stat().st_size for p in files)
    assert cameras[0]["oldest"] == iso(segments[0].start_utc)


def test_status_and_metrics_show_recording(recorded):
    server, _, files, segments = recorded
    recording = camera_status(server, "cam")["recording"]
    assert recording["mode"] == "continuous" and recording["state"] == "waiting"
    assert recording["bytes"] == sum(p.stat().st_size for p in files)
    assert recording["oldest"] == iso(segments[0].start_utc)
    assert recording["last_error"] is None and recording["segments_started"] == len(files)
    status, _, body = get(server, "/metrics")
    text = body.decode()
    assert f'camserver_recording_bytes{{camera="cam"}} {recording["bytes"]}' in text
    assert 'camserver_recording{camera="cam"} 0' in text
    assert 'camserver_motion_events_total{camera="cam"} 0' in text
    assert 'camserver_recording_error{camera="cam"} 0' in text


@pytest.mark.parametrize("path, status, reason", [
    ("/api/recordings/..%2F..%2Fetc%2Fpasswd", 400, "bad camera id"),
    ("/api/recordings/..%2F..%2Fetc/clip.mp4?start=2024-01-01T00:00:00Z", 400, "bad camera id"),
    ("/api/recordings/cam%2F..%2F..%2F/clip.mp4?start=2024-01-01T00:00:00Z", 400,
     "bad camera id"),
    ("/api/recordings/%2E%2E/clip.mp4?start=2024-01-01T00:00:00Z", 400, "bad camera id"),
    ("/api/recordings/cam%00/clip.mp4?start=2024-01-01T00:00:00Z", 400, "bad camera id"),
    ("/api/recordings/cam/clip.mp4", 400, "start: required"),
    ("/api/recordings/cam/clip.mp4?start=yesterday", 400, "start: not an ISO 8601 time"),
    ("/api/recordings/cam/clip.mp4?start=2024-13-45T00:00:00Z", 400, "not an ISO 8601"),
    ("/api/recordings/cam/clip.mp4?start=1969-01-01T00:00:00Z", 400, "start: out of range"),
    ("/api/recordings/cam/clip.mp4?start=2024-01-01T00:00:00Z&duration=601", 400,
     "duration: at most 600 s"),
    ("/api/recordings/cam/clip.mp4?start=2024-01-01T00:00:00Z&duration=0", 400, "duration"),
    ("/api/recordings/cam/clip.mp4?start=2024-01-01T00:00:00Z&duration=-5", 400, "duration"),
    ("/api/recordings/cam/clip.mp4?start=2024-01-01T00:00:00Z&duration=nan", 400, "duration"),
    ("/api/recordings/cam/clip.mp4?start=2024-01-01T00:00:00Z&duration=inf", 400, "duration"),
    ("/api/recordings/cam/clip.mp4?start=2024-01-01T00:00:00Z&duration=1e400", 400,
     "duration"),
    ("/api/recordings/cam?start=2024-01-02T00:00:00Z&end=2024-01-01T00:00:00Z", 400,
     "end: must be after start"),
    ("/api/recordings/cam?end=" + "9" * 100, 400, "end: not an ISO 8601"),
    ("/api/recordings/nosuchcamera", 404, "no recordings"),
    ("/api/recordings/cam/clip.mp4?start=2001-01-01T00:00:00Z", 404, "nothing recorded"),
])
def test_bad_requests_get_a_clear_4xx(recorded, path, status, reason):
    server = recorded[0]
    got, _, body = get(server, path)
    assert got == status and reason in body.decode(), (got, body)


def test_raw_traversal_paths_never_reach_a_file(recorded):
    server = recorded[0]
    for path in ("/api/recordings/../../etc/passwd", "/api/recordings/cam/../../../etc/passwd",
                 "/api/recordings/./../cam/clip.mp4?start=2024-01-01T00:00:00Z"):
        connection = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=10)
        connection.putrequest("GET", path, skip_accept_encoding=True)  # sent as is
        connection.endheaders()
        response = connection.getresponse()
        body = response.read()
        assert response.status in (400, 404), (path, response.status)
        assert b"root:" not in body
        connection.close()


# -- the permission hook -----------------------------------------------------------------------


def test_every_playback_route_asks_the_hook(tmp_path):
    """Each route add_routes adds calls authorize(request, "playback", camera) before anything
    else; a refusal is the hook's own HTTP error; the camera list leaves out forbidden ones."""
    asked = []

    async def authorize(request, action, camera):
        asked.append((request.path, action, camera))
        if camera == "secret" or request.headers.get("X-Deny"):
            raise web.HTTPForbidden(text="no\n")

    async def scenario():
        manager = RecordingManager(parse_config({"recording": {"record_dir": str(tmp_path)}}))
        await manager.start()
        from camserver.recording.index import Entry
        for camera in ("open", "secret"):
            manager.index.add(Entry(camera, str(tmp_path / camera / "x.mp4"), 1e9, 10.0, 100))
        app = web.Application()
        add_routes(app, manager, authorize)
        routes = {r.resource.canonical for r in app.router.routes()}
        assert routes == {"/recordings", "/api/recordings", "/api/recordings/{id}",
                          "/api/recordings/{id}/clip.mp4"}
        async with TestClient(TestServer(app)) as client:
            for path in ("/recordings", "/api/recordings", "/api/recordings/open",
                         "/api/recordings/open/clip.mp4?start=2001-09-09T01:46:40Z"):
                response = await client.get(path, headers={"X-Deny": "1"})
                assert response.status == 403, path
            for path in ("/api/recordings/secret",
                         "/api/recordings/secret/clip.mp4?start=2001-09-09T01:46:40Z"):
                assert (await client.get(path)).status == 403
            listed = await (await client.get("/api/recordings")).json()
            assert [c["id"] for c in listed["cameras"]] == ["open"]
        await manager.close()

    asyncio.run(scenario())
    assert ("/recordings", "playback", None) in asked
    assert ("/api/recordings/open", "playback", "open") in asked
    assert {a for _, a, _ in asked} == {"playback"}
