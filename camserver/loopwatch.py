"""How late the event loop itself runs, so the server can tell its own overload from a hung child.

A timer asks to wake every ``interval``; how late it actually wakes is the loop's lag (time spent
in other callbacks: 2,000 handshakes at once, a burst of frames). :meth:`LoopMonitor.lag_total`
is the lag summed since start, including the lateness of the wake-up that is overdue right now:
a check that runs just after a stall counts the stall even though the monitor's own timer has not
run yet. The FFmpeg watchdog subtracts the lag that passed while a frame was inside FFmpeg, so a
slow loop never looks like a hung encoder.
"""

from __future__ import annotations

import asyncio
import collections
import time


class LoopMonitor:
    def __init__(self, interval: float = 0.05, window: float = 60.0, clock=time.monotonic):
        self.interval = interval
        self._clock = clock
        self._window = window
        self._measured = 0.0
        self._due: float | None = None
        self._handle: asyncio.TimerHandle | None = None
        #: (time, lateness) of recent wake-ups that were late by over 10 ms.
        self._late: collections.deque[tuple[float, float]] = collections.deque(maxlen=4096)
        self.stalls = 0  # wake-ups late by over 100 ms, since start

    def start(self) -> None:
        self._due = self._clock() + self.interval
        self._handle = asyncio.get_running_loop().call_at(self._due, self._tick)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self._due = None

    def _tick(self) -> None:
        now = self._clock()
        late = max(0.0, now - self._due)
        self._measured += late
        if late > 0.010:
            self._late.append((now, late))
            if late > 0.100:
                self.stalls += 1
        self._due = now + self.interval
        self._handle = asyncio.get_running_loop().call_at(self._due, self._tick)

    def lag_total(self, now: float | None = None) -> float:
        """Seconds the loop has run late since :meth:`start`, up to ``now``."""
        now = self._clock() if now is None else now
        overdue = max(0.0, now - self._due) if self._due is not None else 0.0
        return self._measured + overdue

    def status(self) -> dict:
        now = self._clock()
        recent = [late for at, late in self._late if now - at <= self._window]
        return {"loop_lag_max_ms": round(max(recent, default=0.0) * 1000, 1),
                "loop_late_wakeups": len(recent), "loop_stalls_total": self.stalls}
