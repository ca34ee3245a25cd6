"""Restream targets: which URLs are accepted, how they are shown, and the FFmpeg command per kind.

Pure (no I/O), used by :mod:`camserver.outputs.restream` and by the config checks in
:mod:`camserver.app`.

- :func:`check_url` accepts ``rtmp://``, ``rtmps://``, ``srt://`` and ``rtsp://`` URLs with a
  host, and raises ValueError naming what is wrong (without repeating the URL: it may hold a
  stream key).
- :func:`mask` is the URL as logs, ``/status`` and ``/metrics`` show it: the stream key (an
  RTMP path after the application name), query values other than plain settings (SRT
  ``passphrase`` and ``streamid``, ``?key=``; :data:`PLAIN_PARAMETERS` such as ``mode`` and
  ``latency`` stay) and a password in the user part become ``***``.
  :class:`Masker` also scrubs them out of any text, such as FFmpeg's error lines, which repeat
  the URL they failed on.
- :func:`push_command` is one FFmpeg child per target: MPEG-TS in on stdin (the chunks the
  server already builds per frame for TS viewers), the H.264 copied as it is (no re-encode),
  FLV out for RTMP, MPEG-TS out for SRT, RTSP ``ANNOUNCE``/``RECORD`` over TCP for RTSP.
"""

from __future__ import annotations

import re
import urllib.parse

SCHEMES = ("rtmp", "rtmps", "srt", "rtsp")
#: Substituted by the camera id, so one ``[camera."*"]`` line serves every camera.
CAMERA_PLACEHOLDER = "{camera}"
MAX_URL_LENGTH = 2048
MASK = "***"
#: Query parameters that are settings, not credentials, shown as they are (SRT's and FFmpeg's
#: protocol options). Every other value (passphrase, streamid, key, token...) is masked.
PLAIN_PARAMETERS = frozenset({
    "mode", "latency", "rcvlatency", "peerlatency", "pkt_size", "payload_size", "transtype",
    "timeout", "connect_timeout", "listen_timeout", "maxbw", "inputbw", "oheadbw", "pbkeylen",
    "tlpktdrop", "nakreport", "sndbuf", "rcvbuf", "linger", "enforced_encryption", "messageapi",
    "ipttl", "iptos", "rw_timeout", "tcp_nodelay"})
#: Secrets shorter than this are not scrubbed out of free text on their own (a stream key of
#: "1" would turn every 1 in an error line into ***); the whole URL still is.
_MIN_SCRUBBED = 4


def check_url(url: object) -> str:
    """``url`` if it is a target we can push to, else ValueError saying why."""
    if not isinstance(url, str):
        raise ValueError("must be a URL string")
    if not url or len(url) > MAX_URL_LENGTH:
        raise ValueError(f"must be 1-{MAX_URL_LENGTH} characters")
    if re.search(r"[\s\x00-\x1f\x7f]", url):
        raise ValueError("must not contain spaces or control characters")
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # raises ValueError for a bad port
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({exc})") from None
    if parts.scheme not in SCHEMES:
        raise ValueError(f"scheme {parts.scheme + '://' if parts.scheme else '(none)'} is not "
                         f"one of {', '.join(s + '://' for s in SCHEMES)}")
    if not parts.hostname:
        raise ValueError("needs a host (scheme://host[:port]/...)")
    if parts.scheme in ("rtmp", "rtmps") and not parts.path.strip("/"):
        raise ValueError("an RTMP URL needs an application and a stream name "
                         "(rtmp://server/app/stream-key)")
    return url


def for_camera(url: str, camera_id: str) -> str:
    """``url`` with ``{camera}`` replaced by ``camera_id`` (ids are URL-safe: A-Z a-z 0-9 _ -)."""
    return url.replace(CAMERA_PLACEHOLDER, camera_id)


