"""Log lines that a peer can cause, bounded whatever the peer sends.

A camera can send thousands of bad messages a second and a viewer can reconnect as fast as the
network allows; each could cause a log line. :class:`RateLimitedLog` bounds them three ways:

- **Per reason.** The first line of a key is written at once; repeats within ``interval`` seconds
  are counted and folded into the next line of that key ("... (37 more since last report)").
  Keys are reason codes chosen by the caller (``"cam1:bad-jpeg"``), never free peer data; where a
  key must name a peer (a client address), only the ``max_keys`` most recently used are
  remembered, so a peer cannot grow memory by inventing keys.
- **In length.** Text a peer chose goes through :func:`clip` before it reaches a line: at most
  ``limit`` characters, quoted, with control characters escaped so it cannot forge log lines.
- **In total.** All instances share one budget (:data:`BUDGET`) of lines per ``interval``; lines
  over it are only counted, and the next line that gets through says how many were lost.
"""

from __future__ import annotations

import collections
import logging
import time

PEER_TEXT_LIMIT = 200


def clip(value: object, limit: int = PEER_TEXT_LIMIT) -> str:
    """``value`` as safe log text: ``repr`` of at most ``limit`` characters of it."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text) - limit} more characters)"


class LineBudget:
    """A token bucket of log lines shared by every :class:`RateLimitedLog`."""

    def __init__(self, lines: int = 40, interval: float = 10.0, clock=time.monotonic):
        self.capacity = lines
        self._rate = lines / interval
        self._clock = clock
        self._tokens = float(lines)
        self._stamp = clock()
        self.suppressed = 0

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        self.suppressed += 1
        return False


#: The process-wide budget for lines peers can cause (about 40 per 10 s, bursts of 40).
BUDGET = LineBudget()


class RateLimitedLog:
    def __init__(self, logger: logging.Logger, interval: float = 10.0, clock=time.monotonic,
                 max_keys: int = 256, budget: LineBudget | None = None):
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._max_keys = max_keys
        self._budget = budget
        #: key -> (time of the last line written, occurrences not written since)
        self._keys: collections.OrderedDict[str, list] = collections.OrderedDict()

    def log(self, level: int, key: str, message: str, *args, **kwargs) -> bool:
        """Log ``message % args`` unless ``key`` was logged less than ``interval`` ago or the
        shared budget is spent. Returns whether a line was written."""
        if not self._logger.isEnabledFor(level):
            return False
        now = self._clock()
        entry = self._keys.get(key)
        if entry is not None:
            self._keys.move_to_end(key)
            if now - entry[0] < self._interval:
                entry[1] += 1
                return False
        budget = self._budget or BUDGET
        if not budget.take():
            if entry is not None:
                entry[1] += 1
            return False
        if entry is not None and entry[1]:
            message += " (%d more since last report)"
            args = (*args, entry[1])
        if budget.suppressed:
            message += " [%d other log lines about peers were suppressed]"
            args = (*args, budget.suppressed)
            budget.suppressed = 0
        self._keys[key] = [now, 0]
        self._keys.move_to_end(key)
        while len(self._keys) > self._max_keys:
            self._keys.popitem(last=False)
        self._logger.log(level, message, *args, **kwargs)
        return True
