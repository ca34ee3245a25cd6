import random
import struct

from camserver.media import fmp4
from camserver.media.fmp4 import TIMESCALE, box, fragment, init_segment
from media_fixtures import (
    FRAME_COUNT,
    LIVE_ENCODER_ARGS,
    encode_flv,
    ffprobe_json,
    run_ffmpeg_decode,
    video_tags,
)

def parse_boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    boxes = []
    offset = 0
    while offset < len(data):
        size, kind = struct.unpack_from(">I4s", data, offset)
        assert size >= 8 and offset + size <= len(data), (kind, size)
        boxes.append((kind, data[offset + 8 : offset + size]))
        offset += size
    return boxes


def find(data: bytes, *path: bytes) -> bytes:
    """Return the payload of the box at ``path``, descending through containers.

    Descending into stsd or avc1 skips the fields that precede their child boxes.

    """
    for kind in path:
        matches = [payload for found, payload in parse_boxes(data) if found == kind]
        assert len(matches) == 1, (kind, [found for found, _ in parse_boxes(data)])
        data = matches[0]
        if kind == b"stsd":
            data = data[8:]  # version, flags, entry_count
        elif kind == b"avc1":
            data = data[78:]
    return data


def sample_entry(init: bytes) -> bytes:
    return find(init, b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd")


def encode(size: str):
    config, frames = video_tags(encode_flv(size, FRAME_COUNT, LIVE_ENCODER_ARGS))
    rng = random.Random(3)
    times = [7_000_000_000 + i * 3000 + rng.randint(-400, 400) for i in range(len(frames) + 1)]
    stream = [init_segment(config, config.width, config.height)]
    for index, frame in enumerate(frames):
        duration = times[index + 1] - times[index]
        stream.append(fragment(index + 1, times[index], duration, frame.data, frame.keyframe))
    return config, frames, times[:-1], b"".join(stream)


def test_box():
    assert box(b"free") == b"\x00\x00\x00\x08free"
    assert box(b"abcd", b"12", b"345") == b"\x00\x00\x00\x0dabcd12345"


def test_ffprobe_decodes_stream(tmp_path):
    _, _, times, stream = encode("640x480")
    path = tmp_path / "video.mp4"
    path.write_bytes(stream)

    decoded = ffprobe_json(
        str(path), "-show_frames", "-show_entries", "frame=pts,key_frame,width,height"
    )["frames"]
    assert len(decoded) == FRAME_COUNT
    assert [int(f["pts"]) for f in decoded] == times
    assert [i for i, f in enumerate(decoded) if f["key_frame"]] == [0, 30]
    assert {(f["width"], f["height"]) for f in decoded} == {(640, 480)}

    streams = ffprobe_json(str(path), "-show_streams")["streams"]
    assert [(s["codec_name"], s["time_base"]) for s in streams] == [("h264", f"1/{TIMESCALE}")]

    assert run_ffmpeg_decode(str(path)) == ""


def test_init_segment_layout():
    config, _ = video_tags(encode_flv())
    init = init_segment(config, 640, 480)
    assert [kind for kind, _ in parse_boxes(init)] == [b"ftyp", b"moov"]

    ftyp = find(init, b"ftyp")
    assert ftyp[:4] == b"isom"
    assert b"iso6" in ftyp[8:] and b"avc1" in ftyp[8:]

    moov = find(init, b"moov")
    assert [kind for kind, _ in parse_boxes(moov)] == [b"mvhd", b"trak", b"mvex"]
    mvhd = find(moov, b"mvhd")
    assert struct.unpack_from(">II", mvhd, 12) == (TIMESCALE, 0)  # timescale, duration

    tkhd = find(moov, b"trak", b"tkhd")
    assert int.from_bytes(tkhd[:4], "big") == 7  # version 0, enabled|in_movie|in_preview
    assert struct.unpack_from(">I", tkhd, 12) == (1,)  # track_ID
    assert struct.unpack(">II", tkhd[-8:]) == (640 << 16, 480 << 16)

    mdhd = find(moov, b"trak", b"mdia", b"mdhd")
    assert struct.unpack_from(">I", mdhd, 12) == (TIMESCALE,)
    assert find(moov, b"trak", b"mdia", b"hdlr")[8:12] == b"vide"

    avc1 = find(sample_entry(init), b"avc1")
    raw_avc1 = parse_boxes(sample_entry(init))[0][1]
    assert struct.unpack_from(">HH", raw_avc1, 24) == (640, 480)
    assert struct.unpack_from(">II", raw_avc1, 28) == (0x00480000, 0x00480000)
    assert struct.unpack_from(">Hh", raw_avc1, 74) == (0x18, -1)
    assert find(avc1, b"avcC") == config.record

    trex = find(moov, b"mvex", b"trex")
    assert struct.unpack(">IIIII", trex[4:]) == (1, 1, 0, 0, 0)


def test_fragment_layout():
    access_unit = b"\x00\x00\x00\x03\x65\x88\x84"
    base = 2**40 + 12345  # needs the 64-bit tfdt
    data = fragment(9, base, 3003, access_unit, keyframe=True)
    assert [kind for kind, _ in parse_boxes(data)] == [b"moof", b"mdat"]
    assert find(data, b"mdat") == access_unit

    moof = find(data, b"moof")
    assert find(moof, b"mfhd") == struct.pack(">II", 0, 9)
    assert find(moof, b"traf", b"tfhd") == struct.pack(">II", 0x020000, 1)
    assert find(moof, b"traf", b"tfdt") == struct.pack(">IQ", 0x01000000, base)

    trun = find(moof, b"traf", b"trun")
    flags, count, data_offset, duration, size, sample_flags = struct.unpack(">IIiIII", trun)
    assert flags == 0x000701
    assert (count, duration, size, sample_flags) == (1, 3003, len(access_unit), 0x02000000)
    # Relative to the start of moof: points right at the mdat payload.
    assert data[data_offset:] == access_unit

    inter = fragment(10, base + 3003, 3003, access_unit, keyframe=False)
    assert struct.unpack(">IIiIII", find(inter, b"moof", b"traf", b"trun"))[5] == 0x01010000

    # A repeat: depends on others, non-sync, and nothing depends on it (is_depended_on = 2).
    repeat = fragment(11, base + 6006, 3003, access_unit, keyframe=False, disposable=True)
    assert struct.unpack(">IIiIII", find(repeat, b"moof", b"traf", b"trun"))[5] == 0x01810000


def test_resolution_change_needs_new_init_segment(tmp_path):
    small_config, _, _, small_stream = encode("640x480")
    large_config, _, times, large_stream = encode("800x600")
    small_init = init_segment(small_config, 640, 480)
    large_init = init_segment(large_config, 800, 600)
    assert small_stream.startswith(small_init) and large_stream.startswith(large_init)

    assert find(sample_entry(small_init), b"avc1", b"avcC") == small_config.record
    assert find(sample_entry(large_init), b"avc1", b"avcC") == large_config.record
    assert small_config.record != large_config.record
    large_tkhd = find(large_init, b"moov", b"trak", b"tkhd")
    assert struct.unpack(">II", large_tkhd[-8:]) == (800 << 16, 600 << 16)
    raw_avc1 = parse_boxes(sample_entry(large_init))[0][1]
    assert struct.unpack_from(">HH", raw_avc1, 24) == (800, 600)

    path = tmp_path / "large.mp4"
    path.write_bytes(large_stream)
    decoded = ffprobe_json(str(path), "-show_frames", "-show_entries", "frame=pts,width,height")[
        "frames"
    ]
    assert {(f["width"], f["height"]) for f in decoded} == {(800, 600)}
    assert [int(f["pts"]) for f in decoded] == times


def test_multi_frame_fragment_decodes_at_its_times(tmp_path):
    config, frames = video_tags(encode_flv("640x480", FRAME_COUNT, LIVE_ENCODER_ARGS))
    times = [i * 3000 + (i % 2) * 11 for i in range(len(frames) + 1)]
    stream = [init_segment(config, config.width, config.height)]
    for n, start in enumerate(range(0, len(frames), 15)):  # 15 frames per fragment
        chunk = range(start, min(start + 15, len(frames)))
        stream.append(fmp4.fragment_of(n + 1, times[start], [
            fmp4.Sample(times[i + 1] - times[i], frames[i].data, frames[i].keyframe)
            for i in chunk]))
    path = tmp_path / "multi.mp4"
    path.write_bytes(b"".join(stream))
    decoded = ffprobe_json(str(path), "-show_frames", "-show_entries",
                           "frame=pts,key_frame")["frames"]
    assert [int(f["pts"]) for f in decoded] == times[:-1]
    assert [f["key_frame"] for f in decoded] == [int(f.keyframe) for f in frames]
    assert run_ffmpeg_decode(str(path)) == ""
    # The trun holds each sample's duration, size and flags; data_offset points at sample 0.
    first = stream[1]
    trun = find(first, b"moof", b"traf", b"trun")
    flags, count, data_offset = struct.unpack_from(">IIi", trun)
    assert (flags, count) == (0x000701, 15)
    assert first[data_offset:data_offset + len(frames[0].data)] == frames[0].data
    # A one-frame fragment() is the same bytes as before the multi-frame version existed.
    assert fragment(3, 9000, 3000, frames[1].data, False) == fmp4.fragment_of(
        3, 9000, [fmp4.Sample(3000, frames[1].data, False)])


def test_prft_round_trip():
    data = fmp4.prft(1_700_000_000.123456, 2**33 + 5)
    assert data[:8] == struct.pack(">I4s", 32, b"prft") and data[8] == 1
    utc, media_time = fmp4.parse_prft(data[8:])
    assert abs(utc - 1_700_000_000.123456) < 1e-6 and media_time == 2**33 + 5


def test_progressive_movie_plays_and_seeks(tmp_path):
    config, frames = video_tags(encode_flv("640x480", FRAME_COUNT, LIVE_ENCODER_ARGS))
    durations = [3000 + (i % 3) * 100 for i in range(len(frames))]
    samples = [fmp4.Sample(d, f.data, f.keyframe) for d, f in zip(durations, frames)]
    header = fmp4.progressive_header(config, config.width, config.height, samples)
    data = header + b"".join(f.data for f in frames)
    assert [kind for kind, _ in parse_boxes(data)] == [b"ftyp", b"moov", b"mdat"]
    moov = find(data, b"moov")
    assert b"mvex" not in [kind for kind, _ in parse_boxes(moov)]
    assert struct.unpack_from(">I", find(moov, b"mvhd"), 16)[0] == sum(durations)
    stbl = (b"trak", b"mdia", b"minf", b"stbl")
    assert find(moov, *stbl, b"stss") == struct.pack(">IIII", 0, 2, 1, 31)
    path = tmp_path / "movie.mp4"
    path.write_bytes(data)
    decoded = ffprobe_json(str(path), "-show_frames", "-show_entries",
                           "frame=pts,key_frame")["frames"]
    expected = [sum(durations[:i]) for i in range(len(frames))]
    assert [int(f["pts"]) for f in decoded] == expected
    assert run_ffmpeg_decode(str(path)) == ""
    fmt = ffprobe_json(str(path), "-show_format")["format"]
    assert abs(float(fmt["duration"]) - sum(durations) / TIMESCALE) < 0.001
    # Seeking to 1.2 s lands on the keyframe at 1.0 s (frame 30).
    seek = ffprobe_json(str(path), "-read_intervals", "1.2%+0.1", "-show_frames",
                        "-show_entries", "frame=pts,key_frame")["frames"]
    assert int(seek[0]["pts"]) == expected[30] and seek[0]["key_frame"] == 1


def test_progressive_header_uses_64_bit_offsets_past_4_gib():
    config, frames = video_tags(encode_flv("640x480", FRAME_COUNT, LIVE_ENCODER_ARGS))
    big = [fmp4.Sample(3000, 1 << 30, i == 0) for i in range(5)]  # 5 GiB of (sizes only)
    header = fmp4.progressive_header(config, 640, 480, big)
    assert header[-16:-8] == struct.pack(">I4s", 1, b"mdat")
    assert struct.unpack(">Q", header[-8:])[0] == 16 + 5 * (1 << 30)
    co64 = find(header[:-16], b"moov", b"trak", b"mdia", b"minf", b"stbl", b"co64")
    offsets = struct.unpack(">5Q", co64[8:])
    assert offsets[0] == len(header) and offsets[4] == len(header) + 4 * (1 << 30)
