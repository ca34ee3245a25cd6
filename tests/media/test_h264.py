import re

import pytest

from camserver.media.h264 import (
    AvcConfig,
    H264Error,
    SpsInfo,
    avcc_to_annexb,
    iter_avcc_nal_units,
    nal_unit_type,
    parse_sps,
)
from camserver.media.repeat import add_emulation_prevention
from media_fixtures import LIVE_ENCODER_ARGS, encode_flv, video_tags


def encoder_args(*extra: str, preset: str = "ultrafast", pix_fmt: str = "yuv420p"):
    return ("-c:v", "libx264", "-preset", preset, "-pix_fmt", pix_fmt, *extra)


def config_for(size: str, args=LIVE_ENCODER_ARGS) -> AvcConfig:
    config, _ = video_tags(encode_flv(size, 2, args))
    return config


def test_live_encoder_config():
    config, _ = video_tags(encode_flv())
    # Constrained Baseline (profile 66, constraint_set0 and 1), level 3.0.
    assert config.codec_string == "avc1.42c01e"
    assert (config.profile_idc, config.profile_compat, config.level_idc) == (66, 0xC0, 30)
    assert config.nal_length_size == 4
    assert len(config.sps) == 1 and len(config.pps) == 1
    assert nal_unit_type(config.sps[0]) == 7
    assert nal_unit_type(config.pps[0]) == 8
    assert (config.width, config.height) == (640, 480)
    assert parse_sps(config.sps[0]) == SpsInfo(66, 0xC0, 30, 640, 480)
    assert config.annexb_parameter_sets == (
        b"\x00\x00\x00\x01" + config.sps[0] + b"\x00\x00\x00\x01" + config.pps[0]
    )
    assert config.record[0] == 1


@pytest.mark.parametrize(
    "size, args, expected",
    [
        ("640x480", LIVE_ENCODER_ARGS, (640, 480)),
        ("800x600", LIVE_ENCODER_ARGS, (800, 600)),  # 600 = 38 macroblocks - 8
        ("1280x720", LIVE_ENCODER_ARGS, (1280, 720)),
        ("1600x1200", LIVE_ENCODER_ARGS, (1600, 1200)),
        ("1366x768", LIVE_ENCODER_ARGS, (1366, 768)),  # crop_right = 5
        # High profile: chroma_format_idc and friends are present.
        ("1920x1080", encoder_args("-profile:v", "high", preset="medium"), (1920, 1080)),
        # Interlaced: frame_mbs_only_flag = 0, cropping in field pairs.
        ("1920x1080", encoder_args("-x264-params", "interlaced=1"), (1920, 1080)),
        # 4:4:4 crops in units of one pixel, 4:2:2 in one row and two columns.
        ("636x358", encoder_args(pix_fmt="yuv444p"), (636, 358)),
        ("642x362", encoder_args(pix_fmt="yuv422p"), (642, 362)),
    ],
)
def test_picture_size(size, args, expected):
    config = config_for(size, args)
    assert (config.width, config.height) == expected
    sps = parse_sps(config.sps[0])
    assert (sps.profile_idc, sps.constraint_flags, sps.level_idc) == (
        config.profile_idc,
        config.profile_compat,
        config.level_idc,
    )


def test_high_profile_codec_string():
    config = config_for("1920x1080", encoder_args("-profile:v", "high", preset="medium"))
    assert re.fullmatch(r"avc1\.6400[0-9a-f]{2}", config.codec_string)
    assert config.codec_string == "avc1.640028"  # level 4.0


