"""The issue's acceptance scenarios, end to end: server.py, cameras and viewers over real
WebSockets, the server's real FFmpeg, and ffprobe decoding what the viewers received."""

import asyncio
import json
import random
import time
import urllib.request

import imageio_ffmpeg

from helpers import ScriptedCamera, decode_errors, fragment_info, make_jpeg, probe_frames, watch


def status(server) -> dict:
    with urllib.request.urlopen(server.http_url("/status"), timeout=5) as response:
        return json.load(response)


def wait_until(predicate, timeout=30.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(interval)
    raise AssertionError("condition not met in %s s" % timeout)


def check_h264_against_wall_clock(received, seconds):
    frames = probe_frames(received.payload)
    assert {(f["width"], f["height"], f["pix_fmt"]) for f in frames} == {(640, 480, "yuv420p")}
    media = float(frames[-1]["pts_time"]) - float(frames[0]["pts_time"])
    wall = received.binary[-1][0] - received.binary[0][0]
    fps = (len(frames) - 1) / media
    assert abs(media / wall - 1) < 0.02, (media, wall)
    assert 29 <= fps <= 31, fps
    assert len(frames) == len(received.binary)  # every frame the viewer got decodes
    # A keyframe every second (the default --gop) of media time, i.e. of arrival time at the
    # server: each one is the first frame at least 1 s after the previous keyframe. FFmpeg gets
    # the server's arrival times with the frames (media/mkv.py), so this holds to the rounding
    # of 90 kHz and us. A camera that sends nothing for a while (the mock camera on a busy
    # machine) makes that keyframe later, not the rule different.
    times = [float(f["pts_time"]) for f in frames]
    keys = [i for i, f in enumerate(frames) if f["key_frame"] == 1]
    assert keys[0] == 0
    def first_at(start, t):
        return next((i for i in range(start, len(frames)) if times[i] >= t), len(frames))

    wrong = []
    for a, b in zip(keys, keys[1:] + [len(frames)]):
        due = times[a] + 1.0  # give or take 1 ms of rounding:
        if not first_at(a + 1, due - 0.001) <= b <= first_at(a + 1, due + 0.001):
            wrong.append((round(times[a] - times[0], 3), [round(t - times[a], 3)
                                                          for t in times[a + 1:b + 1][-3:]]))
    assert not wrong, wrong  # (keyframe at, the last frames up to the next keyframe after it)
    gaps = [times[b] - times[a] for a, b in zip(keys, keys[1:])]
    return len(frames), media, wall, fps, gaps, max(b - a for a, b in zip(times, times[1:]))


def test_mock_camera_to_ts_viewer_60s_tracks_wall_clock(server, start_camera):
    start_camera(server.camera_url())
    wait_until(lambda: status(server)["streaming"])
    received = asyncio.run(watch(server.viewer_url(), 60))
    n, media, wall, fps, gaps, interval = check_h264_against_wall_clock(received, 60)
    print(f"{n} frames, media {media:.3f} s vs wall {wall:.3f} s, {fps:.2f} fps, keyframes "
          f"{min(gaps):.3f}-{max(gaps):.3f} s apart, frames at most {interval * 1000:.0f} ms")
    assert decode_errors(received.payload) == ""


def test_embedded_ffmpeg_gives_the_same_stream(start_server, start_camera):
    server = start_server("--ffmpeg", imageio_ffmpeg.get_ffmpeg_exe())
    assert "Using FFmpeg 9." in server.log() or "Using FFmpeg" in server.log()
    start_camera(server.camera_url())
    wait_until(lambda: status(server)["streaming"])
    received = asyncio.run(watch(server.viewer_url(), 10))
    check_h264_against_wall_clock(received, 10)


def test_irregular_422_camera_resizes_and_returns_while_viewers_keep_playing(start_server):
    """4:2:2 JPEGs at an irregular 8-15 fps, a switch to 800x600, a 10 s absence (longer than
    the grace period, so FFmpeg stops and starts again), and back: one viewer connection each
    for TS and fMP4 throughout."""
    server = start_server("--grace", "3")
    rng = random.Random(7)
    sent_at: list[float] = []

    async def camera_script(stop: asyncio.Event):
        async def burst(width, height, seconds, subsampling=1):
            async with ScriptedCamera(server.camera_url("irregular")) as camera:
                end = time.monotonic() + seconds
                n = 0
                while time.monotonic() < end:
                    await camera.send(make_jpeg(width, height, subsampling, n=n))
                    sent_at.append(time.monotonic())
                    n += 1
                    await asyncio.sleep(1 / rng.uniform(8, 15))

        await asyncio.sleep(1.0)          # the viewers are subscribed and waiting
        await burst(640, 480, 6)
        await burst(800, 600, 5)          # a new connection at a new size: takeover + restart
        await asyncio.sleep(10)
        await burst(800, 600, 5)
        await asyncio.sleep(1.5)
        stop.set()

    async def scenario():
        stop = asyncio.Event()
        ts_view = watch(server.viewer_url("irregular", "ts"), 60, stop=stop)
        mp4_view = watch(server.viewer_url("irregular", "fmp4"), 60, stop=stop)
        return await asyncio.gather(ts_view, mp4_view, camera_script(stop))

    ts, mp4, _ = asyncio.run(scenario())
    frames = probe_frames(ts.payload)
    sizes = [(f["width"], f["height"]) for f in frames]
    assert len(frames) == len(sent_at), (len(frames), len(sent_at))
    assert sizes[0] == (640, 480) and sizes[-1] == (800, 600)
    assert sizes == sorted(sizes)     # one switch, never back
    assert {f["pix_fmt"] for f in frames} == {"yuv420p"}
    # Media time follows arrival time through the jitter and the 10 s gap.
    pts = [float(f["pts_time"]) for f in frames]
    for i in range(1, len(pts)):
        assert abs((pts[i] - pts[i - 1]) - (sent_at[i] - sent_at[i - 1])) < 0.02, i
    assert max(b - a for a, b in zip(pts, pts[1:])) > 10
    # The fMP4 viewer got a new init segment per encoder start and one fragment per frame, plus
    # the repeats between frames (camserver/media/repeat.py).
    inits = [m for m in mp4.text if m["type"] == "init"]
    assert [(m["width"], m["height"]) for m in inits][0] == (640, 480)
    assert (inits[-1]["width"], inits[-1]["height"]) == (800, 600)
    # The viewer waited for the camera (it creates no stream), so its stream message says
    # online; then three camera connections came and went.
    assert mp4.text[0]["type"] == "stream" and mp4.text[0]["online"] is True
    states = [m["state"] for m in mp4.text if m["type"] == "camera"]
    assert states == ["offline"] + ["online", "offline"] * 2
    fragments = [fragment_info(m) for _, m in mp4.binary if m[4:8] == b"moof"]
    assert len(mp4.binary) == len(fragments) + len(inits)
    assert sum(1 for _, repeat in fragments if not repeat) == len(sent_at)
    assert sum(1 for _, repeat in fragments if repeat) > len(sent_at)  # at 8-15 fps: several
    assert "FFmpeg started" in server.log() and "stopping its encoder" in server.log()


def test_two_cameras_stream_to_their_own_viewers(server, start_camera):
    start_camera(server.camera_url(), "--camera-id", "front", "--width", "640",
                 "--height", "480")
    start_camera(server.camera_url(), "--camera-id", "back", "--width", "320",
                 "--height", "240", "--fps", "15")
    wait_until(lambda: sum(c["frames_encoded"] > 0 for c in status(server)["cameras"]) == 2)

    async def both():
        return await asyncio.gather(watch(server.viewer_url("front"), 4),
                                    watch(server.viewer_url("back"), 4),
                                    asyncio.to_thread(lambda: (time.sleep(2), status(server))[1]))

    front, back, mid = asyncio.run(both())
    assert {(f["width"], f["height"]) for f in probe_frames(front.payload)} == {(640, 480)}
    assert {(f["width"], f["height"]) for f in probe_frames(back.payload)} == {(320, 240)}
    cameras = {c["id"]: c for c in mid["cameras"]}
    assert set(cameras) == {"front", "back"}
    assert mid["camera_clients"] == 2 and mid["viewer_clients"] == 2 and mid["streaming"]
    assert cameras["front"]["resolution"] == "640x480"
    assert cameras["back"]["resolution"] == "320x240"
    assert 25 <= cameras["front"]["fps"] <= 35 and 12 <= cameras["back"]["fps"] <= 18
    for camera in cameras.values():
        assert camera["viewers"] == 1 and camera["encoder"] == "libx264"
        assert camera["kbps"] > 0 and camera["bytes_out"] > 0 and camera["uptime"] > 0
        assert camera["frames_dropped"] == 0
