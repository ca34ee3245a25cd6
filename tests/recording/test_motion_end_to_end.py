"""Motion mode end to end: a camera that is still, then moves for 3 s, then is still again, is
recorded around the movement with its pre-roll; a camera that never moves (mock_camera.py
--still) is never recorded."""

from __future__ import annotations

import asyncio
import json
import threading
import time

from helpers import ScriptedCamera
from mock_camera import FrameRenderer
from recording_helpers import (camera_status, decode_errors, get, get_json, probe, read,
                               recording_server, segment_files, wait_until)

CONFIG = """
[recording]
min_free_bytes = "10M"
[camera."*"]
record = "motion"
motion_sensitivity = 0.8
pre_seconds = 2
post_seconds = 2
"""
STILL, MOVING, STILL_AFTER = 5.0, 3.0, 7.0


def run_scene(url: str, marks: dict) -> None:
    """30 fps: a still picture, then the mock camera's moving scene, then the still picture."""
    renderer = FrameRenderer(640, 480)
    still = renderer.render(0, 0.0, 0.0)
    moving = [renderer.render(n, n / 30, 30.0) for n in range(1, int(MOVING * 30) + 1)]

    async def scene():
        async with ScriptedCamera(url) as camera:
            # Its rate, as real cameras announce it: without it the encoder starts at 25 fps and
            # is restarted at 30 after 10 s (framerate.py), which would start a second file.
            await camera.send(json.dumps({"type": "hello", "fps": 30}))
            start, n = time.monotonic(), 0
            total = int((STILL + MOVING + STILL_AFTER) * 30)
            first_moving, last_moving = int(STILL * 30), int((STILL + MOVING) * 30) - 1
            while n < total:
                await asyncio.sleep(max(0.0, start + n / 30 - time.monotonic()))
                jpeg = moving[n - first_moving] if first_moving <= n <= last_moving else still
                await camera.send(jpeg)
                if n == first_moving:
                    marks["move_start"] = time.time()
                elif n == last_moving:
                    marks["move_end"] = time.time()
                n += 1
    asyncio.run(scene())


def test_motion_mode_records_movement_with_pre_roll_and_skips_a_still_scene(
        start_server, start_camera, tmp_path):
    server, record_dir = recording_server(start_server, tmp_path, CONFIG)
    start_camera(server.camera_url("still"), "--still")
    marks: dict = {}
    scene = threading.Thread(target=run_scene, args=(server.camera_url("moving"), marks))
    scene.start()
    scene.join(60)
    assert not scene.is_alive() and set(marks) == {"move_start", "move_end"}
    wait_until(lambda: camera_status(server, "moving")["recording"]["state"] == "idle", 15)
    move_start, move_end = marks["move_start"], marks["move_end"]

    # The moving camera: one file, from the keyframe at least pre_seconds before the motion
    # was seen (seen at most 1/4 s after it began), to post_seconds after the last motion.
    [path] = segment_files(record_dir, "moving")
    segment = read(path)
    frames = probe(path)
    assert frames[0]["key_frame"] == 1 and decode_errors(path) == ""
    lead = move_start - segment.start_utc
    tail = segment.end_utc - move_end
    print(f"recorded from {lead:.2f} s before the motion to {tail:.2f} s after it ended")
    assert 2 - 0.3 <= lead <= 2 + 1.0 + 0.3  # pre_seconds, back to a keyframe (1 s GOP)
    # post_seconds after the last motion; the detector sees the scene settle within ~2.5 s.
    assert 2 - 0.3 <= tail <= 2 + 3.0 + 1.0
    listing = get_json(server, "/api/recordings/moving")
    [event] = listing["events"]
    event_start = listing_time(event["start"])
    assert -0.05 <= event_start - move_start <= 0.6, event_start - move_start
    assert MOVING - 0.5 <= event["duration"] <= MOVING + 3.5 and event["score"] > 0
    [span] = listing["spans"]
    assert abs(listing_time(span["start"]) - segment.start_utc) < 0.002

    # The still camera: watched the whole time, never recorded, no event.
    assert segment_files(record_dir, "still") == []
    still = camera_status(server, "still")["recording"]
    assert (still["mode"], still["state"], still["motion_events"]) == ("motion", "idle", 0)
    assert still["motion_score"] == 0.0
    assert get(server, "/api/recordings/still")[0] == 200
    assert get_json(server, "/api/recordings/still")["spans"] == []
    metrics = get(server, "/metrics")[2].decode()
    assert 'camserver_motion_events_total{camera="moving"} 1' in metrics
    assert 'camserver_motion_events_total{camera="still"} 0' in metrics


def listing_time(text: str) -> float:
    import datetime
    return datetime.datetime.fromisoformat(text).timestamp()