class BitWriter:
    def __init__(self):
        self.bits = ""

    def u(self, count, value):
        self.bits += format(value, f"0{count}b")

    def ue(self, value):
        code = format(value + 1, "b")
        self.bits += "0" * (len(code) - 1) + code

    def se(self, value):
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def rbsp(self) -> bytes:
        bits = self.bits + "1"  # rbsp_stop_one_bit
        bits += "0" * (-len(bits) % 8)
        return int(bits, 2).to_bytes(len(bits) // 8, "big")


def test_synthetic_sps_with_scaling_lists_poc_type_1_and_emulation_prevention():
    w = BitWriter()
    w.u(8, 100)  # profile_idc: High
    w.u(8, 0)
    w.u(8, 41)
    w.ue(0)  # seq_parameter_set_id
    w.ue(1)  # chroma_format_idc
    w.ue(0)
    w.ue(0)
    w.u(1, 0)
    w.u(1, 1)  # seq_scaling_matrix_present_flag
    for index in range(8):
        present = index in (0, 6, 7)
        w.u(1, present)
        if present:
            size = 16 if index < 6 else 64
            # Varying deltas, then a zero next_scale ending list 7 early.
            deltas = [3, -2] * (size // 2) if index != 7 else [5, -13]
            for delta in deltas:
                w.se(delta)
    w.ue(0)  # log2_max_frame_num_minus4
    w.ue(1)  # pic_order_cnt_type
    w.u(1, 0)
    w.se(1 << 23)  # offset_for_non_ref_pic: a long zero run
    w.se(-7)
    w.ue(2)
    w.se(1)
    w.se(-1)
    w.ue(4)  # max_num_ref_frames
    w.u(1, 0)
    w.ue(1920 // 16 - 1)
    w.ue(1088 // 16 - 1)
    w.u(1, 1)  # frame_mbs_only_flag
    w.u(1, 1)
    w.u(1, 1)  # frame_cropping_flag
    for offset in (2, 3, 1, 3):  # left, right, top, bottom, in 2-pixel units
        w.ue(offset)
    w.u(1, 0)  # vui_parameters_present_flag
    nal = b"\x67" + add_emulation_prevention(w.rbsp())
    assert b"\x00\x00\x03" in nal

    assert parse_sps(nal) == SpsInfo(100, 0, 41, 1920 - 10, 1088 - 8)


def test_sps_errors():
    config = config_for("640x480")
    with pytest.raises(H264Error, match="not an SPS"):
        parse_sps(config.pps[0])
    with pytest.raises(H264Error, match="truncated"):
        parse_sps(config.sps[0][:5])
    with pytest.raises(H264Error):
        nal_unit_type(b"")


def test_truncated_record_raises():
    record = config_for("640x480").record
    for size in range(len(record)):
        with pytest.raises(H264Error):
            AvcConfig.parse(record[:size])
    assert AvcConfig.parse(record).record == record


def test_bad_version_raises():
    record = config_for("640x480").record
    with pytest.raises(H264Error, match="version"):
        AvcConfig.parse(b"\x02" + record[1:])


def test_high_profile_record_extension_is_ignored():
    config = config_for("1920x1080", encoder_args("-profile:v", "high", preset="medium"))
    # 4 bytes for chroma_format, bit depths and the SPS extension count.
    used = 6 + 2 + len(config.sps[0]) + 1 + 2 + len(config.pps[0])
    assert len(config.record) == used + 4


def test_avcc_to_annexb_round_trip():
    _, frames = video_tags(encode_flv())
    keyframe = frames[0].data
    nal_units = [bytes(nal) for nal in iter_avcc_nal_units(keyframe)]
    # x264 puts its SEI before the IDR slices (one per thread) of the first frame.
    types = [nal_unit_type(nal) for nal in nal_units]
    assert types[0] == 6 and set(types[1:]) == {5}

    annexb = avcc_to_annexb(keyframe)
    assert annexb.startswith(b"\x00\x00\x00\x01")
    assert len(annexb) == len(keyframe)
    split = annexb.split(b"\x00\x00\x00\x01")
    assert split[0] == b"" and split[1:] == nal_units

    assert b"".join(len(nal).to_bytes(4, "big") + nal for nal in split[1:]) == keyframe


def test_avcc_with_two_byte_lengths():
    data = b"\x00\x02\x09\xf0\x00\x03\x41\x9a\x00"
    assert [bytes(nal) for nal in iter_avcc_nal_units(data, 2)] == [b"\x09\xf0", b"\x41\x9a\x00"]
    assert avcc_to_annexb(data, 2) == b"\x00\x00\x00\x01\x09\xf0\x00\x00\x00\x01\x41\x9a\x00"


def test_avcc_length_past_end_raises():
    with pytest.raises(H264Error):
        avcc_to_annexb(b"\x00\x00\x00\x05\x65\x88")
    with pytest.raises(H264Error):
        avcc_to_annexb(b"\x00\x00\x00\x01\x65\x00\x00")  # cut-off length prefix
