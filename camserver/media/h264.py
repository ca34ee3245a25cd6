"""H.264 bitstream helpers: decoder configuration, SPS parsing, AVCC framing.

Everything here works on complete in-memory buffers and performs no I/O.

Two framings of H.264 NAL units appear in this server:

* AVCC (ISO/IEC 14496-15), used by FLV and MP4: each NAL unit is preceded by
  its length as a big-endian integer of ``nal_length_size`` bytes, and the
  parameter sets travel separately in an AVCDecoderConfigurationRecord.
* Annex B (ITU-T H.264 Annex B), used by MPEG-TS: each NAL unit is preceded
  by a ``00 00 00 01`` start code and parameter sets are sent in-band.

"""

from __future__ import annotations

import dataclasses
import functools
import struct
from collections.abc import Iterator

__all__ = [
    "AvcConfig",
    "H264Error",
    "PpsInfo",
    "SliceInfo",
    "SpsInfo",
    "avcc_to_annexb",
    "iter_avcc_nal_units",
    "nal_unit_type",
    "parse_pps",
    "parse_slice_start",
    "parse_sps",
]

START_CODE = b"\x00\x00\x00\x01"

NAL_TYPE_SLICE = 1
NAL_TYPE_IDR = 5
NAL_TYPE_SPS = 7
NAL_TYPE_PPS = 8

# Profiles whose SPS carries chroma format, bit depths and scaling lists
# (H.264 section 7.3.2.1.1).
_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


class H264Error(ValueError):
    """Raised when H.264 data is malformed or truncated."""


def nal_unit_type(nal: bytes) -> int:
    """Return the ``nal_unit_type`` of a NAL unit (without start code or length).

    Raise :exc:`H264Error` if ``nal`` is empty.

    """
    if not nal:
        raise H264Error("empty NAL unit")
    return nal[0] & 0x1F


def iter_avcc_nal_units(data: bytes, nal_length_size: int = 4) -> Iterator[memoryview]:
    """Yield the NAL units of an AVCC (length-prefixed) payload.

    Each NAL unit is yielded as a :class:`memoryview` into ``data``, without
    its length prefix, so that splitting a frame doesn't copy it. Convert it
    with :func:`bytes` if it must outlive ``data``.

    Raise :exc:`H264Error` if a length prefix is cut short or announces more
    bytes than remain in ``data``.

    """
    view = memoryview(data)
    end = len(view)
    offset = 0
    while offset < end:
        nal_start = offset + nal_length_size
        if nal_start > end:
            raise H264Error("truncated NAL unit length")
        nal_end = nal_start + int.from_bytes(view[offset:nal_start], "big")
        if nal_end > end:
            raise H264Error("NAL unit length runs past end of data")
        yield view[nal_start:nal_end]
        offset = nal_end


def avcc_to_annexb(data: bytes, nal_length_size: int = 4) -> bytes:
    """Convert an AVCC payload to Annex B by replacing each length with a start code.

    Raise :exc:`H264Error` if a length runs past the end of ``data``.

    """
    parts = []
    for nal in iter_avcc_nal_units(data, nal_length_size):
        parts.append(START_CODE)
        parts.append(nal)
    return b"".join(parts)


@dataclasses.dataclass(frozen=True)
class SpsInfo:
    """Fields of a sequence parameter set that this server cares about.

    ``width`` and ``height`` are the displayed size in pixels, after frame
    cropping.

    """

    profile_idc: int
    constraint_flags: int
    level_idc: int
    width: int
    height: int
    # What writing a slice header takes (see camserver/media/repeat.py); not part of equality so that
    # two SPSs describing the same picture compare equal.
    sps_id: int = dataclasses.field(default=0, compare=False)
    log2_max_frame_num: int = dataclasses.field(default=4, compare=False)
    pic_order_cnt_type: int = dataclasses.field(default=0, compare=False)
    log2_max_pic_order_cnt_lsb: int = dataclasses.field(default=4, compare=False)
    frame_mbs_only: bool = dataclasses.field(default=True, compare=False)
    separate_colour_plane: bool = dataclasses.field(default=False, compare=False)
    macroblocks: int = dataclasses.field(default=0, compare=False)


