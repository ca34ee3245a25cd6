"""Every viewer of every camera, format and port, counted and watched in one place.

Contract:

- :meth:`Audience.admit` lets a viewer in or raises :class:`Refused`: at most ``max_viewers`` in
  all and ``max_per_address`` per client address (loopback addresses are exempt, so a local
  reverse proxy or load test is not capped; behind a trusted proxy the address is the client's).
  A viewer is counted from admission (including while it waits for its camera) until
  :meth:`Audience.leave`.
- A viewer that has unsent bytes and has taken none of them for ``stall_timeout`` seconds is
  dropped (:meth:`~camserver.outputs.fanout.Viewer.abort`). Progress is measured in bytes the peer
  actually took (bytes handed to its transport minus what is still unsent), not by pings: a
  WebSocket ping waits behind the stalled viewer's full write buffer, so its timeout never starts.
- :meth:`Audience.drop_stalled_now` (shutdown) aborts, without a closing handshake, every viewer
  that has unsent bytes: waiting for them would take a close timeout each.
"""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import logging
import time

from ..ratelimit import RateLimitedLog
from .fanout import Viewer

log = logging.getLogger(__name__)


class Refused(Exception):
    """Why a viewer was not let in; ``str()`` is a short reason for the peer."""


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


class Audience:
    def __init__(self, max_viewers: int = 5000, max_per_address: int = 100,
                 stall_timeout: float = 30.0, clock=time.monotonic):
        self.max_viewers = max_viewers
        self.max_per_address = max_per_address
        self.stall_timeout = stall_timeout
        self._clock = clock
        self.viewers: set[Viewer] = set()
        self._per_address: collections.Counter[str] = collections.Counter()
        #: viewer -> (bytes taken at the last check, when that number last grew)
        self._progress: dict[Viewer, tuple[int, float]] = {}
        self._log = RateLimitedLog(log)
        self.refused = 0
        self.dropped_stalled = 0

    def check(self, address: str) -> None:
        """Raise :class:`Refused` if a viewer from ``address`` would not be admitted now."""
        if len(self.viewers) >= self.max_viewers:
            self._refuse(address, "server-full",
                         f"server full ({self.max_viewers} viewers, --max-viewers)")
        if not is_loopback(address) and self._per_address[address] >= self.max_per_address:
            self._refuse(address, f"address:{address}",
                         f"too many viewers from {address} ({self.max_per_address}, "
                         "--max-viewers-per-address)")

    def admit(self, viewer: Viewer) -> None:
        self.check(viewer.address)
        self.viewers.add(viewer)
        self._per_address[viewer.address] += 1
        self._progress[viewer] = (0, self._clock())

    def leave(self, viewer: Viewer) -> None:
        if viewer in self.viewers:
            self.viewers.discard(viewer)
            self._progress.pop(viewer, None)
            self._per_address[viewer.address] -= 1
            if self._per_address[viewer.address] <= 0:
                del self._per_address[viewer.address]

    def _refuse(self, address: str, key: str, reason: str) -> None:
        self.refused += 1
        self._log.log(logging.WARNING, key, "Viewer from %s refused: %s", address, reason)
        raise Refused(reason)

    # -- stalls ----------------------------------------------------------------------------------

    def sweep(self) -> int:
        """Drop viewers that have made no progress for ``stall_timeout``; return how many."""
        now = self._clock()
        dropped = 0
        for viewer in list(self.viewers):
            backlog = viewer.backlog()
            taken = viewer.bytes_sent - backlog
            last_taken, since = self._progress.get(viewer, (taken, now))
            if backlog == 0 or taken > last_taken:
                self._progress[viewer] = (taken, now)
            elif now - since > self.stall_timeout:
                self._log.log(logging.INFO, "stalled",
                              "Viewer %s took nothing of its %d unsent bytes for %g s; "
                              "dropped", viewer.peer, backlog, self.stall_timeout)
                self.dropped_stalled += 1
                dropped += 1
                self.leave(viewer)
                viewer.abort()
        return dropped

    async def watch(self, interval: float = 1.0) -> None:
        """Sweep forever (a task of the server)."""
        while True:
            await asyncio.sleep(min(interval, self.stall_timeout / 4))
            self.sweep()

    def drop_stalled_now(self) -> None:
        for viewer in list(self.viewers):
            if viewer.backlog() > 0:
                viewer.abort()

    def close_all(self) -> None:
        """Shutdown: end every viewer's stream (WebSocket viewers are closed by their server)."""
        for viewer in list(self.viewers):
            viewer.close()

    def status(self) -> dict:
        return {"viewers": len(self.viewers), "max_viewers": self.max_viewers,
                "viewers_refused": self.refused, "viewers_dropped_stalled": self.dropped_stalled}
