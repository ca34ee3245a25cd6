"""Segment files from real H.264 (FFmpeg's libx264, as the server's encoder makes it), read back
by our parser and decoded by the real ffprobe/ffmpeg, whole and cut off anywhere."""

import io
import struct

import pytest

from camserver.media import fmp4
from camserver.recording.segment import (FRAGMENT_TICKS, NotASegment, SegmentBuilder,
                                         read_segment)
from media_fixtures import encode_flv, ffprobe_json, run_ffmpeg_decode, video_tags

START_UTC = 1_700_000_000.25
FRAMES = 90  # 3 s at 30 fps, keyframes every 30 frames


def build(frames=FRAMES, interval=3000, first_pts=5_000_000):
    config, tags = video_tags(encode_flv("320x240", frames))
    init = fmp4.init_segment(config, config.width, config.height)
    builder = SegmentBuilder(init, first_pts, START_UTC)
    out = [builder.header]
    times = []
    for n, tag in enumerate(tags):
        pts = first_pts + n * interval + (n % 3) * 7  # a little jitter
        times.append(pts)
        if data := builder.add(pts, tag.data, tag.keyframe):
            out.append(data)
    out.append(builder.flush())
    return config, tags, times, builder, b"".join(out)


def boxes(data):
    offset, kinds = 0, []
    while offset < len(data):
        size, kind = struct.unpack_from(">I4s", data, offset)
        kinds.append((kind, offset, size))
        offset += size
    return kinds


def test_fragments_start_at_keyframes_and_last_at_most_half_a_second(tmp_path):
    config, tags, times, builder, data = build()
    kinds = [k for k, _, _ in boxes(data)]
    assert kinds[:2] == [b"ftyp", b"moov"]
    assert kinds[2:] == [b"prft", b"moof", b"mdat"] * ((len(kinds) - 2) // 3)
    segment = read_segment(io.BytesIO(data), len(data))
    assert segment.avcc_record == config.record and (segment.width, segment.height) == (320, 240)
    assert len(segment.samples) == FRAMES == builder.frames
    assert [s.keyframe for s in segment.samples] == [t.keyframe for t in tags]
    assert [s.dts for s in segment.samples] == [t - times[0] for t in times]
    assert segment.start_utc == pytest.approx(START_UTC, abs=1e-6)
    # Every fragment: its first sample is a keyframe or the fragment is cut at 0.5 s.
    fragments = [o for k, o, _ in boxes(data) if k == b"moof"]
    assert len(fragments) >= 6
    f = io.BytesIO(data)
    per_fragment = []
    for offset in fragments:
        moof_samples = [s for s in segment.samples if offset < s.offset < (
            min([o for o in fragments if o > offset], default=len(data)))]
        per_fragment.append(moof_samples)
        span = moof_samples[-1].dts - moof_samples[0].dts
        assert span < FRAGMENT_TICKS
    assert all(frag[0].keyframe or len(prev) * 3000 >= FRAGMENT_TICKS - 3000
               for prev, frag in zip(per_fragment, per_fragment[1:]))
    assert segment.duration == pytest.approx(FRAMES * 3000 / 90000, abs=0.001)
    # What ffprobe sees: every frame, from 0, at our times; and ffmpeg decodes it cleanly.
    path = tmp_path / "segment.mp4"
    path.write_bytes(data)
    decoded = ffprobe_json(str(path), "-show_frames", "-show_entries",
                           "frame=pts,key_frame")["frames"]
    assert [int(fr["pts"]) for fr in decoded] == [t - times[0] for t in times]
    assert run_ffmpeg_decode(str(path)) == ""


def test_prft_gives_each_fragment_its_utc():
    _, _, times, _, data = build()
    for kind, offset, size in boxes(data):
        if kind == b"prft":
            utc, media_time = fmp4.parse_prft(data[offset + 8:offset + size])
            assert utc == pytest.approx(START_UTC + media_time / 90000, abs=1e-6)


@pytest.mark.parametrize("cut_fraction", [0.35, 0.5, 0.77, 0.999])
def test_a_file_cut_anywhere_keeps_every_whole_fragment(tmp_path, cut_fraction):
    """What a SIGKILL or power cut mid-write leaves: the whole fragments before the cut play."""
    _, _, times, _, data = build()
    cut = int(len(data) * cut_fraction)
    truncated = data[:cut]
    segment = read_segment(io.BytesIO(truncated), len(truncated))
    whole_fragments_end = max(o + s for k, o, s in boxes(data) if k == b"mdat" and o + s <= cut)
    assert segment.valid_bytes == whole_fragments_end
    assert segment.samples and all(s.offset + s.size <= cut for s in segment.samples)
    path = tmp_path / "cut.mp4"
    path.write_bytes(truncated)
    decoded = ffprobe_json(str(path), "-show_frames", "-show_entries", "frame=pts")["frames"]
    assert len(decoded) >= len(segment.samples)
    # Trimmed to the last whole fragment (what start-up does), it decodes without an error.
    path.write_bytes(data[:segment.valid_bytes])
    assert run_ffmpeg_decode(str(path)) == ""


def test_the_last_frame_lasts_until_the_next_or_the_previous_interval():
    config, tags = video_tags(encode_flv("320x240", 45))
    builder = SegmentBuilder(b"init", 0, 0.0)
    builder.add(0, tags[0].data, True)
    builder.add(3000, tags[1].data, False)
    data = builder.flush(next_pts=9000)
    assert builder.end_pts == 9000
    builder.add(20000, tags[2].data, False)
    builder.flush()
    assert builder.end_pts == 20000 + 9000 - 3000  # the previous interval
    # Out-of-order or equal times are nudged forward: decode times must increase.
    builder.add(20000, tags[3].data, False)
    builder.flush()
    assert builder.end_pts > 20001
    assert data.startswith(struct.pack(">I4s", 32, b"prft"))


def test_a_segment_must_start_at_a_keyframe():
    with pytest.raises(ValueError):
        SegmentBuilder(b"init", 0, 0.0).add(0, b"\0\0\0\1\x41", False)


def test_not_a_segment():
    for data in (b"", b"\0\0\0\x10ftypisom\0\0\0\0", b"hello world, no mp4 here"):
        with pytest.raises(NotASegment):
            read_segment(io.BytesIO(data), len(data))