@dataclasses.dataclass(frozen=True)
class PpsInfo:
    """Fields of a picture parameter set that writing a P slice header depends on."""

    pps_id: int
    sps_id: int
    cabac: bool
    bottom_field_pic_order_in_frame_present: bool
    slice_groups: int
    weighted_pred: bool
    deblocking_filter_control_present: bool
    redundant_pic_cnt_present: bool


@dataclasses.dataclass(frozen=True)
class SliceInfo:
    """The start of a slice header: enough to place a picture after it."""

    nal_ref_idc: int
    idr: bool
    frame_num: int
    pic_order_cnt_lsb: int | None


class _BitReader:
    """Read bits and Exp-Golomb codes from an RBSP, most significant bit first."""

    def __init__(self, rbsp: bytes) -> None:
        # SPSs are a few dozen bytes: holding them as one integer makes reading
        # n bits a shift and a mask.
        self._value = int.from_bytes(rbsp, "big")
        self._size = len(rbsp) * 8
        self._position = 0

    def read_bits(self, count: int) -> int:
        end = self._position + count
        if end > self._size:
            raise H264Error("truncated parameter set or slice header")
        self._position = end
        return (self._value >> (self._size - end)) & ((1 << count) - 1)

    def read_flag(self) -> bool:
        return bool(self.read_bits(1))

    def read_ue(self) -> int:
        leading_zeros = 0
        while not self.read_bits(1):
            leading_zeros += 1
            # ue(v) syntax elements never exceed 32 bits; more zeros is garbage.
            if leading_zeros > 31:
                raise H264Error("invalid Exp-Golomb code")
        return (1 << leading_zeros) - 1 + self.read_bits(leading_zeros)

    def read_se(self) -> int:
        code = self.read_ue()
        return (code + 1) // 2 if code % 2 else -(code // 2)


def _remove_emulation_prevention(nal: bytes) -> bytes:
    # A left-to-right, non-overlapping replace is exactly the removal rule of
    # H.264 section 7.4.1: each 00 00 03 loses its 03, and scanning resumes
    # after it.
    return bytes(nal).replace(b"\x00\x00\x03", b"\x00\x00")


def _skip_scaling_list(reader: _BitReader, size: int) -> None:
    last_scale = 8
    for _ in range(size):
        next_scale = (last_scale + reader.read_se()) % 256
        if next_scale == 0:
            # The remaining entries repeat the last scale; no more deltas follow.
            return
        last_scale = next_scale


