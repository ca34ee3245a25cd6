"""Rates over a sliding window, for /status: frames per second and kilobits per second."""

from __future__ import annotations

import collections
import time


class RateMeter:
    """Counts events (with an optional size) and reports their rate over the last ``window`` s."""

    def __init__(self, window: float = 2.0, clock=time.monotonic):
        self._window = window
        self._clock = clock
        self._events: collections.deque[tuple[float, int]] = collections.deque()
        self._size = 0

    def add(self, size: int = 0, now: float | None = None) -> None:
        now = self._clock() if now is None else now
        self._events.append((now, size))
        self._size += size
        self._expire(now)

    def per_second(self, now: float | None = None) -> float:
        """Events per second: intervals between the events inside the window."""
        self._expire(self._clock() if now is None else now)
        if len(self._events) < 2:
            return 0.0
        span = self._events[-1][0] - self._events[0][0]
        return (len(self._events) - 1) / span if span > 0 else 0.0

    def bits_per_second(self, now: float | None = None) -> float:
        self._expire(self._clock() if now is None else now)
        return self._size * 8 / self._window

    def _expire(self, now: float) -> None:
        while self._events and self._events[0][0] < now - self._window:
            self._size -= self._events.popleft()[1]
