import random
import struct

import pytest

from camserver.media.flv import FlvError, FlvReader, FlvVideoTag
from media_fixtures import FRAME_COUNT, encode_flv, ffprobe_json

FLV_HEADER = b"FLV\x01\x01\x00\x00\x00\x09" + bytes(4)


def make_tag(tag_type: int, timestamp_ms: int, body: bytes) -> bytes:
    """Build an FLV tag followed by its PreviousTagSize."""
    header = struct.pack(
        ">B3s3sB3s",
        tag_type,
        len(body).to_bytes(3, "big"),
        (timestamp_ms & 0xFFFFFF).to_bytes(3, "big"),
        timestamp_ms >> 24,
        bytes(3),
    )
    return header + body + struct.pack(">I", 11 + len(body))


def avc_body(frame_type: int, packet_type: int, composition_time: int, data: bytes) -> bytes:
    return (
        bytes([frame_type << 4 | 7, packet_type])
        + composition_time.to_bytes(3, "big", signed=True)
        + data
    )


def feed_in_chunks(reader: FlvReader, data: bytes, sizes) -> list[FlvVideoTag]:
    tags = []
    offset = 0
    for size in sizes:
        tags += reader.feed(data[offset : offset + size])
        offset += size
    tags += reader.feed(data[offset:])
    return tags


def test_parses_ffmpeg_output(tmp_path):
    flv = encode_flv()
    tags = FlvReader().feed(flv)

    assert len(tags) == 1 + FRAME_COUNT
    header, frames = tags[0], tags[1:]
    assert header.is_sequence_header and header.keyframe
    assert header.timestamp_ms == 0
    assert header.data[0] == 1  # configurationVersion
    assert not any(frame.is_sequence_header for frame in frames)
    assert [i for i, frame in enumerate(frames) if frame.keyframe] == [0, 30]
    assert all(frame.composition_time_ms == 0 for frame in frames)

    # ffprobe demuxes the same packets: same timestamps, sizes and key flags.
    path = tmp_path / "video.flv"
    path.write_bytes(flv)
    packets = ffprobe_json(str(path), "-show_entries", "packet=pts,size,flags", "-show_packets")[
        "packets"
    ]
    assert [frame.timestamp_ms for frame in frames] == [int(p["pts"]) for p in packets]
    assert [len(frame.data) for frame in frames] == [int(p["size"]) for p in packets]
    assert [frame.keyframe for frame in frames] == [p["flags"].startswith("K") for p in packets]
    assert [frame.timestamp_ms for frame in frames[:4]] == [0, 33, 67, 100]
    # The payload is AVCC: the first NAL length covers part of the frame.
    first_nal_length = int.from_bytes(frames[1].data[:4], "big")
    assert 0 < first_nal_length <= len(frames[1].data) - 4


def test_chunk_boundaries_do_not_matter():
    flv = encode_flv()
    expected = FlvReader().feed(flv)

    rng = random.Random(1234)
    random_sizes = [rng.randint(1, 5000) for _ in range(400)]
    assert feed_in_chunks(FlvReader(), flv, random_sizes) == expected

    # Byte by byte through the header, the script tag and the sequence header.
    assert feed_in_chunks(FlvReader(), flv, [1] * 2000) == expected


def test_tag_is_returned_as_soon_as_complete():
    tag = make_tag(9, 40, avc_body(2, 1, 0, b"\x00\x00\x00\x01\x41"))
    reader = FlvReader()
    assert reader.feed(FLV_HEADER + tag[:-1]) == []
    assert reader.feed(tag[-1:]) == [FlvVideoTag(40, False, False, b"\x00\x00\x00\x01\x41")]
    assert reader.feed(b"") == []


def test_skips_audio_script_end_of_sequence_and_command_frames():
    stream = b"".join(
        [
            FLV_HEADER,
            make_tag(18, 0, b"\x02\x00\x0aonMetaData"),
            make_tag(8, 0, b"\xaf\x00\x12\x10"),
            make_tag(9, 0, avc_body(1, 0, 0, b"\x01record")),
            make_tag(9, 0, b"\x57\x00"),  # video info/command frame
            make_tag(8, 20, b"\xaf\x01audio"),
            make_tag(9, 33, avc_body(1, 1, 0, b"key")),
            make_tag(9, 67, avc_body(2, 1, 0, b"inter")),
            make_tag(9, 67, avc_body(1, 2, 0, b"")),
        ]
    )
    assert FlvReader().feed(stream) == [
        FlvVideoTag(0, True, True, b"\x01record"),
        FlvVideoTag(33, True, False, b"key"),
        FlvVideoTag(67, False, False, b"inter"),
    ]


def test_extended_timestamp_and_composition_time():
    timestamp = 0x12345678  # needs the TimestampExtended byte
    stream = FLV_HEADER + make_tag(9, timestamp, avc_body(2, 1, -40, b"x"))
    (tag,) = FlvReader().feed(stream)
    assert tag.timestamp_ms == timestamp
    assert tag.composition_time_ms == -40


def test_larger_header_data_offset_is_honored():
    header = b"FLV\x01\x01\x00\x00\x00\x0c" + b"pad" + bytes(4)
    stream = header + make_tag(9, 5, avc_body(2, 1, 0, b"x"))
    assert FlvReader().feed(stream) == [FlvVideoTag(5, False, False, b"x")]


def test_bad_signature_raises():
    with pytest.raises(FlvError):
        FlvReader().feed(b"FLX\x01\x01\x00\x00\x00\x09\x00\x00\x00\x00")


def test_bad_signature_raises_before_header_is_complete():
    reader = FlvReader()
    assert reader.feed(b"F") == []
    with pytest.raises(FlvError):
        reader.feed(b"4")


def test_non_avc_codec_raises():
    # Codec id 2 is Sorenson H.263.
    stream = FLV_HEADER + make_tag(9, 0, b"\x22\x00\x00\x00\x00")
    with pytest.raises(FlvError, match="codec"):
        FlvReader().feed(stream)
