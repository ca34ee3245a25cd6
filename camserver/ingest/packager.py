"""Encoder output -> what viewers receive: one MPEG-TS chunk and one fMP4 fragment per frame.

The server, not FFmpeg, stamps the frames: ``pts`` is the JPEG's arrival time at the server in
90 kHz ticks since the stream began. So the video's clock is real time however the camera's rate
wobbles, fMP4 viewers can turn a frame's media time back into its arrival time to measure delay,
and both outputs run on without a jump when FFmpeg is restarted (the TS muxer's continuity
counters live here too, not in FFmpeg).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..media import fmp4
from ..media.h264 import AvcConfig, avcc_to_annexb
from ..media.mpegts import TsMuxer
from ..media.repeat import RepeatMaker

# fMP4 wants each frame's duration when the frame is sent, before the next one exists. Every
# fragment declares 1 s instead of a guess from the last interval: Media Source Extensions treat a
# frame that starts more than twice the previous frame's declared duration after it as a
# discontinuity and drop everything up to the next keyframe. With "the last interval", one Wi-Fi
# hiccup did that (Chrome showed 3.5 of 30 fps from a camera whose frames left 15 ms late on
# average). With 1 s only a gap of over 2 s is a discontinuity. The overlap is harmless: each
# fragment holds one frame whose tfdt is its exact time, and the next frame starts inside the
# previous one's declared interval, which MSE keeps (players measure the live edge from the
# newest frame's time, not from buffered.end()).
FRAGMENT_DURATION = fmp4.TIMESCALE
# Chrome drops a frame less than 1 ms after the previous one; a camera frame that arrives just
# after a repeat was sent is placed at least this far after it (90 kHz ticks, 2 ms).
MIN_AFTER_REPEAT = 180


@dataclass(frozen=True, slots=True)
class InitSegment:
    codec: str
    width: int
    height: int
    #: ftyp + moov for fMP4 viewers.
    data: bytes
    #: The encoder's parameters (avcC, SPS/PPS) for consumers that build their own containers.
    config: AvcConfig | None = None


@dataclass(frozen=True, slots=True)
class VideoFrame:
    seq: int
    #: Arrival time of the frame's JPEG at the server: 90 kHz ticks since the stream's epoch.
    pts: int
    keyframe: bool
    #: The same picture three ways: MPEG-TS packets, one fMP4 fragment, and the access unit itself
    #: (AVCC, length-prefixed NAL units) for consumers that build their own containers.
    ts: bytes
    fmp4: bytes
    avcc: bytes = b""
    #: A repeat of the previous picture for fMP4 viewers (``ts`` is empty): see repeat.py.
    repeat: bool = False


class Packager:
    def __init__(self) -> None:
        self._ts = TsMuxer()
        self._config: AvcConfig | None = None
        self._parameter_sets = b""
        self._seq = 0
        self._last_pts: int | None = None
        self._last_was_repeat = False
        self._repeats: RepeatMaker | None = None
        self.init: InitSegment | None = None

    def set_config(self, config: AvcConfig) -> InitSegment | None:
        """Take a (re)started encoder's parameters; return a new init segment if they changed."""
        if self._config is not None and config.record == self._config.record:
            return None
        self._config = config
        self._repeats = RepeatMaker(config)
        self._parameter_sets = config.annexb_parameter_sets
        self.init = InitSegment(config.codec_string, config.width, config.height,
                                fmp4.init_segment(config, config.width, config.height), config)
        return self.init

    @property
    def repeats_unsupported(self) -> str:
        """Why this encoder's stream gets no repeats ("" if it does)."""
        return self._repeats.unsupported if self._repeats is not None else "no stream yet"

    def package(self, avcc: bytes, keyframe: bool, pts: int) -> VideoFrame:
        if self._config is None:
            raise RuntimeError("package() before set_config()")
        if self._last_pts is not None:
            if self._last_was_repeat:
                pts = max(pts, self._last_pts + MIN_AFTER_REPEAT)
            elif pts <= self._last_pts:
                pts = self._last_pts + 1  # two frames in one tick: keep decode order strict
        self._last_pts = pts
        self._last_was_repeat = False
        self._seq += 1
        self._repeats.observe(avcc)
        annexb = avcc_to_annexb(avcc, self._config.nal_length_size)
        ts = self._ts.mux(annexb, pts, keyframe, self._parameter_sets if keyframe else b"")
        fragment = fmp4.fragment(self._seq, pts, FRAGMENT_DURATION, avcc, keyframe)
        return VideoFrame(self._seq, pts, keyframe, ts, fragment, avcc)

    def repeat(self, pts: int) -> VideoFrame | None:
        """An fMP4 repeat of the last packaged picture at ``pts``, or None if none can be made
        (no picture yet, an encoder whose stream repeat.py cannot extend, or ``pts`` not after
        the last frame)."""
        if self._repeats is None or self._last_pts is None or pts <= self._last_pts:
            return None
        avcc = self._repeats.make()
        if avcc is None:
            return None
        self._last_pts = pts
        self._last_was_repeat = True
        self._seq += 1
        fragment = fmp4.fragment(self._seq, pts, FRAGMENT_DURATION, avcc, False, disposable=True)
        return VideoFrame(self._seq, pts, False, b"", fragment, avcc, repeat=True)
