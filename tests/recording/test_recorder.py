"""The recorder and the index with real x264 frames and real files, without a server: file cuts
(wall-clock jump, encoder change, pause, camera gone), motion mode's memory, start-up repair."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

from camserver.ingest.packager import Packager
from camserver.media import fmp4
from camserver.recording import index as index_module
from camserver.recording.manager import RecordingManager
from camserver.recording.recorder import MAX_RING_BYTES
from camserver.recording.segment import SegmentBuilder
from camserver.recording.settings import parse_config
from media_fixtures import encode_flv, video_tags
from recording_helpers import decode_errors, probe, read, segment_files


class FakeStream:
    """What a recorder needs of a CameraStream; frames are fed by the test."""

    def __init__(self, camera_id="cam"):
        self.id = camera_id
        self.epoch_monotonic = time.monotonic() - 100
        self.epoch_ms = (time.time() - 100) * 1000
        self.consumers = []

    def add_consumer(self, consumer):
        self.consumers.append(consumer)

    def remove_consumer(self, consumer):
        self.consumers.remove(consumer)


def frames(size="320x240", count=90):
    """(init, [VideoFrame]) packaged as the server does; keyframe every 30 frames."""
    config, tags = video_tags(encode_flv(size, count))
    packager = Packager()
    init = packager.set_config(config)
    return init, [packager.package(tag.data, tag.keyframe, 0) for tag in tags]


def at(frame, pts):
    import dataclasses
    return dataclasses.replace(frame, pts=pts)


def record(tmp_path, table, script):
    """Run ``script(recorder, stream)`` (a coroutine) against a real manager; return it."""
    async def main():
        manager = RecordingManager(parse_config({
            "recording": {"record_dir": str(tmp_path / "rec"), "min_free_bytes": 0},
            "camera": {"*": table}}))
        await manager.start()
        stream = FakeStream()
        manager.attach(stream)
        recorder = stream.consumers[0]
        await script(recorder, stream)
        await manager.close()
        return manager
    return asyncio.run(main())


def test_a_wall_clock_jump_starts_a_new_file_stamped_with_the_new_time(tmp_path, monkeypatch,
                                                                        caplog):
    init, video = frames()
    offset = [0.0]
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + offset[0])

    async def script(recorder, stream):
        recorder.on_init(init)
        for n, frame in enumerate(video[:45]):
            if n == 20:
                offset[0] = 3600.0  # NTP sets the clock an hour forward
            recorder.on_frame(at(frame, 9_000_000 + n * 3000))
        await asyncio.sleep(0.2)

    with caplog.at_level(logging.WARNING):
        record(tmp_path, {"record": "continuous"}, script)
    assert "camera cam: the wall clock moved +3600.0 s" in caplog.text
    first, second = (read(p) for p in segment_files(tmp_path / "rec", "cam"))
    assert len(first.samples) == 30 and len(second.samples) == 15
    # Media time is untouched; the new file carries the new wall-clock time.
    assert abs(second.start_utc - first.end_utc - 3600) < 0.1
    for path in segment_files(tmp_path / "rec", "cam"):
        assert decode_errors(path) == ""


def test_files_are_cut_at_a_new_encoder_and_a_pause_and_written_when_the_camera_leaves(
        tmp_path):
    init, video = frames()
    large_init, large = frames("640x480", 45)

    async def script(recorder, stream):
        recorder.on_init(init)
        pts = 0
        for frame in video[:30]:  # file 1
            recorder.on_frame(at(frame, pts))
            pts += 3000
        recorder.on_init(large_init)  # new resolution: file 2 at its first keyframe
        for frame in large[:30]:
            recorder.on_frame(at(frame, pts))
            pts += 3000
        recorder.on_init(init)
        pts += 5 * 90000  # a 5 s pause: file 3
        for frame in video[30:60]:
            recorder.on_frame(at(frame, pts))
            pts += 3000
        recorder.on_camera(False)  # the camera left: what file 3 collected is written now
        await asyncio.sleep(0.3)
        written["file 3"] = [read(p).duration for p in segment_files(tmp_path / "rec", "cam")]
        recorder.on_camera(True)
        pts += 3 * 90000  # back 3 s later: file 4
        for frame in video[60:90]:
            recorder.on_frame(at(frame, pts))
            pts += 3000
        await asyncio.sleep(0.2)

    written = {}
    record(tmp_path, {"record": "continuous"}, script)
    assert written["file 3"][2] == pytest.approx(1.0, abs=0.001)  # all 30 frames of file 3
    files = segment_files(tmp_path / "rec", "cam")
    segments = [read(p) for p in files]
    assert [len(s.samples) for s in segments] == [30, 30, 30, 30]
    assert [(s.width, s.height) for s in segments] == [(320, 240), (640, 480), (320, 240),
                                                      (320, 240)]
    assert segments[2].start_utc - segments[1].end_utc > 4.9
    for path in files:
        assert probe(path)[0]["key_frame"] == 1 and decode_errors(path) == ""


def test_motion_memory_keeps_a_keyframe_pre_seconds_back_and_is_bounded(tmp_path):
    init, video = frames()
    seen = {}

    async def script(recorder, stream):
        recorder.on_init(init)
        for n in range(300):  # 10 s, no motion
            recorder.on_frame(at(video[n % 90], n * 3000))
            keys = list(recorder._ring_keys)
            newest = n * 3000
            if newest >= 3 * 90000:
                # The oldest keyframe kept is the newest one at least pre_seconds back.
                assert keys[0] <= newest - 2 * 90000 < keys[1]
        seen["frames"] = len(recorder._ring)
        seen["bytes"] = recorder._ring_bytes

    record(tmp_path, {"record": "motion", "pre_seconds": 2}, script)
    assert 60 <= seen["frames"] <= 90 and seen["bytes"] <= MAX_RING_BYTES
    assert segment_files(tmp_path / "rec", "cam") == []


def test_start_up_scan_repairs_cut_files_and_reads_events(tmp_path, caplog):
    config, tags = video_tags(encode_flv("320x240", 45))
    init = fmp4.init_segment(config, config.width, config.height)
    day = tmp_path / "cam" / "2024-07-01"
    day.mkdir(parents=True)
    builder = SegmentBuilder(init, 0, 1_719_835_200.0)
    data = [builder.header] + [d for n, t in enumerate(tags)
                               if (d := builder.add(n * 3000, t.data, t.keyframe))]
    whole = b"".join(data)
    (day / "12-00-00.mp4").write_bytes(whole + data[-1][:500])  # a fragment cut off
    (day / "12-01-00.mp4").write_bytes(init)  # started, then killed: no frame
    (day / "notes.txt").write_text("mine")
    (day / "holiday.mp4").write_bytes(b"not ours")
    (day / index_module.EVENTS_FILE).write_text(
        json.dumps({"start": 1_719_835_201.5, "score": 0.1}) + "\n"
        + json.dumps({"start": 1_719_835_201.5, "score": 0.3, "duration": 4.0}) + "\n"
        + '{"start": 1719835300, "sco')  # a line cut short
    segments, events = index_module.list_files(tmp_path)
    with caplog.at_level(logging.WARNING):
        found = index_module.scan(segments, events)
    assert [e.path for e in found.entries] == [str(day / "12-00-00.mp4")]
    assert (day / "12-00-00.mp4").stat().st_size == len(whole)
    assert not (day / "12-01-00.mp4").exists()
    assert (day / "notes.txt").exists() and (day / "holiday.mp4").exists()
    assert "Repaired recording" in caplog.text and "Removed recording" in caplog.text
    assert [(c, e.start, e.duration, e.score) for c, e in found.events] == \
        [("cam", 1_719_835_201.5, 4.0, 0.3)]
    assert decode_errors(day / "12-00-00.mp4") == ""
