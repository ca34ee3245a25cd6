"""What a request says about its caller: credentials, client address, scheme. Pure parsing.

Both WebSocket libraries and aiohttp hand us the same things (headers, the path with its query,
the peer's address), so every door reads callers the same way:

- credentials, in this order: ``Authorization: Bearer <token>``, ``Authorization: Basic``
  (``http://user:pass@host/...``, as VLC, ffmpeg and Home Assistant send it), ``?token=`` in the
  URL (clients that can set neither), the session cookie. A header that cannot be read (bad
  base64, no colon, an unknown scheme, over 4 KB) is *malformed*: refused, never ignored.
- the client: the peer's address, unless the peer is a trusted proxy, whose
  ``X-Forwarded-For`` (the right-most address that is not itself a trusted proxy) and
  ``X-Forwarded-Proto`` are believed. From anyone else those headers are ignored. A proxied
  request never counts as loopback.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import urllib.parse
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Mapping

from .accounts import Credentials
from .sessions import COOKIE

MAX_HEADER = 4096


@dataclass(frozen=True)
class Client:
    address: str
    scheme: str          # "http" or "https" as the client sees it
    proxied: bool

    @property
    def loopback(self) -> bool:
        if self.proxied:
            return False
        try:
            return ipaddress.ip_address(self.address.split("%")[0]).is_loopback
        except ValueError:
            return False


class TrustedProxies:
    def __init__(self, networks: tuple[str, ...] = ()):
        self._networks = [ipaddress.ip_network(n, strict=False) for n in networks]

    def __contains__(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.split("%")[0])
        except ValueError:
            return False
        return any(ip in network for network in self._networks)

    def client(self, peer: str, headers: Mapping[str, str], tls: bool) -> Client:
        scheme = "https" if tls else "http"
        if not self._networks or peer not in self:
            return Client(peer, scheme, False)
        hops = [h.strip() for h in headers.get("X-Forwarded-For", "").split(",") if h.strip()]
        address = peer
        for hop in reversed(hops):
            address = hop
            if hop not in self:
                break
        proto = headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        return Client(address, proto if proto in ("http", "https") else scheme, True)


#: The headers the gate reads, and how two of one are joined: list headers the HTTP way;
#: the others with a line break, which no parsed header value can hold, so a header sent twice
#: is told apart from any real value and refused (never "the first one wins").
_JOINED = {"Authorization": "\n", "Origin": "\n", "Host": "\n", "Cookie": "; ",
           "X-Forwarded-For": ", ", "X-Forwarded-Proto": ", "}


def single_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    """The headers the gate reads, one value each, from aiohttp's multidict, websockets'
    ``Headers`` (whose ``get`` raises for a header sent twice) or a plain dict."""
    get_all = getattr(headers, "get_all", None)
    if get_all is None and hasattr(headers, "getall"):
        get_all = lambda name: headers.getall(name, [])  # noqa: E731 (aiohttp)
    if get_all is None:
        return headers
    view = {}
    for name, joiner in _JOINED.items():
        values = get_all(name)
        if values:
            view[name] = joiner.join(values)
    return view


def _query_token(path: str) -> str | None:
    query = urllib.parse.urlsplit(path).query
    values = urllib.parse.parse_qs(query).get("token") if query else None
    return values[0] if values else None


def credentials_of(headers: Mapping[str, str], path: str, client: Client) -> Credentials:
    """The credentials in a request's headers and URL (``path`` with its query)."""
    loopback = client.loopback
    auth = headers.get("Authorization")
    if auth is not None:
        if len(auth) > MAX_HEADER:
            return Credentials(malformed="Authorization header too long", loopback=loopback)
        if "\n" in auth:
            return Credentials(malformed="Authorization header sent more than once",
                               loopback=loopback)
        scheme, _, value = auth.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and value:
            return Credentials(bearer=value, loopback=loopback)
        if scheme.lower() == "basic" and value:
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, ValueError):
                return Credentials(malformed="Basic credentials are not base64 of UTF-8",
                                   loopback=loopback)
            name, colon, password = decoded.partition(":")
            if not colon:
                return Credentials(malformed="Basic credentials without a colon",
                                   loopback=loopback)
            return Credentials(basic=(name, password), loopback=loopback)
        return Credentials(malformed="unknown Authorization scheme", loopback=loopback)
    token = _query_token(path)
    if token is not None:
        return Credentials(bearer=token, loopback=loopback)
    cookie_header = headers.get("Cookie")
    if cookie_header and len(cookie_header) <= MAX_HEADER:
        cookies = SimpleCookie()
        try:
            cookies.load(cookie_header)
        except CookieError:
            cookies = SimpleCookie()
        if COOKIE in cookies and cookies[COOKIE].value:
            return Credentials(session=cookies[COOKIE].value, loopback=loopback)
    return Credentials(loopback=loopback)
