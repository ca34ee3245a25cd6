import json

from camserver.outputs.fanout import MJPEG_HEADER, Fanout, Viewer
from camserver.ingest.packager import InitSegment, VideoFrame


class FakeViewer(Viewer):
    """Records messages; ``stuck`` bytes stand for what the peer has not read."""

    def __init__(self, fmt: str):
        super().__init__(fmt, "fake")
        self.messages: list = []
        self.stuck = 0

    def send(self, item):
        self.messages.append(item.message)

    def backlog(self):
        return self.stuck

    @property
    def frames(self):
        return [m for m in self.messages if isinstance(m, bytes)]


def frame(seq: int, keyframe: bool, size: int = 1000) -> VideoFrame:
    return VideoFrame(seq, seq * 3000, keyframe, b"T%d" % seq + b"\0" * size,
                      b"F%d" % seq + b"\0" * size)


INIT = InitSegment("avc1.42c01e", 640, 480, b"INIT")


def test_new_viewer_gets_everything_since_the_last_keyframe():
    fanout = Fanout("cam")
    fanout.publish_init(INIT)
    for seq, key in [(1, True), (2, False), (3, True), (4, False), (5, False)]:
        fanout.publish_video(frame(seq, key))
    ts, mp4 = FakeViewer("ts"), FakeViewer("fmp4")
    fanout.add(ts)
    fanout.add(mp4, hello={"type": "stream"})
    assert [m[:2] for m in ts.frames] == [b"T3", b"T4", b"T5"]
    assert json.loads(mp4.messages[0]) == {"type": "stream"}
    assert json.loads(mp4.messages[1])["codec"] == "avc1.42c01e"
    assert [m[:4] for m in mp4.frames] == [b"INIT", b"F3\0\0", b"F4\0\0", b"F5\0\0"]


def test_viewer_joining_before_any_keyframe_starts_at_the_next_one():
    fanout = Fanout("cam")
    viewer = FakeViewer("ts")
    fanout.add(viewer)
    fanout.publish_video(frame(1, False))
    fanout.publish_video(frame(2, True))
    fanout.publish_video(frame(3, False))
    assert [m[:2] for m in viewer.frames] == [b"T2", b"T3"]


def test_slow_viewer_skips_to_next_keyframe_without_affecting_others():
    fanout = Fanout("cam", limit_bytes=10_000)
    slow, fast = FakeViewer("ts"), FakeViewer("ts")
    fanout.add(slow)
    fanout.add(fast)
    fanout.publish_video(frame(1, True))
    slow.stuck = 20_000  # the peer stopped reading
    for seq in range(2, 6):
        fanout.publish_video(frame(seq, False))
    slow.stuck = 0       # drained, but mid-GOP: wait for a keyframe
    fanout.publish_video(frame(6, False))
    fanout.publish_video(frame(7, True))
    fanout.publish_video(frame(8, False))
    assert [m[:2] for m in fast.frames] == [b"T%d" % i for i in range(1, 9)]
    assert [m[:2] for m in slow.frames] == [b"T1", b"T7", b"T8"]
    assert slow.frames_skipped == 5 and fast.frames_skipped == 0


def test_stalled_viewer_never_gets_more_than_the_limit_queued():
    fanout = Fanout("cam", limit_bytes=50_000)
    stalled = FakeViewer("ts")
    fanout.add(stalled)
    for seq in range(1, 500):
        stalled.stuck = sum(len(m) for m in stalled.frames)  # nothing is ever read
        fanout.publish_video(frame(seq, seq % 30 == 1, size=5000))
    assert sum(len(m) for m in stalled.frames) <= 50_000 + 5100


def test_new_init_segment_restarts_fmp4_viewers_at_a_keyframe():
    fanout = Fanout("cam")
    fanout.publish_init(INIT)
    viewer = FakeViewer("fmp4")
    fanout.add(viewer)
    fanout.publish_video(frame(1, True))
    fanout.publish_video(frame(2, False))
    fanout.publish_init(InitSegment("avc1.42c01f", 800, 600, b"INIT2"))
    fanout.publish_video(frame(3, False))  # a straggler of the old encoder: must not follow
    fanout.publish_video(frame(4, True))
    assert [m[:5] for m in viewer.frames] == [b"INIT", b"F1\0\0\0", b"F2\0\0\0", b"INIT2",
                                              b"F4\0\0\0"]
    late = FakeViewer("fmp4")
    fanout.add(late)
    assert [m[:5] for m in late.frames] == [b"INIT2", b"F4\0\0\0"]


