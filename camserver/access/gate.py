"""The one place every door asks: who is calling, from where, and may they do this?

:meth:`Gate.identify` runs once per connection (HTTP request, WebSocket handshake), never per
frame: credentials -> :class:`~camserver.access.accounts.Principal`, with failed attempts
limited per client address (:data:`FAILURES_PER_MINUTE`, then 429 for the rest of the minute).
:meth:`Gate.check` answers "may this principal do ACTION on CAMERA?" and raises
:class:`Refusal` with the status a door should send: 401 (with a Basic challenge) when the
caller is anonymous or its credentials are wrong, 403 when they are right but the permission is
missing. :meth:`Gate.check_origin` refuses a browser page of another site (WebSocket handshakes
and state-changing requests that carry an ``Origin``).
"""

from __future__ import annotations

import collections
import logging
import time
import urllib.parse
from dataclasses import dataclass
from typing import Mapping

from ..ratelimit import RateLimitedLog
from .accounts import Accounts, BadCredentials, Principal
from .credentials import Client, TrustedProxies, credentials_of, single_headers

log = logging.getLogger(__name__)

FAILURES_PER_MINUTE = 10
_REMEMBERED_ADDRESSES = 4096


class Refusal(Exception):
    """Why a request is refused; ``status`` is the HTTP status to send."""

    def __init__(self, status: int, message: str, challenge: bool = False):
        super().__init__(message)
        self.status = status
        #: Send ``WWW-Authenticate: Basic`` (programs then ask for or send credentials).
        self.challenge = challenge


@dataclass(frozen=True)
class Caller:
    principal: Principal
    client: Client


class Gate:
    def __init__(self, accounts: Accounts, proxies: TrustedProxies,
                 allowed_origins: tuple[str, ...] = (), clock=time.monotonic,
                 own_ports: tuple[int, ...] = ()):
        self.accounts = accounts
        self.proxies = proxies
        self.allowed_origins = {o.lower() for o in allowed_origins}
        #: The server's ports (HTTP, camera, viewer): pages on them are this server's.
        self.own_ports = frozenset(own_ports)
        self._clock = clock
        #: address -> times of recent failures (bounded: least recently failed go first)
        self._failures: collections.OrderedDict[str, collections.deque] = \
            collections.OrderedDict()
        self._log = RateLimitedLog(log, interval=60)
        self.refused_credentials = 0

    # -- who -------------------------------------------------------------------------------------

    def client(self, peer: str, headers: Mapping[str, str], tls: bool) -> Client:
        return self.proxies.client(peer, single_headers(headers), tls)

    async def identify(self, headers: Mapping[str, str], path: str, peer: str,
                       tls: bool) -> Caller:
        headers = single_headers(headers)
        client = self.client(peer, headers, tls)
        credentials = credentials_of(headers, path, client)
        if credentials.given:
            self._check_throttle(client.address)
        try:
            principal = await self.accounts.authenticate(credentials)
        except BadCredentials as exc:
            self.failed(client.address, str(exc))
            raise Refusal(401, f"{exc}\n", challenge=True) from None
        return Caller(principal, client)

    def failed(self, address: str, reason: str) -> None:
        """Count a failed attempt (wrong credentials, a failed login) from ``address``."""
        self.refused_credentials += 1
        now = self._clock()
        times = self._failures.get(address)
        if times is None:
            times = self._failures[address] = collections.deque(maxlen=FAILURES_PER_MINUTE)
        self._failures.move_to_end(address)
        times.append(now)
        while len(self._failures) > _REMEMBERED_ADDRESSES:
            self._failures.popitem(last=False)
        self._log.log(logging.WARNING, f"failed:{address}",
                      "Refused credentials from %s: %s", address, reason)

    def _check_throttle(self, address: str) -> None:
        times = self._failures.get(address)
        if times is not None and len(times) == FAILURES_PER_MINUTE \
                and self._clock() - times[0] < 60:
            raise Refusal(429, "too many failed attempts from this address; wait a minute\n")

    def check_throttle(self, address: str) -> None:
        self._check_throttle(address)

    # -- may they --------------------------------------------------------------------------------

    def check(self, caller: Caller, action: str, camera: str | None = None) -> None:
        if caller.principal.may(action, camera):
            return
        what = f"{action} on camera {camera}" if camera else action
        if caller.principal.anonymous:
            raise Refusal(401, f"log in to {what}\n", challenge=True)
        raise Refusal(403, f"{caller.principal.name} may not {what}\n")

    # -- from where ------------------------------------------------------------------------------

    def origin_allowed(self, headers: Mapping[str, str]) -> bool:
        """True without an Origin (programs, cameras) or with one of this server: its own host
        on one of its ports, or one of ``allowed_origins``.

        "Its ports": the port in ``Host`` or one of :attr:`own_ports` (a page on the HTTP port
        opens the viewer port). Another program on the same host (a router's admin page, any
        web app on another port) is another site. A ``Host`` without a port is what a reverse
        proxy that rewrites it (nginx ``$host``) sends: there only the host name is compared,
        as the proxy's own port is not known here."""
        headers = single_headers(headers)
        origin = headers.get("Origin")
        if origin is None:
            return True
        host = headers.get("Host", "")
        if "\n" in origin or "\n" in host:  # sent twice
            return False
        origin = origin.strip().lower().rstrip("/")
        if origin in self.allowed_origins:
            return True
        try:
            parsed = urllib.parse.urlsplit(origin)
            own = urllib.parse.urlsplit("//" + host)
            origin_host, own_host = parsed.hostname, own.hostname
            origin_port = parsed.port or {"http": 80, "https": 443}.get(parsed.scheme)
            own_port = own.port
        except ValueError:
            return False
        if origin_host is None or origin_host != own_host:
            return False
        return own_port is None or origin_port == own_port or origin_port in self.own_ports

    def check_origin(self, headers: Mapping[str, str]) -> None:
        if not self.origin_allowed(headers):
            raise Refusal(403, "cross-site request refused (Origin is not this server)\n")
