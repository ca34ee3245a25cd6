"""Clips built from real segment files (real x264 frames), checked with the real ffprobe."""

import io

import pytest

from camserver.media import fmp4
from camserver.recording.clip import GAP_SECONDS, Source, plan_clip, read_range
from camserver.recording.segment import SegmentBuilder, read_segment
from media_fixtures import encode_flv, ffprobe_json, run_ffmpeg_decode, video_tags

T0 = 1_700_000_000.0
INTERVAL = 3000  # 30 fps


def write_segments(tmp_path, cuts=(0, 60, 120), frames=180, gap_after=None, size="320x240"):
    """Segments of one recording (keyframe every 30 frames) cut at frame numbers ``cuts``;
    with ``gap_after`` = n, the frames after frame n come 5 s later."""
    config, tags = video_tags(encode_flv(size, frames))
    init = fmp4.init_segment(config, config.width, config.height)
    sources, times = [], []
    bounds = list(cuts) + [frames]
    for a, b in zip(bounds, bounds[1:]):
        def pts_of(n):
            return n * INTERVAL + (5 * 90000 if gap_after is not None and n > gap_after else 0)
        builder = SegmentBuilder(init, pts_of(a), T0 + pts_of(a) / 90000)
        out = [builder.header]
        for n in range(a, b):
            times.append(T0 + pts_of(n) / 90000)
            if data := builder.add(pts_of(n), tags[n].data, tags[n].keyframe):
                out.append(data)
        out.append(builder.flush(next_pts=pts_of(b) if b < frames and pts_of(b) - pts_of(b - 1)
                                 == INTERVAL else None))
        path = tmp_path / f"seg{a}.mp4"
        path.write_bytes(b"".join(out))
        sources.append(Source(str(path), read_segment(open(path, "rb"), path.stat().st_size)))
    return sources, times, [t.keyframe for t in tags]


def materialize(plan, tmp_path, name="clip.mp4"):
    data = bytearray()
    for part in read_range(plan, 0, plan.size - 1):
        if isinstance(part, bytes):
            data += part
        else:
            path, offset, size = part
            with open(path, "rb") as f:
                f.seek(offset)
                data += f.read(size)
    assert len(data) == plan.size
    path = tmp_path / name
    path.write_bytes(data)
    return path, bytes(data)


def probe(path):
    return ffprobe_json(str(path), "-show_frames", "-show_entries",
                        "frame=pts,key_frame")["frames"]


def test_a_clip_across_a_segment_boundary_starts_at_the_keyframe_before(tmp_path):
    sources, times, keys = write_segments(tmp_path)
    start = T0 + 50.5 * INTERVAL / 90000  # between frames 50 and 51; keyframe at 30
    plan = plan_clip(sources, start, duration=2.0)
    assert plan.start_utc == pytest.approx(T0 + 30 * INTERVAL / 90000)
    path, data = materialize(plan, tmp_path)
    frames = probe(path)
    # Frames 30 .. the last before start + 2 s (frame 110): 81 frames, across the cut at 60.
    assert len(frames) == plan.frames == 81
    assert frames[0]["key_frame"] == 1
    assert [int(f["pts"]) for f in frames] == [n * INTERVAL for n in range(81)]
    assert plan.duration == pytest.approx(81 * INTERVAL / 90000)
    assert run_ffmpeg_decode(str(path)) == ""
    # moov before mdat, so a browser can seek before the data arrives.
    assert data.index(b"moov") < data.index(b"mdat")


def test_ranges_of_a_clip_are_its_bytes(tmp_path):
    sources, _, _ = write_segments(tmp_path)
    plan = plan_clip(sources, T0, 5.0)
    _, whole = materialize(plan, tmp_path)
    for first, last in [(0, 0), (0, 99), (10, len(plan.header) + 10),
                        (len(plan.header) - 1, plan.size - 1), (plan.size - 1, plan.size - 1),
                        (1234, 98765)]:
        got = bytearray()
        for part in read_range(plan, first, last):
            if isinstance(part, bytes):
                got += part
            else:
                with open(part[0], "rb") as f:
                    f.seek(part[1])
                    got += f.read(part[2])
        assert bytes(got) == whole[first:last + 1], (first, last)


def test_a_clip_stops_at_a_pause_in_the_recording(tmp_path):
    sources, times, _ = write_segments(tmp_path, cuts=(0, 90), gap_after=89)
    assert sources[1].segment.start_utc - sources[0].segment.end_utc > GAP_SECONDS
    plan = plan_clip(sources, T0, 60)
    assert plan.frames == 90
    # Asked from inside the pause: starts where recording resumes.
    plan = plan_clip(sources, sources[0].segment.end_utc + 1, 10.0)
    assert plan.start_utc == pytest.approx(sources[1].segment.start_utc)
    assert plan_clip(sources, T0 - 100, 10) is None
    assert plan_clip(sources, times[-1] + 10, 10) is None


def test_a_clip_stops_where_the_resolution_changes(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    small, _, _ = write_segments(tmp_path / "a", cuts=(0,), frames=60)
    large, _, _ = write_segments(tmp_path / "b", cuts=(0,), frames=60, size="640x480")
    large[0].segment.start_utc = small[0].segment.end_utc  # right after, no pause
    assert plan_clip(small + large, T0, 10).frames == 60
    assert plan_clip(large, T0, 10).frames == 60


def test_pieces_are_merged_per_fragment(tmp_path):
    sources, _, _ = write_segments(tmp_path)
    plan = plan_clip(sources, T0, 6.0)
    assert plan.frames == 180
    assert len(plan.pieces) < 30  # 0.5 s fragments, not one piece per frame