def test_rolling_buffer_is_bounded_without_keyframes():
    fanout = Fanout("cam", max_buffer_frames=10)
    fanout.publish_video(frame(1, True))
    for seq in range(2, 40):
        fanout.publish_video(frame(seq, False))
    assert len(fanout.gop) <= 10


def test_mjpeg_viewer_drops_stale_frames():
    fanout = Fanout("cam")
    viewer = FakeViewer("mjpeg")
    fanout.add(viewer)
    jpeg = MJPEG_HEADER.pack(1, 0.0) + b"\xff\xd8" + b"\0" * 1000
    fanout.publish_jpeg(jpeg)
    viewer.stuck = 5000
    fanout.publish_jpeg(jpeg)
    viewer.stuck = 0
    fanout.publish_jpeg(jpeg)
    assert len(viewer.frames) == 2 and viewer.frames_skipped == 1
    late = FakeViewer("mjpeg")
    fanout.add(late)
    assert late.frames == [jpeg]


def test_events_go_to_text_reading_viewers_only():
    fanout = Fanout("cam")
    viewers = {fmt: FakeViewer(fmt) for fmt in ("ts", "fmp4", "mjpeg")}
    for viewer in viewers.values():
        fanout.add(viewer)
    fanout.publish_event({"type": "camera", "state": "offline"})
    assert viewers["ts"].messages == []
    assert json.loads(viewers["fmp4"].messages[-1])["state"] == "offline"
    assert json.loads(viewers["mjpeg"].messages[-1])["state"] == "offline"


def test_repeats_go_to_playing_fmp4_viewers_only_and_are_not_kept():
    fanout = Fanout("cam")
    ts, fmp4, waiting, mjpeg = (FakeViewer("ts"), FakeViewer("fmp4"), FakeViewer("fmp4"),
                                FakeViewer("mjpeg"))
    for viewer in (ts, fmp4, mjpeg):
        fanout.add(viewer)
    assert not fanout.wants_repeats()  # an fMP4 viewer, but before its first keyframe
    fanout.publish_init(INIT)
    fanout.publish_video(frame(1, True))
    assert fanout.wants_repeats()
    fanout.add(waiting)
    waiting.skipping = True  # waits for a keyframe, e.g. after falling behind
    repeat = VideoFrame(2, 6000, False, b"", b"R2", repeat=True)
    fanout.publish_repeat(repeat)
    assert fmp4.frames[-1] == b"R2"
    assert b"R2" not in ts.frames + waiting.frames + mjpeg.frames
    assert repeat not in fanout.gop
    # A viewer that joins later starts from the keyframe, without repeats.
    late = FakeViewer("fmp4")
    fanout.add(late)
    assert late.frames == [INIT.data, b"F1" + b"\0" * 1000]


def test_viewers_that_take_no_repeats_get_none_and_ask_for_none():
    """``?repeats=0`` (the WebCodecs page): camera frames only; a stream whose only playing
    fMP4 viewers take no repeats makes none."""
    fanout = Fanout("cam")
    plain = FakeViewer("fmp4")
    plain.repeats = False
    fanout.add(plain)
    fanout.publish_init(INIT)
    fanout.publish_video(frame(1, True))
    assert not fanout.wants_repeats()
    fanout.publish_repeat(VideoFrame(2, 6000, False, b"", b"R2", repeat=True))
    assert plain.frames == [INIT.data, b"F1" + b"\0" * 1000]
    mse = FakeViewer("fmp4")
    fanout.add(mse)
    assert fanout.wants_repeats()
    fanout.publish_repeat(VideoFrame(3, 9000, False, b"", b"R3", repeat=True))
    assert mse.frames[-1] == b"R3" and b"R3" not in plain.frames


def test_control_events_go_only_to_viewers_who_may_control_the_camera():
    fanout = Fanout("cam")
    controller, reader, ts = FakeViewer("fmp4"), FakeViewer("mjpeg"), FakeViewer("ts")
    controller.may_control = ts.may_control = True
    for viewer in (controller, reader, ts):
        fanout.add(viewer)
    fanout.publish_event({"type": "config_ack", "applied": {"fps": 10}}, controllers_only=True)
    assert json.loads(controller.messages[-1]) == {"type": "config_ack", "applied": {"fps": 10}}
    assert reader.messages == [] and ts.messages == []
