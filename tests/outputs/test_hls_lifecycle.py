"""When HLS segments are made: only while someone asked for the playlist recently, from the
stream's last keyframe on, and anew (new names, a discontinuity) when things change. A real
CameraStream fed real H.264 (libx264) without FFmpeg in the loop."""

import asyncio
import re

from camserver.access.signing import UrlSigner
from camserver.ingest.ffmpeg import Encoder
from camserver.ingest.stream import CameraStream
from camserver.outputs.hls import HlsManager, HlsOutput
from media_fixtures import encode_flv, video_tags

FRAME = 3000  # 90 kHz ticks at 30 fps


def make_stream(camera_id="c"):
    return CameraStream(camera_id, ffmpeg="ffmpeg", encoder=Encoder("libx264"), bitrate="1M",
                        gop=1, grace=30, viewer_buffer_bytes=1 << 20)


class Feeder:
    """Encoded frames into a stream as its transcoder would hand them over (keyframes every 30
    frames), each with its own time."""

    def __init__(self, stream):
        self.stream = stream
        self.config, self.tags = video_tags(encode_flv("320x240", 300))
        self.n = 0
        stream._on_config(self.config)

    def frames(self, count):
        loop = asyncio.get_running_loop()
        for _ in range(count):
            tag = self.tags[self.n % len(self.tags)]
            self.stream._on_frame(tag.data, tag.keyframe, (90000 + self.n * FRAME, loop.time()))
            self.n += 1


def hls_consumers(stream):
    return [c for c in stream.consumers if isinstance(c, HlsOutput)]


def test_segments_only_while_the_playlist_is_asked_for():
    async def scenario():
        stream = make_stream()
        feeder = Feeder(stream)
        manager = HlsManager(None, UrlSigner(b"k" * 32), gop=1.0, idle_seconds=0.5)
        manager.start()
        feeder.frames(45)  # 1.5 s of video nobody asked for: nothing is segmented
        assert hls_consumers(stream) == [] and manager.camera_status("c") is None

        asking = asyncio.ensure_future(manager.playlist(stream, signed=False))
        await asyncio.sleep(0)
        output = manager.outputs["c"]
        assert hls_consumers(stream) == [output]
        # The GOP in the fan-out's buffer (frames 30-44) goes on to frame 59; 60-89 is the next.
        feeder.frames(46)
        first = await asyncio.wait_for(asking, 5)
        names = re.findall(r"^(\w+)-(\d+)\.m4s$", first, re.M)
        assert [n for _, n in names] == ["0", "1"]
        prefix = names[0][0]
        assert output.segmenter.segments[0].duration == 1.0  # frames 30-59: the whole GOP
        assert "#EXT-X-MAP" in first and "?" not in first

        # Nobody asks for 0.5 s: at the next tick (1 s) the output detaches, its ring is freed.
        feeder.frames(30)
        for _ in range(30):
            await asyncio.sleep(0.1)
            if not output.active:
                break
        assert not output.active and hls_consumers(stream) == []
        assert output.segmenter is None and manager.segment("c", f"{prefix}-0.m4s") is None
        made = output.segments_made
        feeder.frames(60)
        assert output.segments_made == made  # idle: the frames go nowhere

        # Asked again: new names (never reused: a cache may hold the old ones forever).
        asking = asyncio.ensure_future(manager.playlist(stream, signed=True))
        await asyncio.sleep(0)
        feeder.frames(90)
        second = await asyncio.wait_for(asking, 5)
        new_prefix = re.findall(r"^(\w+)-0\.m4s\?e=\d+&s=", second, re.M)
        assert new_prefix and new_prefix[0] != prefix
        assert manager.camera_status("c")["starts"] == 2

        # The camera's stream is made anew (pruned while idle, camera back): its clock starts
        # over, so the playlist says so.
        renewed = make_stream()
        manager.attach(renewed)
        assert hls_consumers(stream) == [] and hls_consumers(renewed) == [output]
        Feeder(renewed).frames(90)
        third = await manager.playlist(renewed, signed=False)
        kept = list(output.segmenter.segments)
        assert [s.discontinuity for s in kept].count(True) == 1, kept
        assert len(kept) <= 6 and not kept[0].discontinuity  # all in the window, the tag shown
        assert third.count("#EXT-X-DISCONTINUITY\n") == 1
        manager.close()
        await stream.shutdown()
        await renewed.shutdown()

    asyncio.run(scenario())


def test_a_playlist_request_without_video_gives_up():
    async def scenario():
        stream = make_stream()
        manager = HlsManager(None, UrlSigner(b"k" * 32))
        import camserver.outputs.hls as hls
        saved, hls.READY_SECONDS = hls.READY_SECONDS, 0.3
        try:
            assert await manager.playlist(stream, signed=False) is None
        finally:
            hls.READY_SECONDS = saved
        await stream.shutdown()

    asyncio.run(scenario())
