"""The viewer endpoint: formats, waiting for cameras, clock pings."""

import asyncio
import json
import time

import pytest
from websockets.asyncio.client import connect

from camserver.outputs.fanout import MJPEG_HEADER
from camserver.media.jpeg import inspect_jpeg
from helpers import (ScriptedCamera, fragment_info, make_jpeg, probe_frames, refusal_status,
                     watch)


async def send_frames(url, count, width=320, height=240, delay=0.3, interval=0.04):
    await asyncio.sleep(delay)
    async with ScriptedCamera(url) as camera:
        for n in range(count):
            await camera.send(make_jpeg(width, height, n=n))
            await asyncio.sleep(interval)
        await asyncio.sleep(0.5)


@pytest.mark.parametrize("viewer_path", ["later", ""])
def test_viewer_waits_for_a_camera_that_is_not_there_yet(server, viewer_path):
    async def scenario():
        return await asyncio.gather(watch(server.viewer_url(viewer_path), 4),
                                    send_frames(server.camera_url("later"), 20))

    received, _ = asyncio.run(scenario())
    frames = probe_frames(received.payload)
    assert len(frames) == 20 and (frames[0]["width"], frames[0]["height"]) == (320, 240)


def test_mjpeg_format_carries_sequence_and_arrival_time(server):
    async def scenario():
        return await asyncio.gather(watch(server.viewer_url("m", "mjpeg"), 3),
                                    send_frames(server.camera_url("m"), 10))

    received, _ = asyncio.run(scenario())
    assert received.text[0]["type"] == "stream" and received.text[0]["format"] == "mjpeg"
    headers = [MJPEG_HEADER.unpack_from(m) for _, m in received.binary]
    assert [seq for seq, _ in headers] == list(range(1, 11))
    for (received_at, message), (_, arrival_ms) in zip(received.binary, headers):
        assert inspect_jpeg(message[MJPEG_HEADER.size:]).width == 320
        assert abs(arrival_ms - time.time() * 1000) < 10_000
    arrivals = [arrival for _, arrival in headers]
    assert arrivals == sorted(arrivals)


def test_fmp4_format_announces_codec_and_size_before_segments(server):
    async def scenario():
        return await asyncio.gather(watch(server.viewer_url("f", "fmp4"), 3),
                                    send_frames(server.camera_url("f"), 15))

    received, _ = asyncio.run(scenario())
    kinds = [m["type"] for m in received.text]
    # The viewer waited for the camera (viewers create no streams), so the stream is online.
    assert kinds[:2] == ["stream", "init"] and received.text[0]["online"] is True
    init = received.text[1]
    assert init["codec"].startswith("avc1.") and (init["width"], init["height"]) == (320, 240)
    assert received.binary[0][1][4:8] == b"ftyp"
    fragments = [fragment_info(m) for _, m in received.binary[1:]]
    # The 15 camera frames, plus repeats between them (see test_fmp4_repeats_fill_the_gaps).
    assert sum(1 for _, repeat in fragments if not repeat) == 15
    frames = probe_frames(received.payload, fmt="mp4")
    assert len(frames) == len(fragments)  # repeats decode too


def test_fmp4_repeats_fill_the_gaps_between_camera_frames(server):
    # A camera that sends 3 frames 400 ms apart. Each picture reaches fMP4 viewers twice, 2 ms
    # apart, and again every 33.3 ms until the next camera frame; MPEG-TS gets the frames only.
    # A picture gets no repeats when the next JPEG has already arrived by the time FFmpeg hands
    # it over (a newer one is in the encoder): with frames 150 ms apart a loaded machine's
    # encoder latency can do that, so the frames are further apart than any such latency.
    async def scenario():
        return await asyncio.gather(watch(server.viewer_url("g", "fmp4"), 3.5),
                                    watch(server.viewer_url("g", "ts"), 3.5),
                                    send_frames(server.camera_url("g"), 3, interval=0.4))

    fmp4, ts, _ = asyncio.run(scenario())
    assert len(probe_frames(ts.payload)) == 3
    fragments = [fragment_info(m) for _, m in fmp4.binary[1:]]
    cameras = [i for i, (_, repeat) in enumerate(fragments) if not repeat]
    assert len(cameras) == 3
    for first, after in zip(cameras, cameras[1:]):
        start = fragments[first][0]
        offsets = [time - start for time, _ in fragments[first + 1 : after]]
        # 2 ms, then pairs at 33.3 ms steps: 180, 3000, 3180, 6000, 6180, ... ticks.
        assert len(offsets) >= 6, offsets
        assert offsets[:6] == [180, 3000, 3180, 6000, 6180, 9000]
        assert offsets[-1] < fragments[after][0] - start
    assert len(probe_frames(fmp4.payload, fmt="mp4")) == len(fragments)