def parse_sps(nal: bytes) -> SpsInfo:
    """Parse a sequence parameter set NAL unit (header byte included).

    Return the profile, constraint flags, level and the cropped picture size.
    Raise :exc:`H264Error` if ``nal`` isn't an SPS or is truncated.

    """
    if nal_unit_type(nal) != NAL_TYPE_SPS:
        raise H264Error(f"not an SPS: NAL unit type {nal_unit_type(nal)}")
    reader = _BitReader(_remove_emulation_prevention(nal[1:]))

    profile_idc = reader.read_bits(8)
    constraint_flags = reader.read_bits(8)
    level_idc = reader.read_bits(8)
    sps_id = reader.read_ue()

    chroma_format_idc = 1  # 4:2:0 when absent
    separate_colour_plane = False
    if profile_idc in _HIGH_PROFILES:
        chroma_format_idc = reader.read_ue()
        if chroma_format_idc == 3:
            separate_colour_plane = reader.read_flag()
        reader.read_ue()  # bit_depth_luma_minus8
        reader.read_ue()  # bit_depth_chroma_minus8
        reader.read_flag()  # qpprime_y_zero_transform_bypass_flag
        if reader.read_flag():  # seq_scaling_matrix_present_flag
            for index in range(12 if chroma_format_idc == 3 else 8):
                if reader.read_flag():  # seq_scaling_list_present_flag
                    _skip_scaling_list(reader, 16 if index < 6 else 64)

    log2_max_frame_num = reader.read_ue() + 4
    pic_order_cnt_type = reader.read_ue()
    log2_max_pic_order_cnt_lsb = 4
    if pic_order_cnt_type == 0:
        log2_max_pic_order_cnt_lsb = reader.read_ue() + 4
    elif pic_order_cnt_type == 1:
        reader.read_flag()  # delta_pic_order_always_zero_flag
        reader.read_se()  # offset_for_non_ref_pic
        reader.read_se()  # offset_for_top_to_bottom_field
        for _ in range(reader.read_ue()):  # num_ref_frames_in_pic_order_cnt_cycle
            reader.read_se()  # offset_for_ref_frame
    reader.read_ue()  # max_num_ref_frames
    reader.read_flag()  # gaps_in_frame_num_value_allowed_flag

    width_in_mbs = reader.read_ue() + 1
    height_in_map_units = reader.read_ue() + 1
    frame_mbs_only = reader.read_flag()
    if not frame_mbs_only:
        reader.read_flag()  # mb_adaptive_frame_field_flag
    reader.read_flag()  # direct_8x8_inference_flag
    crop_left = crop_right = crop_top = crop_bottom = 0
    if reader.read_flag():  # frame_cropping_flag
        crop_left = reader.read_ue()
        crop_right = reader.read_ue()
        crop_top = reader.read_ue()
        crop_bottom = reader.read_ue()

    # Without frame_mbs_only, map units are field macroblock pairs: each
    # counts for two rows of macroblocks in the frame.
    field_factor = 1 if frame_mbs_only else 2
    # Crop offsets are in chroma sample units (H.264 equations 7-19 to 7-22).
    if separate_colour_plane or chroma_format_idc == 0:
        crop_unit_x, crop_unit_y = 1, field_factor
    else:
        sub_width_c = 1 if chroma_format_idc == 3 else 2
        sub_height_c = 2 if chroma_format_idc == 1 else 1
        crop_unit_x, crop_unit_y = sub_width_c, sub_height_c * field_factor

    width = width_in_mbs * 16 - crop_unit_x * (crop_left + crop_right)
    height = field_factor * height_in_map_units * 16 - crop_unit_y * (crop_top + crop_bottom)
    if width <= 0 or height <= 0:
        raise H264Error("SPS cropping leaves an empty picture")
    return SpsInfo(profile_idc, constraint_flags, level_idc, width, height, sps_id,
                   log2_max_frame_num, pic_order_cnt_type, log2_max_pic_order_cnt_lsb,
                   frame_mbs_only, separate_colour_plane,
                   width_in_mbs * height_in_map_units * field_factor)


def parse_pps(nal: bytes) -> PpsInfo:
    """Parse the start of a picture parameter set NAL unit (header byte included)."""
    if nal_unit_type(nal) != NAL_TYPE_PPS:
        raise H264Error(f"not a PPS: NAL unit type {nal_unit_type(nal)}")
    reader = _BitReader(_remove_emulation_prevention(nal[1:]))
    pps_id = reader.read_ue()
    sps_id = reader.read_ue()
    cabac = reader.read_flag()
    bottom_field_pic_order = reader.read_flag()
    slice_groups = reader.read_ue() + 1
    if slice_groups > 1:
        # Slice group maps are long and only in Extended profile streams, which no encoder
        # here makes: report the count and stop reading.
        return PpsInfo(pps_id, sps_id, cabac, bottom_field_pic_order, slice_groups,
                       False, False, False)
    reader.read_ue()  # num_ref_idx_l0_default_active_minus1
    reader.read_ue()  # num_ref_idx_l1_default_active_minus1
    weighted_pred = reader.read_flag()
    reader.read_bits(2)  # weighted_bipred_idc
    reader.read_se()  # pic_init_qp_minus26
    reader.read_se()  # pic_init_qs_minus26
    reader.read_se()  # chroma_qp_index_offset
    deblocking_control = reader.read_flag()
    reader.read_flag()  # constrained_intra_pred_flag
    redundant_pic_cnt = reader.read_flag()
    return PpsInfo(pps_id, sps_id, cabac, bottom_field_pic_order, slice_groups, weighted_pred,
                   deblocking_control, redundant_pic_cnt)


