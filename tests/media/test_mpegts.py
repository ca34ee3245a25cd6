import dataclasses
import random

import pytest

from camserver.media.h264 import avcc_to_annexb
from camserver.media.mpegts import PCR_DELAY_90K, TS_PACKET_SIZE, TsMuxer
from media_fixtures import (
    FRAME_COUNT,
    encode_flv,
    ffprobe_json,
    run_ffmpeg_decode,
    video_tags,
)

PAT_PID, PMT_PID, VIDEO_PID = 0x0000, 0x1000, 0x0100
AUD = b"\x00\x00\x00\x01\x09\xf0"

# The PAT and PMT that FFmpeg's mpegts muxer writes with its defaults, which
# this muxer's layout matches (continuity counter 0).
FFMPEG_PAT = bytes.fromhex("474000100000b00d0001c100000001f0002ab104b2").ljust(188, b"\xff")
FFMPEG_PMT = bytes.fromhex("475000100002b0120001c10000e100f0001be100f00015bd4d56").ljust(
    188, b"\xff"
)


@dataclasses.dataclass
class Packet:
    pid: int
    unit_start: bool
    counter: int
    adaptation: bytes | None  # adaptation field after its length byte
    payload: bytes

    @property
    def random_access(self) -> bool:
        return bool(self.adaptation and self.adaptation[0] & 0x40)

    @property
    def pcr(self) -> int | None:
        if not (self.adaptation and self.adaptation[0] & 0x10):
            return None
        raw = int.from_bytes(self.adaptation[1:7], "big")
        assert raw >> 9 & 0x3F == 0x3F  # reserved bits
        assert raw & 0x1FF == 0  # no 27 MHz extension
        return raw >> 15


def parse_packets(ts: bytes) -> list[Packet]:
    assert len(ts) % TS_PACKET_SIZE == 0
    packets = []
    for offset in range(0, len(ts), TS_PACKET_SIZE):
        raw = ts[offset : offset + TS_PACKET_SIZE]
        assert raw[0] == 0x47
        control = raw[3] >> 4 & 0x3
        assert control in (1, 3), "every packet carries a payload"
        adaptation = None
        body_start = 4
        if control == 3:
            length = raw[4]
            adaptation = raw[5 : 5 + length]
            body_start = 5 + length
        packets.append(
            Packet(
                pid=int.from_bytes(raw[1:3], "big") & 0x1FFF,
                unit_start=bool(raw[1] & 0x40),
                counter=raw[3] & 0x0F,
                adaptation=adaptation,
                payload=raw[body_start:],
            )
        )
    return packets


def pes_units(packets: list[Packet]) -> list[tuple[Packet, bytes]]:
    """Reassemble video PES packets; return each with its first TS packet."""
    units = []
    for packet in packets:
        if packet.pid != VIDEO_PID:
            continue
        if packet.unit_start:
            units.append((packet, bytearray()))
        units[-1][1].extend(packet.payload)
    return [(first, bytes(pes)) for first, pes in units]


def parse_pes(pes: bytes) -> tuple[int, int, bytes]:
    """Return the PES_packet_length, PTS and payload of a video PES packet."""
    assert pes[:4] == b"\x00\x00\x01\xe0"
    assert pes[7] >> 6 == 0b10, "PTS only"
    header_length = pes[8]
    p = pes[9:14]
    assert p[0] >> 4 == 0b0010 and p[0] & p[2] & p[4] & 1
    pts = (p[0] >> 1 & 0x7) << 30 | p[1] << 22 | (p[2] >> 1) << 15 | p[3] << 7 | p[4] >> 1
    return int.from_bytes(pes[4:6], "big"), pts, pes[9 + header_length :]


def live_frames():
    config, frames = video_tags(encode_flv())
    rng = random.Random(7)
    # Arrival-time timestamps: nominal 30 fps with jitter, using all 33 bits.
    pts = [5_000_000_000 + i * 3000 + rng.randint(-400, 400) for i in range(len(frames))]
    annexb = [avcc_to_annexb(frame.data) for frame in frames]
    return config, frames, annexb, pts


