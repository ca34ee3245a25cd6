"""``--bitrate`` holds (issue 13): the H.264 a viewer receives, measured from ffprobe's packet
sizes over more than 20 s, is within 10% of the setting for cameras at 5, 10, 15 and 30 fps and
one with Wi-Fi-like jitter, with Debian's FFmpeg and with the bundled one (imageio-ffmpeg's).

The five cameras are real mock cameras (mock_camera.py: 640x480, moving content) on one server,
each with its own id, so one ~25 s run covers every rate. Before the encoder was told the
camera's frame rate, 1500k gave ~660 kbit/s at 10 fps and ~1,850 at 30 (framerate.py)."""

import asyncio
import shutil

import imageio_ffmpeg
import pytest

from helpers import probe_packets, watch
from test_end_to_end import status, wait_until

#: camera id -> mock_camera.py arguments. The jittery one sends each frame late by a random
#: delay (exponential, mean 30 ms), in order, so frames come late and then in bursts.
CAMERAS = {
    "fps5": ("--fps", "5"),
    "fps10": ("--fps", "10"),
    "fps15": ("--fps", "15"),
    "fps30": ("--fps", "30"),
    "jitter15": ("--fps", "15", "--jitter", "30"),
}
WATCH_SECONDS = 23
SKIP_SECONDS = 1.0


def h264_kbps(ts: bytes) -> tuple[float, float, int]:
    """(kbit/s of H.264, seconds measured, packets) from a viewer's MPEG-TS: the packets'
    sizes after the first SKIP_SECONDS, over their media time (= arrival time at the server)."""
    packets = probe_packets(ts)
    start = float(packets[0]["pts_time"]) + SKIP_SECONDS
    window = [p for p in packets if float(p["pts_time"]) >= start]
    seconds = float(window[-1]["pts_time"]) - float(window[0]["pts_time"])
    # Each packet's bits fill the interval before it: the first one's interval is outside.
    return sum(int(p["size"]) for p in window[1:]) * 8 / seconds / 1000, seconds, len(window)


def kbits(setting: str) -> float:
    return float(setting[:-1]) * (1000 if setting.endswith("M") else 1) \
        if setting[-1] in "kM" else float(setting) / 1000


@pytest.mark.parametrize("build,bitrate", [("debian", "1500k"), ("bundled", "1000k")])
def test_bitrate_holds_at_5_to_30_fps_and_with_jitter(start_server, start_camera, build,
                                                      bitrate):
    ffmpeg = shutil.which("ffmpeg") if build == "debian" else imageio_ffmpeg.get_ffmpeg_exe()
    server = start_server("--ffmpeg", ffmpeg, "--bitrate", bitrate)
    for camera_id, args in CAMERAS.items():
        start_camera(server.camera_url(), "--camera-id", camera_id, *args)
    wait_until(lambda: {c["id"] for c in status(server)["cameras"]
                        if c["frames_encoded"] > 0} == set(CAMERAS))

    async def watch_all():
        return await asyncio.gather(*(watch(server.viewer_url(camera_id), WATCH_SECONDS)
                                      for camera_id in CAMERAS))

    received = dict(zip(CAMERAS, asyncio.run(watch_all())))
    cameras = {c["id"]: c for c in status(server)["cameras"]}
    target = kbits(bitrate)
    results = {}
    for camera_id, viewer in received.items():
        kbps, seconds, packets = h264_kbps(viewer.payload)
        camera = cameras[camera_id]
        results[camera_id] = kbps
        print(f"{build} {bitrate} {camera_id}: {kbps:.0f} kbit/s ({kbps / target - 1:+.1%}) over "
              f"{seconds:.1f} s, {packets} frames; camera {camera['fps']} fps, encoder told "
              f"{camera['encoder_fps']} fps, {camera['encoder_starts']} start(s)")
        assert seconds >= 20, seconds
    assert all(abs(kbps / target - 1) <= 0.10 for kbps in results.values()), results


def test_a_camera_slower_than_it_announced_gets_its_encoder_restarted_once(server):
    """A camera that says 30 fps in its hello but sends 10 (an AtomS3R-CAM whose software JPEG
    cannot keep up): the encoder starts at 30, is restarted once at the measured rate after
    framerate.MIN_RUN seconds, every frame still reaches the viewer, and from then on the
    bitrate holds."""
    import json
    import time

    from helpers import ScriptedCamera
    from mock_camera import FrameRenderer

    renderer = FrameRenderer(640, 480)
    jpegs = [renderer.render(n, n / 10, 10.0) for n in range(50)]
    restarted_at: list[float] = []
    sent_at: list[float] = []

    def watch_status():
        wait_until(lambda: status(server)["cameras"]
                   and status(server)["cameras"][0]["encoder_starts"] == 2, timeout=40)
        restarted_at.append(time.monotonic())

    async def scenario():
        stop = asyncio.Event()
        viewer = asyncio.create_task(watch(server.viewer_url("slow"), 60, stop=stop))
        watcher = asyncio.create_task(asyncio.to_thread(watch_status))
        await asyncio.sleep(0.5)
        async with ScriptedCamera(server.camera_url("slow")) as camera:
            await camera.send(json.dumps({"type": "hello", "fps": 30}))
            start = time.monotonic()
            for n in range(240):                       # 24 s at 10 fps
                await asyncio.sleep(max(0.0, start + n / 10 - time.monotonic()))
                await camera.send(jpegs[n % len(jpegs)])
                sent_at.append(time.monotonic())
            await asyncio.sleep(1.0)
        stop.set()
        await watcher
        return await viewer

    received = asyncio.run(scenario())
    camera = status(server)["cameras"][0]
    assert camera["encoder_starts"] == 2 and abs(camera["encoder_fps"] / 10 - 1) < 0.05, camera
    assert "the camera sends 10." in server.log() and "started for 30; restarting" in server.log()
    packets = probe_packets(received.payload)
    assert len(packets) == len(received.binary) == 240  # nothing lost across the restart
    # After the restart (+1 s), by when each frame reached the viewer (one message per frame).
    first = next(i for i, (t, _) in enumerate(received.binary) if t >= restarted_at[0] + 1)
    window = packets[first:]
    seconds = float(window[-1]["pts_time"]) - float(window[0]["pts_time"])
    kbps = sum(int(p["size"]) for p in window[1:]) * 8 / seconds / 1000
    delays = [(t - s) * 1000 for (t, _), s in zip(received.binary, sent_at)]
    worst = max(range(len(delays)), key=delays.__getitem__)
    print(f"after the restart: {kbps:.0f} kbit/s over {seconds:.1f} s; camera send -> viewer: "
          f"median {sorted(delays)[len(delays) // 2]:.1f} ms, worst {delays[worst]:.0f} ms "
          f"(frame {worst}, {sent_at[worst] - restarted_at[0]:+.1f} s from the restart)")
    assert seconds >= 10 and abs(kbps / 1500 - 1) <= 0.10, (kbps, seconds)
