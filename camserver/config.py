"""Server settings: command-line flags, each also settable as an environment variable.

Every flag ``--some-name`` reads ``SOME_NAME`` from the environment when the flag is absent, so
the same settings work from a shell, a systemd unit or a container. Flags win over variables.
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

ENCODERS = ("auto", "libx264", "h264_nvenc", "h264_vaapi", "h264_qsv", "h264_v4l2m2m",
            "h264_videotoolbox")


@dataclass(frozen=True)
class Settings:
    host: str = "0.0.0.0"
    camera_port: int = 8765
    viewer_port: int = 8766
    http_port: int = 8080
    ffmpeg: str | None = None
    encoder: str = "auto"
    bitrate: str = "1500k"
    gop: float = 1.0
    max_frame_bytes: int = 2 * 1024 * 1024
    log_level: str = "INFO"
    grace: float = 30.0
    camera_token: str | None = None
    viewer_buffer_bytes: int = 1024 * 1024
    max_streams: int = 64
    max_viewers: int = 5000
    max_viewers_per_address: int = 100
    viewer_stall_timeout: float = 30.0
    http_timeout: float = 10.0
    # -- recording (issue 12) --
    record: bool = False
    record_dir: str | None = None
    # TEMPORARY until the config file (issue 11) exists: a TOML file holding only the recording
    # tables ([recording], [camera.<id>]); to be folded into --config.
    recording_config: str | None = None


def _bitrate(text: str) -> str:
    if not re.fullmatch(r"[1-9][0-9]*[kKmM]?", text):
        raise argparse.ArgumentTypeError(f"bitrate must look like 1500k or 2M, not {text!r}")
    return text


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, not {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, not {text}")
    return value


def _byte_count(text: str) -> int:
    match = re.fullmatch(r"([0-9]+)([kKmM]i?[bB]?)?", text)
    if not match:
        raise argparse.ArgumentTypeError(f"size must look like 2097152, 512k or 2M, not {text!r}")
    scale = {"k": 1024, "m": 1024 * 1024}.get((match[2] or " ")[0].lower(), 1)
    value = int(match[1]) * scale
    if value < 1024:
        raise argparse.ArgumentTypeError(f"size must be at least 1024 bytes, not {text}")
    return value


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("1", "true", "yes", "on", "0", "false", "no", "off", ""):
        raise ValueError(f"must be 1/0, true/false, yes/no or on/off, not {text!r}")
    return value in ("1", "true", "yes", "on")


def build_parser() -> argparse.ArgumentParser:
    d = Settings()
    p = argparse.ArgumentParser(
        prog="server.py",
        description="Receive JPEG frames from ESP32 cameras and stream them live to many viewers.",
        epilog="Every option can also be set by an environment variable: --camera-port is "
               "CAMERA_PORT, --max-frame-bytes is MAX_FRAME_BYTES, and so on.")
    p.add_argument("--host", default=d.host, help="address to listen on (default %(default)s)")
    p.add_argument("--camera-port", type=_port, default=d.camera_port,
                   help="camera WebSocket port (default %(default)s)")
    p.add_argument("--viewer-port", type=_port, default=d.viewer_port,
                   help="viewer WebSocket port (default %(default)s)")
    p.add_argument("--http-port", type=_port, default=d.http_port,
                   help="HTTP port for the pages, /status and stream URLs (default %(default)s)")
    p.add_argument("--ffmpeg", default=d.ffmpeg,
                   help="FFmpeg binary (default: ffmpeg on PATH, else the one from imageio-ffmpeg)")
    p.add_argument("--encoder", choices=ENCODERS, default=d.encoder,
                   help="H.264 encoder; auto tries hardware encoders, then libx264 (default auto)")
    p.add_argument("--bitrate", type=_bitrate, default=d.bitrate,
                   help="target video bitrate per camera (default %(default)s)")
    p.add_argument("--gop", type=_positive_float, default=d.gop,
                   help="seconds between keyframes (default %(default)s)")
    p.add_argument("--max-frame-bytes", type=_byte_count, default=d.max_frame_bytes,
                   help="largest JPEG accepted from a camera (default 2M)")
    p.add_argument("--log-level", default=d.log_level, type=str.upper,
                   choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                   help="log verbosity (default %(default)s)")
    p.add_argument("--grace", type=_positive_float, default=d.grace,
                   help="seconds FFmpeg keeps running after a camera leaves (default %(default)s)")
    p.add_argument("--camera-token", default=d.camera_token,
                   help="if set, cameras must send it (Authorization: Bearer, or ?token=)")
    p.add_argument("--viewer-buffer-bytes", type=_byte_count, default=d.viewer_buffer_bytes,
                   help="unsent bytes after which a slow viewer skips to the next keyframe "
                        "(default 1M)")
    p.add_argument("--max-streams", type=_positive_int, default=d.max_streams,
                   help="most camera streams at once (default %(default)s)")
    p.add_argument("--max-viewers", type=_positive_int, default=d.max_viewers,
                   help="most viewers at once, all cameras, ports and formats "
                        "(default %(default)s)")
    p.add_argument("--max-viewers-per-address", type=_positive_int,
                   default=d.max_viewers_per_address,
                   help="most viewers from one client address; loopback is exempt "
                        "(default %(default)s)")
    p.add_argument("--viewer-stall-timeout", type=_positive_float,
                   default=d.viewer_stall_timeout,
                   help="seconds a viewer may take none of its unsent video before it is "
                        "dropped (default %(default)s)")
    p.add_argument("--http-timeout", type=_positive_float, default=d.http_timeout,
                   help="seconds an HTTP client has to send a request's headers or body, and "
                        "an idle keep-alive connection stays open (default %(default)s)")
    # -- recording (issue 12) --
    p.add_argument("--record", action="store_true", default=d.record,
                   help='record every camera continuously (= [camera."*"] record = '
                        '"continuous")')
    p.add_argument("--record-dir", type=_nonempty, default=d.record_dir,
                   help="where recordings go (default: [recording] record_dir, else "
                        "recordings/)")
    # TEMPORARY: replaced by the config file's tables once --config exists (issue 11).
    p.add_argument("--recording-config", type=_nonempty, default=d.recording_config,
                   metavar="FILE", help="TOML file with the [recording] and [camera.<id>] "
                                        "recording settings")
    return p


def _nonempty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def parse_settings(argv: Sequence[str] | None = None,
                   environ: Mapping[str, str] | None = None) -> Settings:
    """Parse ``argv`` with environment variables as defaults; exits with usage on bad input."""
    environ = os.environ if environ is None else environ
    parser = build_parser()
    for action in parser._actions:
        if not action.option_strings or action.dest == "help":
            continue
        variable = action.dest.upper()
        if variable in environ:
            # Run the value through the same type check as the flag, so a bad variable gets the
            # same clear error.
            try:
                if isinstance(action, argparse._StoreTrueAction):  # RECORD=1, RECORD=true
                    value = _flag(environ[variable])
                else:
                    value = action.type(environ[variable]) if action.type else environ[variable]
            except (argparse.ArgumentTypeError, ValueError) as exc:
                parser.error(f"environment variable {variable}: {exc}")
            if action.choices and value not in action.choices:
                parser.error(f"environment variable {variable}: must be one of "
                             f"{', '.join(action.choices)}")
            action.default = value
    args = parser.parse_args(argv)
    return Settings(**vars(args))
