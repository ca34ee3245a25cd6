"""MPEG transport stream muxer for a single H.264 video stream.

See ISO/IEC 13818-1 (MPEG-2 Systems). The stream has one program (number 1)
whose PMT is on PID 0x1000 and whose only elementary stream, H.264 video
(stream_type 0x1B), is on PID 0x100, which also carries the PCR.

Each call to :meth:`TsMuxer.mux` turns one access unit into whole transport
packets, so a viewer can join the stream at the start of any keyframe's
output.

"""

from __future__ import annotations

import struct

__all__ = ["PCR_DELAY_90K", "TS_PACKET_SIZE", "TsMuxer"]

TS_PACKET_SIZE = 188

_SYNC_BYTE = 0x47
_HEADER_SIZE = 4
_PAYLOAD_SIZE = TS_PACKET_SIZE - _HEADER_SIZE

PAT_PID = 0x0000
PMT_PID = 0x1000
VIDEO_PID = 0x0100
PROGRAM_NUMBER = 1
_STREAM_TYPE_H264 = 0x1B
_STREAM_ID_VIDEO = 0xE0

_TIMESTAMP_MODULUS = 1 << 33

# PCR = PTS - PCR_DELAY. A PCR equal to the PTS would schedule decoding at
# the arrival of the access unit's first byte, before the rest of it is in
# the decoder buffer; a small lag keeps the stream plausible to the buffer
# model while adding little latency in players that slave their clock to
# the PCR.
PCR_DELAY_90K = 900  # 10 ms

_ACCESS_UNIT_DELIMITER = b"\x00\x00\x00\x01\x09\xf0"
_NAL_TYPE_AUD = 9

# Adaptation field flags.
_RANDOM_ACCESS_INDICATOR = 0x40
_PCR_FLAG = 0x10

# adaptation_field_control values, already shifted into the fourth header byte.
_PAYLOAD_ONLY = 0x10
_ADAPTATION_AND_PAYLOAD = 0x30