def _secrets(url: str) -> tuple[str, list[str]]:
    """(the masked URL, the secret parts of ``url``)."""
    parts = urllib.parse.urlsplit(url)
    secrets: list[str] = []
    netloc = parts.netloc
    if parts.password:
        secrets.append(parts.password)
        userinfo, _, hostport = netloc.rpartition("@")
        netloc = f"{userinfo.split(':', 1)[0]}:{MASK}@{hostport}"
    path = parts.path
    if parts.scheme in ("rtmp", "rtmps"):
        # rtmp://host/app/KEY: everything after the application name is the stream key (for
        # YouTube, Twitch, Facebook... the key is the publishing credential).
        segments = path.split("/")  # ["", "app", "key", ...]
        if len(segments) > 2 and any(segments[2:]):
            secrets.extend(s for s in segments[2:] if s)
            path = "/".join(segments[:2] + [MASK])
    query = parts.query
    if query:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        secrets.extend(value for name, value in pairs
                       if value and name.lower() not in PLAIN_PARAMETERS)
        query = "&".join(name if not value else f"{name}={value}"
                         if name.lower() in PLAIN_PARAMETERS else f"{name}={MASK}"
                         for name, value in pairs)
    masked = urllib.parse.urlunsplit((parts.scheme, netloc, path, query, ""))
    return masked, secrets


def mask(url: str) -> str:
    """``url`` without its secrets, for logs, ``/status`` and ``/metrics``."""
    return _secrets(url)[0]


class Masker:
    """Scrubs one target's secrets out of text (FFmpeg's messages name the URL they fail on)."""

    def __init__(self, url: str):
        self.masked, secrets = _secrets(url)
        self._replacements = [(url, self.masked)]
        for secret in sorted(set(secrets), key=len, reverse=True):
            for form in {secret, urllib.parse.quote(secret, safe=""),
                         urllib.parse.unquote(secret)}:
                if len(form) >= _MIN_SCRUBBED:
                    self._replacements.append((form, MASK))

    def __call__(self, text: str) -> str:
        for secret, replacement in self._replacements:
            text = text.replace(secret, replacement)
        return text


#: What each scheme needs from the FFmpeg build: (an output protocol, a muxer). RTSP is a muxer
#: (it drives its own RTP and TCP), not a protocol.
NEEDS = {"rtmp": ("rtmp", "flv"), "rtmps": ("rtmps", "flv"), "srt": ("srt", "mpegts"),
         "rtsp": (None, "rtsp")}


def output_protocols(protocols_text: str) -> set[str]:
    """The output protocols in what ``ffmpeg -protocols`` prints."""
    _, _, outputs = protocols_text.partition("Output:")
    return set(outputs.split())


def muxers(muxers_text: str) -> set[str]:
    """The muxers in what ``ffmpeg -muxers`` prints (`` E  flv  FLV (Flash Video)``)."""
    found = set()
    for line in muxers_text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and "E" in fields[0] and fields[0] != "--":
            found.update(fields[1].split(","))
    return found


def missing_schemes(urls, protocols: set[str], available_muxers: set[str]) -> set[str]:
    """Schemes of ``urls`` this FFmpeg build cannot push to (e.g. ``srt`` without libsrt)."""
    missing = set()
    for scheme in {urllib.parse.urlsplit(url).scheme for url in urls}:
        protocol, muxer = NEEDS[scheme]
        if (protocol is not None and protocol not in protocols) or muxer not in available_muxers:
            missing.add(scheme)
    return missing


def push_command(ffmpeg: str, url: str) -> list[str]:
    """FFmpeg reading the server's MPEG-TS on stdin and pushing it, copied, to ``url``.

    Progress (``total_size=``: bytes written to the target) comes on stdout every 0.5 s once the
    target has accepted the stream; errors on stderr.
    """
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme in ("rtmp", "rtmps"):
        # no_duration_filesize: nothing to seek back and patch on a network stream.
        output = ["-f", "flv", "-flvflags", "no_duration_filesize"]
    elif scheme == "srt":
        output = ["-f", "mpegts"]
    elif scheme == "rtsp":
        output = ["-f", "rtsp", "-rtsp_transport", "tcp"]
    else:
        raise ValueError(f"no push command for {scheme}://")
    return [
        ffmpeg, "-hide_banner", "-nostats", "-loglevel", "error",
        "-progress", "pipe:1", "-stats_period", "0.5",
        # The input starts at a keyframe, whose chunk carries PAT, PMT, SPS and PPS: the first
        # packet tells FFmpeg everything, so no probing that waits for more.
        "-probesize", "32", "-analyzeduration", "0",
        "-f", "mpegts", "-i", "pipe:0",
        "-map", "0:v:0", "-c", "copy",
        # Each frame leaves as soon as it is in, not when an output buffer fills.
        "-flush_packets", "1",
        *output, url,
    ]
