"""FFmpeg under the server: no frame held back, restarts after a crash or a hang."""

import asyncio
import re
import os
import signal
import time

from conftest import children_of
from helpers import ScriptedCamera, make_jpeg, probe_frames, watch
from test_end_to_end import status, wait_until


def ffmpeg_pid(server) -> int:
    return wait_until(lambda: next(iter(children_of(server.proc.pid)), None))


def test_each_frame_comes_out_before_the_next_goes_in(server):
    """Plain -f mjpeg would hold frame n until frame n+1 arrives: here every frame must reach
    the viewer while the camera is still waiting to send the next one."""
    sends: list[float] = []

    async def scenario():
        stop = asyncio.Event()
        viewer = asyncio.create_task(watch(server.viewer_url("slow"), 30, stop=stop))
        async with ScriptedCamera(server.camera_url("slow")) as camera:
            for n in range(4):
                await asyncio.sleep(1.0)
                await camera.send(make_jpeg(320, 240, n=n))
                sends.append(time.monotonic())
            await asyncio.sleep(1.0)
        stop.set()
        return await viewer

    received = asyncio.run(scenario())
    arrivals = [t for t, _ in received.binary]
    assert len(arrivals) == 4
    for i in range(3):
        assert sends[i] < arrivals[i] < sends[i + 1], i
    # FFmpeg's share of the server-added delay is reported apart: a part of it, never more.
    camera = next(c for c in status(server)["cameras"] if c["id"] == "slow")
    assert 0 < camera["encoder_delay_ms_p50"] <= camera["server_delay_ms_p50"] < 1000
    assert 0 < camera["encoder_delay_ms_p99"] <= camera["server_delay_ms_p99"]


def _stream_through(server, disturb, seconds=14.0):
    async def scenario():
        stop = asyncio.Event()
        viewer = asyncio.create_task(watch(server.viewer_url("x"), 60, stop=stop))
        async with ScriptedCamera(server.camera_url("x")) as camera:
            start = time.monotonic()
            n = 0
            while time.monotonic() - start < seconds:
                await camera.send(make_jpeg(320, 240, n=n))
                n += 1
                if n == 30:
                    await asyncio.to_thread(disturb)
                await asyncio.sleep(1 / 20)
        await asyncio.sleep(1)
        stop.set()
        return await viewer

    return asyncio.run(scenario())


def test_ffmpeg_that_dies_is_restarted_and_viewers_carry_on(server):
    pids = []

    def kill_ffmpeg():
        pids.append(ffmpeg_pid(server))
        os.kill(pids[0], signal.SIGKILL)

    received = _stream_through(server, kill_ffmpeg, seconds=4)
    camera = status(server)["cameras"][0]
    assert camera["encoder_starts"] == 2
    assert "FFmpeg exited unexpectedly with code -9" in server.log()
    late = [t for t, _ in received.binary if t > received.binary[0][0] + 2.5]
    assert len(late) > 10  # video flowed again after the restart, on the same connection
    assert children_of(server.proc.pid) and pids[0] not in children_of(server.proc.pid)


def test_ffmpeg_that_hangs_is_killed_and_restarted(server):
    def freeze_ffmpeg():
        os.kill(ffmpeg_pid(server), signal.SIGSTOP)

    received = _stream_through(server, freeze_ffmpeg, seconds=10)
    assert re.search(r"FFmpeg has held a frame for 5\.\d s \(not counting 0\.\d s the server "
                     r"itself was late\); restarting it", server.log())
    assert status(server)["cameras"][0]["encoder_starts"] == 2
    assert received.binary[-1][0] - received.binary[0][0] > 8  # still flowing at the end


def test_a_camera_back_from_silence_gets_one_keyframe_not_a_burst(server):
    """The first frame after a silence longer than --gop (1 s) is a keyframe, and the frames
    after it are not: keyframes come a GOP after the previous one, not on a fixed grid that
    catches up frame by frame (5 keyframes in a row after these 4 s)."""
    async def scenario():
        stop = asyncio.Event()
        viewer = asyncio.create_task(watch(server.viewer_url("gap"), 60, stop=stop))
        async with ScriptedCamera(server.camera_url("gap")) as camera:
            for n in range(80):
                if n == 40:
                    await asyncio.sleep(4.0)  # the camera goes quiet (within --grace)
                await camera.send(make_jpeg(320, 240, n=n))
                await asyncio.sleep(1 / 20)
        await asyncio.sleep(1)
        stop.set()
        return await viewer

    frames = probe_frames(asyncio.run(scenario()).payload)
    times = [float(f["pts_time"]) for f in frames]
    resume = next(i for i in range(1, len(times)) if times[i] - times[i - 1] > 3)
    after = [f["key_frame"] for f in frames[resume:resume + 15]]  # 0.75 s at 20 fps
    assert after == [1] + [0] * 14, after


def test_a_jpeg_ffmpeg_refuses_shifts_no_later_frame_and_every_frame_is_accounted_for():
    """Encoded frames are paired with their JPEGs by timestamp, not by order. The camera port
    refuses what it can tell is not a JPEG FFmpeg decodes; this one (arithmetic coding, SOF9)
    goes to the transcoder directly, as one FFmpeg gives up on would. With pairing by order,
    every frame after it would carry its predecessor's tag."""
    from camserver.ingest.ffmpeg import _encoder, find_ffmpeg
    from camserver.ingest.transcoder import Transcoder

    jpegs = [make_jpeg(320, 240, n=n) for n in range(20)]
    sof = jpegs[10].index(b"\xff\xc0")
    jpegs[10] = jpegs[10][:sof] + b"\xff\xc9" + jpegs[10][sof + 2:]
    tags: list = []

    async def scenario():
        transcoder = Transcoder("t", find_ffmpeg(), _encoder("libx264"), "500k", 1.0,
                                lambda config: None, lambda avcc, key, tag: tags.append(tag))
        for n, jpeg in enumerate(jpegs):
            transcoder.submit(jpeg, (320, 240), time.monotonic(), n)
            await asyncio.sleep(0.05 if n % 2 else 0.1)
        await asyncio.sleep(1)
        counts = dict(transcoder.dropped), transcoder.in_flight()
        await transcoder.shutdown()
        return counts

    dropped, in_flight = asyncio.run(scenario())
    assert tags == [n for n in range(20) if n != 10]
    assert dropped == {"refused-by-ffmpeg": 1} and in_flight == 0
