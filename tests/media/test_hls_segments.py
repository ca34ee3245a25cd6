"""HLS segments and playlists from real H.264 (libx264 as the server runs it), played back by the
real FFmpeg from the playlist."""

from __future__ import annotations

import re
import subprocess

import pytest

from camserver.media import fmp4
from camserver.media.hls import MAX_LAST_FRAME, Segmenter, target_duration
from media_fixtures import encode_flv, ffmpeg_exe, ffprobe_json, video_tags

UTC_ZERO = 1_700_000_000.0
INTERVAL = 3000  # 90 kHz ticks: 30 fps


def stream(size="320x240", frames=150):
    config, tags = video_tags(encode_flv(size, frames))
    return fmp4.init_segment(config, config.width, config.height), tags


def feed(segmenter, tags, first_pts=900_000, gaps=None, now=UTC_ZERO + 100):
    """Add ``tags`` 1/30 s apart (plus ``gaps``: frame index -> extra ticks before it);
    return the frame times and the segments completed."""
    done, times, pts = [], [], first_pts
    for n, tag in enumerate(tags):
        pts += (gaps or {}).get(n, 0)
        times.append(pts)
        if segment := segmenter.add(pts, tag.data, tag.keyframe, UTC_ZERO, now):
            done.append(segment)
        pts += INTERVAL
    return times, done