def test_ffprobe_decodes_muxed_stream(tmp_path):
    config, frames, annexb, pts = live_frames()
    muxer = TsMuxer()
    ts = b"".join(
        muxer.mux(au, t, frame.keyframe, config.annexb_parameter_sets)
        for au, t, frame in zip(annexb, pts, frames)
    )
    path = tmp_path / "video.ts"
    path.write_bytes(ts)

    packets = ffprobe_json(str(path), "-show_packets", "-show_entries", "packet=pts,dts,flags")[
        "packets"
    ]
    assert [int(p["pts"]) for p in packets] == pts
    assert [int(p["dts"]) for p in packets] == pts
    assert [i for i, p in enumerate(packets) if p["flags"].startswith("K")] == [0, 30]

    decoded = ffprobe_json(
        str(path),
        "-show_frames",
        "-show_entries",
        "frame=pts,key_frame,width,height,pix_fmt",
    )["frames"]
    assert len(decoded) == FRAME_COUNT
    assert {(f["width"], f["height"], f["pix_fmt"]) for f in decoded} == {(640, 480, "yuv420p")}
    assert [int(f["pts"]) for f in decoded] == pts
    assert [i for i, f in enumerate(decoded) if f["key_frame"]] == [0, 30]

    assert run_ffmpeg_decode(str(path)) == ""


def test_every_packet_is_188_bytes_with_sync_byte():
    config, frames, annexb, pts = live_frames()
    muxer = TsMuxer()
    for au, t, frame in zip(annexb[:5], pts, frames):
        ts = muxer.mux(au, t, frame.keyframe, config.annexb_parameter_sets)
        assert len(ts) % 188 == 0
        assert all(ts[i] == 0x47 for i in range(0, len(ts), 188))


def test_keyframe_output_starts_with_pat_and_pmt():
    muxer = TsMuxer()
    ts = muxer.mux(b"\x00\x00\x00\x01\x65\x88", 0, keyframe=True)
    assert ts[:188] == FFMPEG_PAT
    assert ts[188:376] == FFMPEG_PMT
    assert parse_packets(ts)[2].pid == VIDEO_PID

    ts = muxer.mux(b"\x00\x00\x00\x01\x41\x9a", 3000, keyframe=False)
    assert {packet.pid for packet in parse_packets(ts)} == {VIDEO_PID}

    # Precomputed tables only change in their continuity counter.
    ts = muxer.mux(b"\x00\x00\x00\x01\x65\x88", 6000, keyframe=True)
    assert ts[:3] + bytes([ts[3] & 0xF0]) + ts[4:188] == FFMPEG_PAT
    assert ts[3] & 0x0F == 1
    assert ts[188 + 3] & 0x0F == 1


def test_continuity_counters_continue_across_calls_and_wrap():
    muxer = TsMuxer()
    big_keyframe = b"\x00\x00\x00\x01\x65" + bytes(range(256)) * 20  # 28 packets
    outputs = [
        muxer.mux(big_keyframe, 0, keyframe=True),
        muxer.mux(b"\x00\x00\x00\x01\x41\x9a", 3000, keyframe=False),
        muxer.mux(big_keyframe, 6000, keyframe=True),
    ]
    counters = {}
    for ts in outputs:
        for packet in parse_packets(ts):
            counters.setdefault(packet.pid, []).append(packet.counter)
    assert counters[PAT_PID] == [0, 1]
    assert counters[PMT_PID] == [0, 1]
    video = counters[VIDEO_PID]
    assert len(video) > 32
    assert video == [i % 16 for i in range(len(video))]


def test_pcr_random_access_and_timestamps():
    config, frames, annexb, pts = live_frames()
    muxer = TsMuxer()
    for au, t, frame in zip(annexb, pts, frames):
        packets = parse_packets(muxer.mux(au, t, frame.keyframe, config.annexb_parameter_sets))
        ((first, pes),) = pes_units(packets)
        _, pes_pts, _ = parse_pes(pes)
        assert pes_pts == t
        assert first.pcr == t - PCR_DELAY_90K
        assert 0 <= t - first.pcr < 90000 // 30
        assert first.random_access == frame.keyframe
        video = [packet for packet in packets if packet.pid == VIDEO_PID]
        assert all(packet.pcr is None and not packet.random_access for packet in video[1:])


