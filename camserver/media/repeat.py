"""Repeat frames: H.264 pictures that show the previous picture again, for browsers' MSE.

Why: Chrome asks for video frames only as often as the video has them. A 30 fps stream gets
one render call per 33 ms, not one per 16.7 ms display refresh, and at an even frame rate a
frame counts as used up once it has been picked for a call. So the next frame had to be decoded
a whole call before it was due, and the delay could only move in 33 ms steps (measured in
headless Chromium 156 with Chrome's trace). The server therefore sends MSE viewers repeats of
each picture, timed as stream.py explains: a repeat is a tiny picture whose macroblocks are all
skipped, which decodes to exactly the previous picture.

A repeat is a P slice with ``nal_ref_idc`` 0: no later picture refers to it, so the encoder's
own frames decode exactly as before. Its ``frame_num`` is the last reference picture's plus one
(as the encoder's next picture will be too; H.264 allows non-reference pictures to share it).
Only streams with CAVLC, one slice group, no weighted prediction and POC type 0 or 2 get
repeats (libx264 ultrafast, the server's default encoder, makes such streams); for others
:meth:`RepeatMaker.make` returns None and viewers get the camera's frames only.
"""

from __future__ import annotations

from .h264 import (AvcConfig, H264Error, PpsInfo, SpsInfo, iter_avcc_nal_units, nal_unit_type,
                   parse_pps, parse_slice_start, parse_sps, NAL_TYPE_IDR, NAL_TYPE_SLICE)

_P_SLICE_ALL = 5  # slice_type 5: P, and every slice of the picture is P


class _BitWriter:
    def __init__(self) -> None:
        self._value = 0
        self._bits = 0

    def bits(self, value: int, count: int) -> None:
        self._value = (self._value << count) | (value & ((1 << count) - 1))
        self._bits += count

    def ue(self, value: int) -> None:
        code = value + 1
        length = code.bit_length()
        self.bits(0, length - 1)
        self.bits(code, length)

    def se(self, value: int) -> None:
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def rbsp(self) -> bytes:
        """The bits so far plus rbsp_trailing_bits (a one, then zeros to a byte boundary)."""
        self.bits(1, 1)
        pad = -self._bits % 8
        value, bits = self._value << pad, self._bits + pad
        return value.to_bytes(bits // 8, "big")


def add_emulation_prevention(rbsp: bytes) -> bytes:
    """Escape an RBSP into a NAL payload: 00 00 followed by 00-03 gets a 03 in between."""
    out = bytearray()
    zeros = 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def skip_slice(sps: SpsInfo, pps: PpsInfo, frame_num: int, pic_order_cnt_lsb: int | None) -> bytes:
    """A non-reference P picture, all macroblocks skipped, as one NAL unit (header included)."""
    w = _BitWriter()
    w.ue(0)  # first_mb_in_slice
    w.ue(_P_SLICE_ALL)
    w.ue(pps.pps_id)
    w.bits(frame_num, sps.log2_max_frame_num)
    if not sps.frame_mbs_only:
        w.bits(0, 1)  # field_pic_flag: a frame
    if sps.pic_order_cnt_type == 0:
        w.bits(pic_order_cnt_lsb or 0, sps.log2_max_pic_order_cnt_lsb)
        if pps.bottom_field_pic_order_in_frame_present:
            w.se(0)  # delta_pic_order_cnt_bottom
    if pps.redundant_pic_cnt_present:
        w.ue(0)  # redundant_pic_cnt
    w.bits(1, 1)  # num_ref_idx_active_override_flag: one reference, whatever the PPS says
    w.ue(0)  # num_ref_idx_l0_active_minus1
    w.bits(0, 1)  # ref_pic_list_modification_flag_l0
    w.se(0)  # slice_qp_delta
    if pps.deblocking_filter_control_present:
        w.ue(1)  # disable_deblocking_filter_idc: nothing to filter in a copy
    w.ue(sps.macroblocks)  # mb_skip_run: every macroblock
    return bytes([NAL_TYPE_SLICE]) + add_emulation_prevention(w.rbsp())  # nal_ref_idc 0


class RepeatMaker:
    """Follows one encoder's pictures and makes repeats of the newest one."""

    def __init__(self, config: AvcConfig) -> None:
        self._nal_length_size = config.nal_length_size
        self._sps: SpsInfo | None = None
        self._pps: PpsInfo | None = None
        self.unsupported = ""
        try:
            self._sps = parse_sps(config.sps[0])
            self._pps = parse_pps(config.pps[0]) if config.pps else None
        except H264Error as exc:
            self.unsupported = f"unreadable parameter sets ({exc})"
        else:
            self.unsupported = self._why_unsupported()
        self._prev_ref_frame_num: int | None = None
        self._pic_order_cnt_lsb: int | None = None

    def _why_unsupported(self) -> str:
        sps, pps = self._sps, self._pps
        if pps is None:
            return "no PPS"
        if pps.cabac:
            return "CABAC"
        if pps.slice_groups > 1:
            return "slice groups"
        if pps.weighted_pred:
            return "weighted prediction"
        if sps.pic_order_cnt_type == 1:
            return "POC type 1"
        if sps.separate_colour_plane:
            return "separate colour planes"
        return ""

    def observe(self, avcc: bytes) -> None:
        """Take note of an encoder picture (one access unit, length-prefixed NAL units)."""
        if self.unsupported:
            return
        for nal in iter_avcc_nal_units(avcc, self._nal_length_size):
            if nal_unit_type(nal) in (NAL_TYPE_SLICE, NAL_TYPE_IDR):
                try:
                    info = parse_slice_start(bytes(nal), self._sps)
                except H264Error:
                    self._prev_ref_frame_num = None  # unknown: no repeats until the next one
                    return
                if info.nal_ref_idc:
                    self._prev_ref_frame_num = info.frame_num
                self._pic_order_cnt_lsb = info.pic_order_cnt_lsb
                return

    def make(self) -> bytes | None:
        """A repeat of the last observed picture as one length-prefixed access unit, or None."""
        if self.unsupported or self._prev_ref_frame_num is None:
            return None
        sps = self._sps
        frame_num = (self._prev_ref_frame_num + 1) % (1 << sps.log2_max_frame_num)
        lsb = None
        if sps.pic_order_cnt_type == 0:
            # One past the shown picture: after it in output order, before the encoder's next
            # (encoders step POC by 2 per frame).
            lsb = ((self._pic_order_cnt_lsb or 0) + 1) % (1 << sps.log2_max_pic_order_cnt_lsb)
        nal = skip_slice(sps, self._pps, frame_num, lsb)
        return len(nal).to_bytes(self._nal_length_size, "big") + nal
