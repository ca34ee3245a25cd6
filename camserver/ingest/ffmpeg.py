"""Find the FFmpeg binary and pick an H.264 encoder that works on this machine.

The command line that turns a camera's JPEGs into H.264 is built here too
(:func:`transcode_command`), so every flag's reason sits next to the flag. Hardware encoders are
only chosen after a short real test encode through exactly the flags the stream will use: FFmpeg
lists nvenc, vaapi and qsv whether or not the device and driver exist.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

log = logging.getLogger(__name__)

SOFTWARE_ENCODER = "libx264"
HARDWARE_ENCODERS = ("h264_nvenc", "h264_vaapi", "h264_qsv", "h264_v4l2m2m", "h264_videotoolbox")


class FfmpegNotFound(RuntimeError):
    pass


@dataclass(frozen=True)
class Encoder:
    name: str
    #: Flags before ``-i`` (hardware device set-up).
    input_args: tuple[str, ...] = ()
    #: Filters appended after the pixel-format conversion (e.g. upload to the GPU).
    filters: tuple[str, ...] = ()
    #: Codec flags.
    codec_args: tuple[str, ...] = ()


def _encoder(name: str) -> Encoder:
    # Every encoder: no B-frames (a frame must leave as soon as it is encoded, and browsers' MSE
    # and the server's fMP4 fragments assume decode order = display order).
    if name == "libx264":
        # ultrafast: ~8% of a core per VGA stream; zerolatency: no lookahead, no frame threads,
        # so each frame comes out right after it goes in.
        return Encoder(name, codec_args=("-c:v", "libx264", "-preset", "ultrafast",
                                         "-tune", "zerolatency", "-bf", "0"))
    if name == "h264_nvenc":
        return Encoder(name, codec_args=("-c:v", "h264_nvenc", "-preset", "p1", "-tune", "ull",
                                         "-zerolatency", "1", "-bf", "0", "-delay", "0"))
    if name == "h264_vaapi":
        return Encoder(name, input_args=("-vaapi_device", "/dev/dri/renderD128"),
                       filters=("format=nv12", "hwupload"),
                       codec_args=("-c:v", "h264_vaapi", "-bf", "0"))
    if name == "h264_qsv":
        return Encoder(name, filters=("format=nv12",),
                       codec_args=("-c:v", "h264_qsv", "-preset", "veryfast", "-bf", "0",
                                   "-async_depth", "1"))
    if name == "h264_v4l2m2m":
        return Encoder(name, codec_args=("-c:v", "h264_v4l2m2m", "-bf", "0"))
    if name == "h264_videotoolbox":
        return Encoder(name, codec_args=("-c:v", "h264_videotoolbox", "-realtime", "1",
                                         "-bf", "0"))
    raise ValueError(f"unknown encoder {name}")


def find_ffmpeg(explicit: str | None = None) -> str:
    """Return the FFmpeg to run: ``explicit``, else ``ffmpeg`` on PATH, else imageio-ffmpeg's."""
    if explicit:
        path = shutil.which(explicit)
        if not path:
            raise FfmpegNotFound(f"--ffmpeg {explicit}: no such executable")
        return path
    path = shutil.which("ffmpeg")
    if path:
        return path
    try:
        import imageio_ffmpeg
    except ImportError:
        raise FfmpegNotFound("no ffmpeg on PATH and imageio-ffmpeg is not installed "
                             "(pip install -r requirements.txt)") from None
    path = imageio_ffmpeg.get_ffmpeg_exe()
    if not os.access(path, os.X_OK):
        raise FfmpegNotFound(f"imageio-ffmpeg's binary {path} is not executable")
    return path


def ffmpeg_version(path: str) -> str:
    out = subprocess.run([path, "-hide_banner", "-version"], capture_output=True, text=True,
                         timeout=20).stdout
    match = re.match(r"ffmpeg version (\S+)", out)
    return match[1] if match else "unknown"


def available_encoders(path: str) -> set[str]:
    out = subprocess.run([path, "-hide_banner", "-encoders"], capture_output=True, text=True,
                         timeout=20).stdout
    return {m[1] for m in re.finditer(r"^ V\S* (\S+)", out, re.M)}


