"""Repeat pictures: checked by decoding with the real FFmpeg, frame by frame."""

import subprocess

import pytest

from camserver.media.h264 import (AvcConfig, H264Error, _BitReader, avcc_to_annexb,
                            iter_avcc_nal_units, parse_pps, parse_slice_start, parse_sps)
from camserver.ingest.packager import Packager
from camserver.media.repeat import RepeatMaker, _BitWriter, add_emulation_prevention, skip_slice
from media_fixtures import LIVE_ENCODER_ARGS, encode_flv, ffmpeg_exe, video_tags


def frame_hashes(annexb: bytes) -> list[str]:
    """MD5 of every decoded picture, failing on any decoder complaint."""
    completed = subprocess.run(
        [ffmpeg_exe(), "-nostdin", "-v", "warning", "-f", "h264", "-i", "pipe:0",
         "-f", "framemd5", "pipe:1"], input=annexb, capture_output=True, check=True)
    assert completed.stderr == b"", completed.stderr.decode()
    return [line.rsplit(b",", 1)[1].strip().decode()
            for line in completed.stdout.splitlines() if not line.startswith(b"#")]


def with_repeats(config: AvcConfig, frames, per_frame: int) -> bytes:
    maker = RepeatMaker(config)
    assert maker.unsupported == ""
    parts = [config.annexb_parameter_sets]
    for frame in frames:
        parts.append(avcc_to_annexb(frame.data, config.nal_length_size))
        maker.observe(frame.data)
        for _ in range(per_frame):
            parts.append(avcc_to_annexb(maker.make(), config.nal_length_size))
    return b"".join(parts)


@pytest.mark.parametrize("per_frame", [1, 3])
def test_repeats_decode_to_the_previous_picture_and_change_nothing_else(per_frame):
    # The live encoder's settings: sliced threads (two slices a picture), keyframes every 30.
    config, frames = video_tags(encode_flv("640x480", 45, LIVE_ENCODER_ARGS))
    plain = frame_hashes(config.annexb_parameter_sets + b"".join(
        avcc_to_annexb(f.data, config.nal_length_size) for f in frames))
    repeated = frame_hashes(with_repeats(config, frames, per_frame))
    assert len(plain) == 45
    assert repeated == [h for h in plain for _ in range(per_frame + 1)]


def test_odd_sizes_and_other_parameter_sets_decode_too():
    # 100x60: a 7x4 macroblock picture with cropping; keyframes every 5 frames.
    args = LIVE_ENCODER_ARGS[:-4] + ("-g", "5", "-bf", "0")
    config, frames = video_tags(encode_flv("100x60", 12, args))
    assert parse_sps(config.sps[0]).macroblocks == 7 * 4
    repeated = frame_hashes(with_repeats(config, frames, 2))
    assert len(repeated) == 36 and repeated[1] == repeated[0] and repeated[3] != repeated[2]


def test_cabac_streams_get_no_repeats():
    args = ("-c:v", "libx264", "-preset", "medium", "-pix_fmt", "yuv420p", "-bf", "0")
    config, frames = video_tags(encode_flv("320x240", 3, args))
    assert parse_pps(config.pps[0]).cabac
    maker = RepeatMaker(config)
    maker.observe(frames[0].data)
    assert maker.unsupported == "CABAC" and maker.make() is None
    packager = Packager()
    packager.set_config(config)
    packager.package(frames[0].data, True, 0)
    assert packager.repeats_unsupported == "CABAC" and packager.repeat(900) is None


def test_nothing_to_repeat_before_the_first_picture():
    config, frames = video_tags(encode_flv("320x240", 2, LIVE_ENCODER_ARGS))
    maker = RepeatMaker(config)
    assert maker.make() is None
    maker.observe(frames[0].data)
    repeat = maker.make()
    assert repeat is not None and len(repeat) < 16  # a few bytes: every macroblock skipped


def test_slice_start_of_the_encoders_pictures():
    config, frames = video_tags(encode_flv("320x240", 4, LIVE_ENCODER_ARGS))
    sps = parse_sps(config.sps[0])
    assert sps.pic_order_cnt_type == 2 and sps.frame_mbs_only
    infos = [parse_slice_start(next(n for n in _nal_units(f.data) if n[0] & 0x1F in (1, 5)), sps)
             for f in frames]
    assert [(i.idr, i.frame_num, i.nal_ref_idc > 0) for i in infos] == [
        (True, 0, True), (False, 1, True), (False, 2, True), (False, 3, True)]
    with pytest.raises(H264Error):
        parse_slice_start(config.sps[0], sps)


def test_skip_slice_fields_read_back():
    config, _ = video_tags(encode_flv("320x240", 1, LIVE_ENCODER_ARGS))
    sps, pps = parse_sps(config.sps[0]), parse_pps(config.pps[0])
    nal = skip_slice(sps, pps, frame_num=5, pic_order_cnt_lsb=None)
    assert nal[0] == 0x01  # nal_ref_idc 0, coded slice
    info = parse_slice_start(nal, sps)
    assert (info.nal_ref_idc, info.idr, info.frame_num) == (0, False, 5)


@pytest.mark.parametrize("value", [0, 1, 2, 7, 255, 1200, 2**20])
def test_exp_golomb_round_trip(value):
    writer = _BitWriter()
    writer.ue(value)
    writer.se(-value)
    writer.se(value)
    reader = _BitReader(writer.rbsp())
    assert (reader.read_ue(), reader.read_se(), reader.read_se()) == (value, -value, value)


@pytest.mark.parametrize("rbsp, escaped", [
    (b"\x00\x00\x00", b"\x00\x00\x03\x00"),
    (b"\x00\x00\x01\x00\x00\x02", b"\x00\x00\x03\x01\x00\x00\x03\x02"),
    (b"\x00\x00\x04", b"\x00\x00\x04"),
    (b"\x00\x00\x00\x00", b"\x00\x00\x03\x00\x00"),
    (b"\x01\x00\x00", b"\x01\x00\x00"),
])
def test_emulation_prevention(rbsp, escaped):
    assert add_emulation_prevention(rbsp) == escaped


def _nal_units(avcc: bytes):
    return (bytes(n) for n in iter_avcc_nal_units(avcc))
