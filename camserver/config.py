"""Server settings: command-line flags, environment variables and the config file, resolved once.

Every flag ``--some-name`` can also be set as the environment variable ``SOME_NAME`` or as
``some_name`` in the config file's ``[server]`` table (``--config PATH``, env ``CONFIG``, TOML).
Precedence: flag > environment > file > default. The file's other tables (``[[user]]``,
``[[token]]``, ``[anonymous]``, ``[camera.<id>]``, ``[recording]``) are kept in
:attr:`Settings.document` for the parts that read them (camserver.access, camserver.recording),
which check them at start. A mistake anywhere is one line naming the key, and exit code 2
(:class:`ConfigError`).
"""

from __future__ import annotations

import argparse
import os
import re
import stat
import sys
import types
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

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
    # -- access (issue 11) --
    config: str | None = None
    trusted_proxies: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    session_days: float = 30.0
    state_dir: str = "state"
    tls_cert: str | None = None
    tls_key: str | None = None
    camera_tls: bool = True
    # -- restream (issue 13) --
    #: (camera id, URL) pairs from --restream, added to [camera.<id>] restream.
    restream: tuple[tuple[str, str], ...] = ()
    #: The config file's tables other than [server] (read-only).
    document: Mapping[str, Any] = field(default_factory=lambda: types.MappingProxyType({}))

    def __repr__(self) -> str:  # secrets never reach a log line
        return f"Settings(host={self.host!r}, http_port={self.http_port}, config={self.config!r})"


class ConfigError(ValueError):
    """A bad setting: ``str()`` is the one line to print."""


#: Top-level tables of the config file.
TABLES = ("server", "user", "token", "anonymous", "camera", "recording")


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
    # -- access (issue 11) --
    p.add_argument("--config", type=_nonempty, default=d.config, metavar="PATH",
                   help="TOML config file: [server] (these options), [[user]], [[token]], "
                        "[anonymous], [camera.<id>], [recording]; see README")
    p.add_argument("--trusted-proxies", type=_address_list, default=d.trusted_proxies,
                   metavar="ADDRESSES",
                   help="comma-separated addresses or networks of reverse proxies whose "
                        "X-Forwarded-For/-Proto headers are believed")
    p.add_argument("--allowed-origins", type=_origin_list, default=d.allowed_origins,
                   metavar="ORIGINS",
                   help="comma-separated web origins (https://host[:port]) besides this "
                        "server's own that may open viewer WebSockets and read /status")
    p.add_argument("--session-days", type=_positive_float, default=d.session_days,
                   help="days a login lasts (default %(default)s)")
    p.add_argument("--state-dir", type=_nonempty, default=d.state_dir,
                   help="where logins are kept across restarts (default %(default)s)")
    p.add_argument("--tls-cert", type=_nonempty, default=d.tls_cert, metavar="PEM",
                   help="certificate chain file: the three ports speak https/wss")
    p.add_argument("--tls-key", type=_nonempty, default=d.tls_key, metavar="PEM",
                   help="private key file for --tls-cert")
    p.add_argument("--no-camera-tls", dest="camera_tls", action="store_false",
                   default=d.camera_tls,
                   help="keep the camera port plain ws:// under TLS (cameras without wss on a "
                        "LAN)")
    # -- restream (issue 13) --
    p.add_argument("--restream", type=_restream_target, action=_Targets, default=d.restream,
                   metavar="ID=URL",
                   help="push camera ID's H.264 (copied, not re-encoded) to an rtmp://, "
                        "rtmps://, srt:// or rtsp:// URL; repeatable (also [camera.<id>] "
                        "restream = [...] in the config file); * with {camera} in the URL "
                        "for every camera")
    return p


def _address_list(text: str) -> tuple[str, ...]:
    import ipaddress
    items = tuple(item.strip() for item in text.split(",") if item.strip())
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r} is not an address or network") from None
    return items


def _origin_list(text: str) -> tuple[str, ...]:
    items = tuple(item.strip().rstrip("/") for item in text.split(",") if item.strip())
    for item in items:
        if not re.fullmatch(r"https?://[^/\s]+", item):
            raise argparse.ArgumentTypeError(f"{item!r} is not an origin like "
                                             "https://example.com")
    return items