def test_fmp4_without_repeats_gets_the_camera_frames_only(server):
    """``&repeats=0`` (the WebCodecs page): the same init segment and fragments, no repeats."""
    async def scenario():
        return await asyncio.gather(
            watch(server.viewer_url("nr", "fmp4") + "&repeats=0", 2.5),
            watch(server.viewer_url("nr", "fmp4"), 2.5),
            send_frames(server.camera_url("nr"), 5, interval=0.15))

    plain, mse, _ = asyncio.run(scenario())
    assert [m["type"] for m in plain.text[:2]] == ["stream", "init"]
    assert plain.binary[0][1][4:8] == b"ftyp"
    fragments = [fragment_info(m) for _, m in plain.binary[1:]]
    assert len(fragments) == 5 and not any(repeat for _, repeat in fragments)
    with_repeats = [fragment_info(m) for _, m in mse.binary[1:]]
    assert sum(1 for _, repeat in with_repeats if repeat) >= 10  # the other viewer got them
    assert [t for t, repeat in with_repeats if not repeat] == [t for t, _ in fragments]
    assert len(probe_frames(plain.payload, fmt="mp4")) == 5


def test_ping_is_answered_with_server_time_even_while_waiting_for_the_camera(server):
    async def scenario():
        async with connect(server.viewer_url("p", "fmp4")) as ws:  # no camera "p" yet
            await ws.send(json.dumps({"type": "ping", "t": 42.5}))
            return json.loads(await ws.recv())

    pong = asyncio.run(scenario())
    assert pong["type"] == "pong" and pong["t"] == 42.5
    assert abs(pong["server_ms"] - time.time() * 1000) < 5000


@pytest.mark.parametrize("path", ["/cam?format=webm", "/bad%20id", "/cam?format=fmp4&repeats=2"])
def test_bad_viewer_request_is_refused(server, path):
    assert refusal_status(f"ws://127.0.0.1:{server.viewer_port}{path}") == 400


def test_late_viewer_starts_at_once_with_a_keyframe_and_no_deflate(server):
    """A viewer joining mid-GOP gets the buffer from the last keyframe straight away."""
    async def scenario():
        camera_task = asyncio.create_task(send_frames(server.camera_url("late"), 45,
                                                      interval=1 / 30))
        await asyncio.sleep(1.0)  # the camera is mid-stream, past its first keyframe
        async with connect(server.viewer_url("late"), max_size=None) as ws:
            extensions = ws.response.headers.get("Sec-WebSocket-Extensions")
            first = await asyncio.wait_for(ws.recv(), 1)
            rest = []
            while not camera_task.done() or rest == []:
                try:
                    rest.append(await asyncio.wait_for(ws.recv(), 1))
                except asyncio.TimeoutError:
                    break
        await camera_task
        return extensions, first, rest

    extensions, first, rest = asyncio.run(scenario())
    assert extensions is None  # media goes uncompressed even though the client offered deflate
    frames = probe_frames(first + b"".join(rest))
    assert frames[0]["key_frame"] == 1
    assert len(frames) == 1 + len(rest)


def test_odd_sized_jpegs_come_out_even_and_420(server):
    async def scenario():
        return await asyncio.gather(watch(server.viewer_url("odd"), 3),
                                    send_frames(server.camera_url("odd"), 10, 321, 243))

    received, _ = asyncio.run(scenario())
    frames = probe_frames(received.payload)
    assert {(f["width"], f["height"], f["pix_fmt"]) for f in frames} == {(320, 242, "yuv420p")}
