"""Log lines that a misbehaving peer can trigger thirty times a second, without flooding the log.

The first occurrence of each key is logged at once; later ones are counted and folded into one
line at most every ``interval`` seconds ("... (37 more since last report)").
"""

from __future__ import annotations

import logging
import time


class RateLimitedLog:
    def __init__(self, logger: logging.Logger, interval: float = 10.0, clock=time.monotonic):
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def log(self, level: int, key: str, message: str, *args, **kwargs) -> bool:
        """Log ``message % args`` unless ``key`` was logged less than ``interval`` ago.

        Returns whether a line was written.
        """
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self._interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return False
        suppressed = self._suppressed.pop(key, 0)
        if suppressed:
            message += " (%d more since last report)"
            args = (*args, suppressed)
        self._last[key] = now
        self._logger.log(level, message, *args, **kwargs)
        return True