def play(tmp_path, segmenter) -> list[dict]:
    """Write the ring and its playlist (ended, as a recording) and decode it with FFmpeg from
    the playlist; the decoded frames' times and sizes."""
    for name, data in segmenter.inits.items():
        (tmp_path / name).write_bytes(data)
    for segment in segmenter.segments:
        (tmp_path / segment.name).write_bytes(segment.data)
    playlist = tmp_path / "index.m3u8"
    playlist.write_text(segmenter.playlist() + "#EXT-X-ENDLIST\n")
    out = subprocess.run([ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(playlist),
                          "-f", "null", "-"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    report = ffprobe_json(str(playlist), "-show_frames", "-show_entries",
                          "frame=pts,width,height,key_frame", "-select_streams", "v")
    return report["frames"]


def test_segments_hold_whole_gops_and_play_from_the_playlist(tmp_path):
    init, tags = stream(frames=150)  # keyframes every 30 frames = 1 s
    segmenter = Segmenter("abcdefgh", gop=1.0, window=10)
    segmenter.set_init(init, UTC_ZERO)
    times, done = feed(segmenter, tags)
    assert [s.name for s in done] == [f"abcdefgh-{n}.m4s" for n in range(4)]
    assert [s.duration for s in done] == [1.0] * 4
    # Each segment starts with a keyframe: the first sample of its first fragment.
    keyframes = [times[n] for n, t in enumerate(tags) if t.keyframe]
    frames = play(tmp_path, segmenter)
    assert len(frames) == 120  # 4 whole segments; the fifth GOP is still open
    assert [f["pts"] for f in frames] == times[:120]  # tfdt = the stream's own time
    assert [f["pts"] for f in frames if f["key_frame"]] == keyframes[:4]
    text = segmenter.playlist()
    assert text.startswith("#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n"
                           "#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n")
    assert text.count('#EXT-X-MAP:URI="abcdefgh-init0.mp4"') == 1
    assert re.findall(r"#EXT-X-PROGRAM-DATE-TIME:(.*)", text)[0] == "2023-11-14T22:13:30.000Z"


def test_the_playlist_window_slides_and_the_ring_is_bounded():
    init, tags = stream(frames=300)
    segmenter = Segmenter("ringring", gop=1.0, window=3, keep=5)
    segmenter.set_init(init, UTC_ZERO)
    feed(segmenter, tags)
    assert [s.sequence for s in segmenter.segments] == [4, 5, 6, 7, 8]
    assert segmenter.bytes == sum(len(s.data) for s in segmenter.segments)
    text = segmenter.playlist()
    assert "#EXT-X-MEDIA-SEQUENCE:6\n" in text
    assert re.findall(r"^ringring-\d+\.m4s$", text, re.M) == [
        "ringring-6.m4s", "ringring-7.m4s", "ringring-8.m4s"]
    assert segmenter.get("ringring-4.m4s") == segmenter.segments[0].data
    assert segmenter.get("ringring-3.m4s") is None  # gone from the ring
    assert segmenter.get("ringring-init0.mp4") == init
    assert segmenter.get("other-4.m4s") is None


def test_a_pause_is_a_gap_not_a_long_segment(tmp_path):
    """The camera stops for 3 s after frame 29; the next frame is a keyframe (the encoder makes
    the first frame after a pause one). The segment ends there, and its last frame lasts
    0.5 s, not the 3 s pause: the timeline keeps the gap."""
    init, tags = stream(frames=120)
    segmenter = Segmenter("pausepau", gop=1.0, window=10)
    segmenter.set_init(init, UTC_ZERO)
    times, done = feed(segmenter, tags[:30] + tags[60:], gaps={30: 3 * 90000})
    assert [s.duration for s in done] == [pytest.approx(29 / 30 + MAX_LAST_FRAME), 1.0]
    frames = play(tmp_path, segmenter)
    assert [f["pts"] for f in frames] == times[:60]


def test_a_new_init_segment_is_a_discontinuity_with_its_own_map(tmp_path):
    small, small_tags = stream("320x240", 60)
    large, large_tags = stream("640x480", 60)
    segmenter = Segmenter("switchsw", gop=1.0, window=10)
    segmenter.set_init(small, UTC_ZERO)
    feed(segmenter, small_tags, first_pts=90000)
    ended = segmenter.set_init(large, UTC_ZERO + 3)
    assert ended is not None and ended.sequence == 1  # the open GOP ends at the switch
    feed(segmenter, large_tags, first_pts=90000 * 3)
    segmenter.finish(UTC_ZERO + 6)
    text = segmenter.playlist()
    assert text.count("#EXT-X-DISCONTINUITY\n") == 1
    assert re.findall(r'#EXT-X-MAP:URI="(.*)"', text) == ["switchsw-init0.mp4",
                                                          "switchsw-init1.mp4"]
    assert text.index("#EXT-X-DISCONTINUITY\n") < text.index("switchsw-init1.mp4")
    # FFmpeg's HLS reader (5.1 and 9.0) does not apply a new EXT-X-MAP in the middle of a
    # playlist (it decodes the new segments with the old parameters); hls.js and Safari do.
    # So each part is decoded with its own init segment, as those players do.
    sizes = []
    for init_name in ("switchsw-init0.mp4", "switchsw-init1.mp4"):
        part = tmp_path / f"part-{init_name}"
        part.write_bytes(segmenter.get(init_name) + b"".join(
            s.data for s in segmenter.segments if s.init == init_name))
        report = ffprobe_json(str(part), "-show_frames", "-show_entries", "frame=width,height")
        sizes += [(f["width"], f["height"]) for f in report["frames"]]
    assert sizes == [(320, 240)] * 60 + [(640, 480)] * 60


def test_discontinuity_sequence_counts_what_left_the_window():
    init, tags = stream(frames=90)  # keyframes at frames 0, 30, 60
    segmenter = Segmenter("timeline", gop=1.0, window=3, keep=3)
    segmenter.set_init(init, UTC_ZERO)
    for n, first_pts in enumerate((90000, 1000, 1000)):  # three streams, each from ~0
        if n:
            segmenter.new_timeline(UTC_ZERO + 5 * n)  # 3 segments each, the last one ended
        feed(segmenter, tags, first_pts=first_pts)
    assert [(s.sequence, s.discontinuity, s.epoch) for s in segmenter.segments] == [
        (5, False, 1), (6, True, 2), (7, False, 2)]
    text = segmenter.playlist()
    assert "#EXT-X-MEDIA-SEQUENCE:5\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n" in text
    assert text.count("#EXT-X-DISCONTINUITY\n") == 1
    assert text.index("#EXT-X-DISCONTINUITY\n") < text.index("timeline-6.m4s")
    segmenter.window = 2  # the discontinuity's segment first: its number says it, no tag
    text = segmenter.playlist()
    assert "#EXT-X-DISCONTINUITY-SEQUENCE:2\n" in text and "#EXT-X-DISCONTINUITY\n" not in text


def test_frames_before_a_keyframe_or_an_init_segment_are_not_used():
    init, tags = stream(frames=60)
    segmenter = Segmenter("startsat", gop=1.0)
    assert segmenter.add(0, tags[0].data, True, UTC_ZERO, UTC_ZERO) is None  # no init yet
    segmenter.set_init(init, UTC_ZERO)
    times, done = feed(segmenter, tags[5:])  # starts mid-GOP: waits for frame 30
    assert segmenter.get("startsat-0.m4s") is None and not done
    segmenter.finish(UTC_ZERO + 2)
    assert len(segmenter.segments) == 1 and segmenter.segments[0].duration == 1.0


def test_a_segment_without_keyframes_is_given_up_not_kept():
    init, tags = stream(frames=30)
    segmenter = Segmenter("nokeysno", gop=1.0, max_segment_bytes=20_000)
    segmenter.set_init(init, UTC_ZERO)
    feed(segmenter, tags + [t for t in tags if not t.keyframe] * 3)
    assert segmenter.dropped == 1 and not segmenter.segments


@pytest.mark.parametrize("min_seconds, gop, expected", [
    (1.0, 1.0, 2), (1.0, 0.5, 2), (1.0, 2.0, 3), (2.0, 1.0, 4), (1.0, 0.25, 2)])
def test_target_duration_bounds_every_segment(min_seconds, gop, expected):
    assert target_duration(min_seconds, gop) == expected
