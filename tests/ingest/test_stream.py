"""CameraStream's consumers: what they are fed, and that a broken one disturbs nothing."""

import asyncio
import logging

from camserver.ingest.ffmpeg import Encoder
from camserver.ingest.stream import CameraStream, StreamConsumer
from camserver.media.jpeg import inspect_jpeg
from helpers import make_jpeg
from media_fixtures import video_tags, encode_flv


class Recording(StreamConsumer):
    def __init__(self):
        self.events = []

    def on_init(self, init):
        self.events.append(("init", init.width, init.height, init.config is not None))

    def on_frame(self, frame):
        self.events.append(("frame", frame.keyframe, len(frame.avcc) > 0, frame.repeat))

    def on_jpeg(self, jpeg, info, wall_ms):
        self.events.append(("jpeg", info.width, wall_ms > 0))

    def on_camera(self, online):
        self.events.append(("camera", online))


class Broken(StreamConsumer):
    def on_frame(self, frame):
        raise RuntimeError("disk on fire")


def make_stream():
    return CameraStream("c", ffmpeg="ffmpeg", encoder=Encoder("libx264"), bitrate="1M", gop=1,
                        grace=30, viewer_buffer_bytes=1 << 20)


def test_consumers_get_init_frames_jpegs_and_camera_state_and_a_broken_one_is_contained(caplog):
    config, tags = video_tags(encode_flv("320x240", 3))

    async def scenario():
        stream = make_stream()
        early, broken = Recording(), Broken()
        stream.add_consumer(early)
        stream.add_consumer(broken)
        stream.attach_camera(object(), "1.2.3.4:5")
        jpeg = make_jpeg(320, 240)
        stream.transcoder.submit = lambda *args: True  # no FFmpeg in this test
        stream.receive_jpeg(jpeg, inspect_jpeg(jpeg), asyncio.get_running_loop().time())
        stream._on_config(config)
        for tag in tags:
            stream._on_frame(tag.data, tag.keyframe, None)
        late = Recording()
        stream.add_consumer(late)  # joins a running stream: gets the current init at once
        stream.remove_consumer(broken)
        stream._on_frame(tags[0].data, True, None)
        stream.detach_camera(stream.camera)
        await stream.shutdown()
        return stream, early, late

    with caplog.at_level(logging.ERROR):
        stream, early, late = asyncio.run(scenario())
    assert early.events == [("camera", True), ("jpeg", 320, True), ("init", 320, 240, True),
                            ("frame", True, True, False), ("frame", False, True, False),
                            ("frame", False, True, False), ("frame", True, True, False),
                            ("camera", False)]
    assert late.events == [("init", 320, 240, True), ("frame", True, True, False),
                           ("camera", False)]
    assert stream.frames_encoded == 4  # the broken consumer stopped nothing
    errors = [r for r in caplog.records if "Broken.on_frame failed" in r.getMessage()]
    assert len(errors) == 1  # three failures, one line: rate-limited