def _restream_target(text: str) -> tuple[str, str]:
    from .outputs import targets  # the URL rules live with the restream code
    camera_id, equals, url = text.partition("=")
    if not equals or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}|\*", camera_id):
        raise argparse.ArgumentTypeError("must look like CAMERA_ID=rtmp://host/app/key")
    try:
        targets.check_url(targets.for_camera(url, "x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{camera_id}: {exc}") from None
    if camera_id == "*" and targets.CAMERA_PLACEHOLDER not in url:
        raise argparse.ArgumentTypeError("*: a URL for every camera needs {camera} in it")
    return camera_id, url


class _Targets(argparse.Action):
    """Repeatable ``--restream``: the command line's list replaces the environment's or the
    file's (flag > env > file, as for every setting) instead of adding to it."""

    def __call__(self, parser, namespace, values, option_string=None):
        items = getattr(namespace, self.dest)
        if items is self.default:
            items = ()
        setattr(namespace, self.dest, (*items, values))


def _nonempty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def load_document(path: str) -> dict:
    """The config file as a dict; ConfigError for a missing or malformed file."""
    try:
        with open(path, "rb") as f:
            document = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    for key in document:
        if key not in TABLES:
            raise ConfigError(f"{path}: unknown table or key {key!r} (known: "
                              f"{', '.join(TABLES)})")
    return document


def readable_by_others(path: str) -> bool:
    """Whether users other than the owner may read ``path`` (it may hold passwords)."""
    try:
        return bool(os.stat(path).st_mode & (stat.S_IRGRP | stat.S_IROTH))
    except OSError:
        return False


def _convert(action: argparse.Action, value: Any, where: str) -> Any:
    """A flag's value from the environment (a string) or the file (any TOML type), checked by
    the flag's own type, so every source gets the same clear error."""
    try:
        if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction)):
            # The setting's own value ("camera_tls = false"), whichever way its flag points.
            return value if isinstance(value, bool) else _flag(str(value))
        if isinstance(action, _Targets):
            # A list in the file, whitespace-separated in the environment.
            items = value if isinstance(value, list) else str(value).split()
            return tuple(action.type(str(item)) for item in items)
        if isinstance(value, list) and action.type in (_address_list, _origin_list):
            value = ",".join(str(v) for v in value)
        if isinstance(value, bool):
            raise ValueError(f"true/false is not a value for this setting ({value!r})")
        if isinstance(value, (list, dict)):
            raise ValueError("must be a single value, not a list or table")
        converted = action.type(str(value)) if action.type else str(value)
    except (argparse.ArgumentTypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if action.choices and converted not in action.choices:
        raise ConfigError(f"{where}: must be one of {', '.join(action.choices)}")
    return converted


def parse_settings(argv: Sequence[str] | None = None,
                   environ: Mapping[str, str] | None = None) -> Settings:
    """Flags over environment over config file over defaults. Exits with usage for a bad flag;
    raises ConfigError for a bad variable or file."""
    environ = os.environ if environ is None else environ
    parser = build_parser()
    actions = {a.dest: a for a in parser._actions if a.option_strings and a.dest != "help"}
    known, _ = parser.parse_known_args(argv)
    path = known.config or environ.get("CONFIG") or None
    document: dict = {}
    if path:
        document = load_document(path)
        server = document.pop("server", {})
        if not isinstance(server, dict):
            raise ConfigError(f"{path}: [server] must be a table")
        for key, value in server.items():
            action = actions.get(key)
            if action is None or key == "config":
                raise ConfigError(f"{path}: server.{key}: unknown setting (the [server] table "
                                  "takes the command-line options, with underscores)")
            action.default = _convert(action, value, f"{path}: server.{key}")
    for dest, action in actions.items():
        variable = dest.upper()
        if variable in environ and dest != "config":
            action.default = _convert(action, environ[variable],
                                      f"environment variable {variable}")
    args = parser.parse_args(argv)
    args.config = path
    return Settings(**vars(args), document=types.MappingProxyType(document))