def transcode_command(ffmpeg: str, encoder: Encoder, bitrate: str, gop_seconds: float,
                      size: tuple[int, int], input_path: str = "pipe:0",
                      output_path: str = "pipe:1", loglevel: str = "error") -> list[str]:
    """The FFmpeg command that reads live Matroska (camserver.media.mkv: one JPEG per Cluster,
    stamped with its arrival time, the camera's frame rate in the track header) and writes H.264
    of ``size`` in FLV, frame by frame."""
    width, height = size[0] // 2 * 2, size[1] // 2 * 2
    filters = [
        # ESP32 JPEGs are often 4:2:2 and full range; browsers decode only 4:2:0, which needs
        # even sizes. A fixed output size: a JPEG of another size (a camera whose size flaps
        # faster than the encoder may restart) is scaled to the encoder's instead of failing it.
        f"scale={width}:{height}:out_range=tv", "format=yuv420p",
        *encoder.filters,
    ]
    bitrate_args = ("-b:v", bitrate, "-maxrate", bitrate, "-bufsize", bitrate)
    return [
        ffmpeg, "-hide_banner", "-loglevel", loglevel,
        *encoder.input_args,
        # Matroska with one Cluster of known size per JPEG (camserver.media.mkv): the demuxer
        # returns a frame as soon as its last byte is in (plain -f mjpeg/image2pipe wait for the
        # NEXT JPEG's start marker: +1 frame, and a stalled camera's last frame never comes out)
        # and the frame carries its arrival time at the server, so FFmpeg's clock is the
        # server's. Keyframes then land every gop_seconds of arrival time: stamped by FFmpeg as
        # it decoded them (setpts=RTCTIME, with multipart input before), frames that waited for
        # FFmpeg (its start-up, 70-120 ms, or a busy CPU) put keyframes up to 0.16 s off. And
        # the track's DefaultDuration tells the encoder the camera's frame rate: without
        # lookahead, encoders budget bitrate/fps per frame (framerate.py); at FFmpeg's default
        # of 25 fps, 1500k gave ~660 kbit/s at 10 fps and ~1,850 at 30.
        # No probing that waits for frames: FFmpeg 5.1 read 3 frames to guess the frame rate
        # before the first came out (+2 frames) without -fpsprobesize 0; with the earlier
        # multipart input FFmpeg 9 buffered ~50 frames without the tiny probe (with Matroska it
        # made no measurable difference). No -fflags nobuffer: with piped MJPEG it stamped every
        # frame 0 (FFmpeg 9).
        "-probesize", "32", "-analyzeduration", "0", "-fpsprobesize", "0",
        "-f", "matroska", "-i", input_path,
        # Timestamps through unchanged: they identify each frame on the way out (the server
        # pairs encoded frames with JPEGs by them), and a wall clock that jumps changes nothing.
        "-copyts",
        "-vf", ",".join(filters),
        # Keep every frame with its own timestamp: no frame dropped or duplicated to fit a rate
        # (the default encoder time base, 1/25 s, would merge frames: 1 ms is what FLV keeps).
        "-fps_mode", "passthrough", "-enc_time_base", "1/1000",
        *encoder.codec_args,
        # Bits per second, with a one-second buffer: a steady rate for Wi-Fi and phones. It holds
        # because the encoder knows the frame rate (DefaultDuration above).
        *bitrate_args,
        # A keyframe gop_seconds after the previous one, so the first frame after a camera's
        # silence is one (MSE drops frames after a gap until a keyframe) and only that one: a
        # fixed grid (t >= n_forced*gop) forced every frame until its count caught up, 11
        # keyframes in a row after 10 s of silence.
        "-force_key_frames",
        f"expr:if(isnan(prev_forced_t),1,gte(t,prev_forced_t+{gop_seconds:g}))",
        # FLV: every tag carries its own length and the avcC record comes first, so the server
        # knows a frame is complete the moment its last byte arrives (TS PES lengths overflow
        # past 64 KB) and can build the fMP4 init segment without parsing the bitstream.
        "-flush_packets", "1", "-flvflags", "no_duration_filesize", "-f", "flv", output_path,
    ]


async def _test_encode(ffmpeg: str, encoder: Encoder, timeout: float) -> str | None:
    """Encode a few synthetic frames; return None on success or the reason it failed."""
    cmd = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", *encoder.input_args,
           "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-frames:v", "5",
           "-vf", ",".join(("format=yuv420p", *encoder.filters)), *encoder.codec_args,
           "-f", "null", "-"]
    proc = await asyncio.create_subprocess_exec(*cmd, stdin=subprocess.DEVNULL,
                                                stdout=subprocess.DEVNULL,
                                                stderr=subprocess.PIPE)
    try:
        _, err = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        return f"no result within {timeout:g} s"
    if proc.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else f"exit code {proc.returncode}"
    return None


async def choose_encoder(ffmpeg: str, wanted: str = "auto", timeout: float = 10.0) -> Encoder:
    """Return the encoder to use; ``auto`` takes the first hardware encoder that passes a test.

    A named encoder that fails its test raises RuntimeError: the user asked for it explicitly.
    """
    listed = available_encoders(ffmpeg)
    if wanted != "auto":
        if wanted not in listed:
            raise RuntimeError(f"encoder {wanted} is not in this FFmpeg ({ffmpeg})")
        reason = await _test_encode(ffmpeg, _encoder(wanted), timeout)
        if reason:
            raise RuntimeError(f"encoder {wanted} failed a test encode: {reason}")
        return _encoder(wanted)
    for name in HARDWARE_ENCODERS:
        if name not in listed:
            continue
        reason = await _test_encode(ffmpeg, _encoder(name), timeout)
        if reason is None:
            log.info("Hardware encoder %s passed a test encode", name)
            return _encoder(name)
        log.info("Hardware encoder %s not usable: %s", name, reason)
    if SOFTWARE_ENCODER not in listed:
        raise RuntimeError(f"{ffmpeg} has neither a working hardware H.264 encoder nor libx264")
    return _encoder(SOFTWARE_ENCODER)