def parse_slice_start(nal: bytes, sps: SpsInfo) -> SliceInfo:
    """Read nal_ref_idc, frame_num and (POC type 0) pic_order_cnt_lsb of a coded slice NAL."""
    kind = nal_unit_type(nal)
    if kind not in (NAL_TYPE_SLICE, NAL_TYPE_IDR):
        raise H264Error(f"not a coded slice: NAL unit type {kind}")
    # A slice header's first fields fit in a few bytes; no need to unescape a whole slice.
    reader = _BitReader(_remove_emulation_prevention(nal[1:32]))
    reader.read_ue()  # first_mb_in_slice
    reader.read_ue()  # slice_type
    reader.read_ue()  # pic_parameter_set_id
    if sps.separate_colour_plane:
        reader.read_bits(2)  # colour_plane_id
    frame_num = reader.read_bits(sps.log2_max_frame_num)
    field_pic = False
    if not sps.frame_mbs_only:
        field_pic = reader.read_flag()
        if field_pic:
            reader.read_flag()  # bottom_field_flag
    idr = kind == NAL_TYPE_IDR
    if idr:
        reader.read_ue()  # idr_pic_id
    lsb = reader.read_bits(sps.log2_max_pic_order_cnt_lsb) if sps.pic_order_cnt_type == 0 else None
    return SliceInfo((nal[0] >> 5) & 3, idr, frame_num, lsb)


@dataclasses.dataclass(frozen=True)
class AvcConfig:
    """An AVCDecoderConfigurationRecord (ISO/IEC 14496-15 section 5.3.3.1).

    ``record`` holds the original bytes, ready to be copied into an ``avcC``
    box; the other fields are decoded from it.

    """

    profile_idc: int
    profile_compat: int
    level_idc: int
    nal_length_size: int
    sps: tuple[bytes, ...]
    pps: tuple[bytes, ...]
    record: bytes

    @classmethod
    def parse(cls, record: bytes) -> AvcConfig:
        """Parse an AVCDecoderConfigurationRecord.

        Raise :exc:`H264Error` if it is truncated, has an unknown version, or
        contains no SPS. Trailing bytes, such as the chroma format extension
        of high profiles, are kept in ``record`` but not decoded.

        """
        record = bytes(record)
        if len(record) < 6:
            raise H264Error("truncated AVC decoder configuration record")
        version, profile_idc, profile_compat, level_idc, length_byte, sps_count_byte = record[:6]
        if version != 1:
            raise H264Error(f"unsupported AVC configuration version {version}")
        nal_length_size = (length_byte & 0x03) + 1
        if nal_length_size == 3:
            raise H264Error("invalid NAL unit length size 3")

        offset = 6
        sps, offset = _read_parameter_sets(record, offset, sps_count_byte & 0x1F)
        if offset >= len(record):
            raise H264Error("truncated AVC decoder configuration record")
        pps, offset = _read_parameter_sets(record, offset + 1, record[offset])
        if not sps:
            raise H264Error("AVC decoder configuration record has no SPS")
        return cls(profile_idc, profile_compat, level_idc, nal_length_size, sps, pps, record)

    @property
    def codec_string(self) -> str:
        """RFC 6381 codec parameter, as used in MIME types, e.g. ``avc1.42c01e``."""
        return f"avc1.{self.profile_idc:02x}{self.profile_compat:02x}{self.level_idc:02x}"

    @functools.cached_property
    def _sps_info(self) -> SpsInfo:
        return parse_sps(self.sps[0])

    @property
    def width(self) -> int:
        """Displayed width in pixels, from the first SPS."""
        return self._sps_info.width

    @property
    def height(self) -> int:
        """Displayed height in pixels, from the first SPS."""
        return self._sps_info.height

    @property
    def annexb_parameter_sets(self) -> bytes:
        """All SPSs then all PPSs, each preceded by an Annex B start code."""
        return b"".join(START_CODE + nal for nal in self.sps + self.pps)


def _read_parameter_sets(record: bytes, offset: int, count: int) -> tuple[tuple[bytes, ...], int]:
    """Read ``count`` 16-bit length-prefixed NAL units; return them and the next offset."""
    nal_units = []
    for _ in range(count):
        if offset + 2 > len(record):
            raise H264Error("truncated AVC decoder configuration record")
        (length,) = struct.unpack_from(">H", record, offset)
        offset += 2
        if offset + length > len(record):
            raise H264Error("truncated AVC decoder configuration record")
        nal_units.append(record[offset : offset + length])
        offset += length
    return tuple(nal_units), offset