def test_pes_payload_is_aud_parameter_sets_and_access_unit():
    config, frames, annexb, pts = live_frames()
    parameter_sets = config.annexb_parameter_sets
    muxer = TsMuxer()

    ((_, pes),) = pes_units(parse_packets(muxer.mux(annexb[0], pts[0], True, parameter_sets)))
    length, _, payload = parse_pes(pes)
    assert payload == AUD + parameter_sets + annexb[0]
    assert length == len(pes) - 6

    # Parameter sets are only for keyframes.
    ((_, pes),) = pes_units(parse_packets(muxer.mux(annexb[1], pts[1], False, parameter_sets)))
    assert parse_pes(pes)[2] == AUD + annexb[1]


def test_existing_aud_is_kept_and_parameter_sets_follow_it():
    own_aud = b"\x00\x00\x01\x09\x10"  # 3-byte start code, primary_pic_type 0
    idr = b"\x00\x00\x00\x01\x65\x88\x84"
    muxer = TsMuxer()
    ((_, pes),) = pes_units(parse_packets(muxer.mux(own_aud + idr, 0, True, b"<SPS+PPS>")))
    assert parse_pes(pes)[2] == own_aud + b"<SPS+PPS>" + idr
    ((_, pes),) = pes_units(parse_packets(muxer.mux(own_aud + idr, 0, False, b"<SPS+PPS>")))
    assert parse_pes(pes)[2] == own_aud + idr


@pytest.mark.parametrize("keyframe", [True, False])
def test_last_packet_is_stuffed_with_adaptation_field(keyframe):
    # Cover every amount of stuffing, in single- and multi-packet PES.
    muxer = TsMuxer()
    for size in [*range(1, 200), *range(300, 560)]:
        access_unit = b"\x00\x00\x00\x01\x41" + bytes([0xA5]) * size
        packets = parse_packets(muxer.mux(access_unit, 90000, keyframe))
        ((_, pes),) = pes_units(packets)
        assert parse_pes(pes)[2] == AUD + access_unit, size
        for packet in packets:
            if packet.pid == VIDEO_PID and packet.adaptation:
                # Skip the flags byte, and the PCR if present.
                stuffing = packet.adaptation[7 if packet.pcr is not None else 1 :]
                assert set(stuffing) <= {0xFF}


def test_pts_and_pcr_wrap_at_33_bits():
    muxer = TsMuxer()
    packets = parse_packets(muxer.mux(b"\x00\x00\x00\x01\x65\x88", 2**33 + 5, keyframe=True))
    ((first, pes),) = pes_units(packets)
    assert parse_pes(pes)[1] == 5
    # The PCR lags the PTS, so it hasn't wrapped yet.
    assert first.pcr == (5 - PCR_DELAY_90K) % 2**33
    assert first.pcr > 2**33 - 90000


def test_large_frame_has_unbounded_pes_length_and_decodes(tmp_path):
    args = (
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
        "-pix_fmt", "yuv420p", "-bf", "0", "-qp", "4",
    )  # fmt: skip
    config, frames = video_tags(encode_flv("1600x1200", 2, args))
    annexb = [avcc_to_annexb(frame.data) for frame in frames]
    assert len(annexb[0]) > 65535

    muxer = TsMuxer()
    pts = [90000, 93000]
    ts = b"".join(
        muxer.mux(au, t, frame.keyframe, config.annexb_parameter_sets)
        for au, t, frame in zip(annexb, pts, frames)
    )
    ((_, big_pes), (_, small_pes)) = pes_units(parse_packets(ts))
    length, _, payload = parse_pes(big_pes)
    assert length == 0
    assert payload == AUD + config.annexb_parameter_sets + annexb[0]
    if len(small_pes) - 6 <= 65535:
        assert parse_pes(small_pes)[0] == len(small_pes) - 6

    path = tmp_path / "big.ts"
    path.write_bytes(ts)
    decoded = ffprobe_json(
        str(path), "-show_frames", "-show_entries", "frame=pts,key_frame,width,height"
    )["frames"]
    assert [(int(f["pts"]), f["key_frame"], f["width"], f["height"]) for f in decoded] == [
        (90000, 1, 1600, 1200),
        (93000, 0, 1600, 1200),
    ]
    assert run_ffmpeg_decode(str(path)) == ""