def _crc32_mpeg2(data: bytes) -> int:
    # zlib.crc32 is the reflected variant; PSI uses the non-reflected one
    # without final XOR. Only called to build the PAT and PMT once.
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = (crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1
        crc &= 0xFFFFFFFF
    return crc


def _psi_section(table_id: int, table_id_extension: int, body: bytes) -> bytes:
    """Build a long-form PSI section: header, ``body``, CRC_32."""
    # section_length counts the bytes after it: 5 header bytes, body, CRC.
    section_length = 5 + len(body) + 4
    section = struct.pack(
        ">BHHBBB",
        table_id,
        0xB000 | section_length,  # section_syntax_indicator=1, '0', reserved
        table_id_extension,
        0xC1,  # reserved, version_number=0, current_next_indicator=1
        0,  # section_number
        0,  # last_section_number
    ) + body
    return section + struct.pack(">I", _crc32_mpeg2(section))


def _psi_packet_without_cc(pid: int, section: bytes) -> bytes:
    """Build a packet carrying ``section`` with continuity_counter 0."""
    # pointer_field=0: the section starts right after it. PSI packets are
    # padded with 0xFF bytes, unlike PES packets.
    payload = b"\x00" + section
    header = struct.pack(">BHB", _SYNC_BYTE, 0x4000 | pid, _PAYLOAD_ONLY)
    return (header + payload).ljust(TS_PACKET_SIZE, b"\xff")


_PAT_PACKET = _psi_packet_without_cc(
    PAT_PID,
    _psi_section(
        table_id=0x00,
        table_id_extension=1,  # transport_stream_id
        body=struct.pack(">HH", PROGRAM_NUMBER, 0xE000 | PMT_PID),
    ),
)

_PMT_PACKET = _psi_packet_without_cc(
    PMT_PID,
    _psi_section(
        table_id=0x02,
        table_id_extension=PROGRAM_NUMBER,
        body=struct.pack(
            ">HHBHH",
            0xE000 | VIDEO_PID,  # PCR_PID
            0xF000,  # program_info_length=0
            _STREAM_TYPE_H264,
            0xE000 | VIDEO_PID,
            0xF000,  # ES_info_length=0
        ),
    ),
)


def _encode_pts(pts: int) -> bytes:
    """Encode a 33-bit PTS with prefix '0010' (PTS only) and its marker bits."""
    return struct.pack(
        ">BHH",
        0x21 | (pts >> 29) & 0x0E,
        (pts >> 14) & 0xFFFE | 1,
        (pts << 1) & 0xFFFE | 1,
    )


def _encode_pcr(pcr_base: int) -> bytes:
    """Encode a PCR with a zero 27 MHz extension: 33 bits, 6 reserved, 9 bits."""
    return struct.pack(">IH", pcr_base >> 1, (pcr_base & 1) << 15 | 0x7E00)


def _pes_header(pts: int, payload_size: int) -> bytes:
    # The PTS is the only optional field: its 5 bytes follow the 3 flag bytes.
    pes_packet_length = 3 + 5 + payload_size
    if pes_packet_length > 0xFFFF:
        # Zero means "unbounded", which 13818-1 allows for video streams only.
        pes_packet_length = 0
    return struct.pack(
        ">3sBHBBB",
        b"\x00\x00\x01",
        _STREAM_ID_VIDEO,
        pes_packet_length,
        0x84,  # '10', data_alignment_indicator: the PES starts with an AUD
        0x80,  # PTS_DTS_flags='10': PTS only
        5,  # PES_header_data_length
    ) + _encode_pts(pts)


def _leading_aud_size(annexb: bytes) -> int:
    """Return the length of the AUD starting ``annexb``, start code included, or 0."""
    for start_code in (b"\x00\x00\x00\x01", b"\x00\x00\x01"):
        if annexb.startswith(start_code):
            nal_start = len(start_code)
            if len(annexb) > nal_start and annexb[nal_start] & 0x1F == _NAL_TYPE_AUD:
                # An AUD is a header byte and a primary_pic_type byte.
                return nal_start + 2
            return 0
    return 0


class TsMuxer:
    """Packetize H.264 access units into an MPEG-TS stream.

    Continuity counters persist across calls, so the outputs of successive
    :meth:`mux` calls concatenate into one valid stream.

    """

    def __init__(self) -> None:
        self._continuity_counters = {PAT_PID: 0, PMT_PID: 0, VIDEO_PID: 0}

    def mux(
        self,
        annexb_access_unit: bytes,
        pts_90k: int,
        keyframe: bool,
        parameter_sets: bytes = b"",
    ) -> bytes:
        """Return the transport packets for one access unit.

        ``annexb_access_unit`` holds the access unit's NAL units with Annex B
        start codes. ``pts_90k`` is its presentation time in 90 kHz units,
        taken modulo 2**33. Without B-frames the decoding time equals it, so
        the PES header carries the PTS only, which means DTS = PTS.

        For a keyframe, the output starts with a PAT and a PMT, and the
        Annex B ``parameter_sets`` (SPS and PPS) are inserted in the access
        unit, after its access unit delimiter. ``parameter_sets`` is ignored
        for other frames. An access unit delimiter is added unless the
        access unit starts with one.

        Every PES starts with an adaptation field holding a PCR of
        ``pts_90k - PCR_DELAY_90K``; on keyframes it also sets the random
        access indicator.

        """
        pts = pts_90k % _TIMESTAMP_MODULUS
        aud_size = _leading_aud_size(annexb_access_unit)
        if aud_size:
            aud = annexb_access_unit[:aud_size]
            annexb_access_unit = annexb_access_unit[aud_size:]
        else:
            aud = _ACCESS_UNIT_DELIMITER
        if not keyframe:
            parameter_sets = b""

        payload_size = len(aud) + len(parameter_sets) + len(annexb_access_unit)
        pes = b"".join(
            (_pes_header(pts, payload_size), aud, parameter_sets, annexb_access_unit)
        )

        adaptation_flags = _PCR_FLAG | (_RANDOM_ACCESS_INDICATOR if keyframe else 0)
        pcr = (pts - PCR_DELAY_90K) % _TIMESTAMP_MODULUS
        first_adaptation_field = bytes([adaptation_flags]) + _encode_pcr(pcr)

        packets = []
        if keyframe:
            packets.append(self._psi_packet(_PAT_PACKET, PAT_PID))
            packets.append(self._psi_packet(_PMT_PACKET, PMT_PID))
        packets.extend(self._pes_packets(pes, first_adaptation_field))
        return b"".join(packets)

    def _next_continuity_counter(self, pid: int) -> int:
        counter = self._continuity_counters[pid]
        self._continuity_counters[pid] = (counter + 1) & 0x0F
        return counter

    def _psi_packet(self, packet: bytes, pid: int) -> bytes:
        # The continuity_counter is the low nibble of byte 3, which is 0 in
        # the precomputed packet.
        counter = self._next_continuity_counter(pid)
        return b"".join((packet[:3], bytes([packet[3] | counter]), packet[4:]))

    def _pes_packets(self, pes: bytes, first_adaptation_field: bytes) -> list[bytes]:
        """Split ``pes`` into video packets.

        ``first_adaptation_field`` is the adaptation field content after its
        length byte, for the first packet. The last packet is filled with
        adaptation field stuffing, since PES packets can't be padded.

        """
        packets = []
        view = memoryview(pes)
        offset = 0
        pid_field = 0x4000 | VIDEO_PID  # payload_unit_start_indicator
        adaptation_field = first_adaptation_field
        while offset < len(view):
            room = _PAYLOAD_SIZE - (1 + len(adaptation_field) if adaptation_field else 0)
            chunk = view[offset : offset + room]
            offset += len(chunk)
            stuffing = room - len(chunk)
            if adaptation_field:
                adaptation = (
                    bytes([len(adaptation_field) + stuffing])
                    + adaptation_field
                    + b"\xff" * stuffing
                )
            elif stuffing == 1:
                adaptation = b"\x00"  # a bare length byte stuffs exactly one byte
            elif stuffing:
                adaptation = bytes([stuffing - 1, 0x00]) + b"\xff" * (stuffing - 2)
            else:
                adaptation = b""
            control = _ADAPTATION_AND_PAYLOAD if adaptation else _PAYLOAD_ONLY
            counter = self._next_continuity_counter(VIDEO_PID)
            packets.append(struct.pack(">BHB", _SYNC_BYTE, pid_field, control | counter))
            packets.append(adaptation)
            packets.append(chunk)
            pid_field = VIDEO_PID
            adaptation_field = b""
        return packets
