"""The camera's frame rate, which the encoder must be told for ``--bitrate`` to hold.

Why: an encoder that may not look ahead budgets bits per *frame*, not per second. x264 with
``-tune zerolatency`` turns off its variable-frame-rate input (``b_vfr_input = 0``; with it on,
x264 holds one frame back to learn each frame's duration from the next one's timestamp) and then
gives every frame ``bitrate / fps``, ``fps`` being the rate FFmpeg opened the encoder with (25 by
default for piped JPEGs, whatever the timestamps say). Measured with FFmpeg 5.1: 1500k came out
at ~660 kbit/s from a 10 fps camera and ~1,850 kbit/s from a 30 fps one. Told the real rate (the
Matroska track's DefaultDuration, media/mkv.py): within -0.6% to +2.1% of the setting at 5, 10,
15 and 30 fps and with jitter, in FFmpeg 5.1 and 9.0. Hardware encoders' rate control counts
frames the same way (not measured here).

So the server measures each camera's rate from the JPEGs' arrival times and starts FFmpeg with
it (a camera's ``hello`` fps, or :data:`DEFAULT_FPS`, until there is a measurement), and
restarts FFmpeg when the camera's rate has moved away from it (:func:`needs_restart`).

The estimate is the slope of a least-squares line through the arrival times of the last
:data:`WINDOW` seconds (time against frame count). Wi-Fi jitter delays frames and then delivers
them in bursts; that leaves the mean rate alone, but a rate from the first and last arrival
alone moves with those two frames' delays. Simulating the mock camera's jitter (exponential,
mean 20-100 ms) at 5-30 fps, 200 schedules each, 10 s windows: the line was off by at most
0.4-3.0%, first-to-last by up to 1-9.4% (and over 5 s windows the median interval by up to
58%). A silence (camera
gone, Wi-Fi stall) is not the camera's rate: it starts the estimate afresh, and the first
:data:`SETTLE` seconds after it are left out, because a stalled link delivers its late frames in
a burst.
"""

from __future__ import annotations

import collections
import math

#: What the encoder is told when nothing is known (FFmpeg's own default for piped JPEGs).
DEFAULT_FPS = 25.0
MIN_FPS, MAX_FPS = 0.5, 120.0
#: Seconds of arrivals averaged.
WINDOW = 10.0
#: Seconds of arrivals needed for an estimate (over 3 s the line's error with 50 ms of jitter
#: was up to 6.7%).
MIN_SPAN = 5.0
#: Seconds left out after a silence (and at the start).
SETTLE = 1.0
#: An interval longer than this and than 4 mean intervals is a silence; before there is a mean,
#: one longer than NO_MEAN_GAP is.
GAP = 1.0
NO_MEAN_GAP = 5.0
#: The encoder is restarted when the camera's rate differs from what it was told by more than
#: this fraction (measured: x264 told the right rate lands within -0.6..+2.1% of --bitrate, and
#: the estimate is within ~1% with 50 ms of jitter, so the bitrate stays within about 8%)...
TOLERANCE = 0.05
#: ...and only after it has run this long: a camera that announced no rate or a wrong one is
#: corrected once, not on every wobble of its first seconds.
MIN_RUN = 10.0


def hinted_fps(value: object) -> float | None:
    """A camera's announced fps (from its hello) if it is a plausible number, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) and MIN_FPS <= value <= MAX_FPS else None


def encoder_fps(estimate: float | None, hint: float | None) -> float:
    """The rate to start an encoder with: the measured one, else the camera's, else a default,
    rounded to 0.01 fps and kept within [MIN_FPS, MAX_FPS]."""
    fps = estimate if estimate is not None else hint if hint is not None else DEFAULT_FPS
    return round(min(MAX_FPS, max(MIN_FPS, fps)), 2)


def needs_restart(told: float, estimate: float | None, running_for: float) -> bool:
    """Whether an encoder told ``told`` fps, running for ``running_for`` s, should be restarted
    for a camera now measured at ``estimate`` fps."""
    return (estimate is not None and running_for >= MIN_RUN
            and abs(encoder_fps(estimate, None) / told - 1) > TOLERANCE)


class FrameRateEstimator:
    """Frame rate over the last :data:`WINDOW` seconds of arrivals (see the module doc)."""

    #: The line is fitted again at most this often (seconds of arrivals): O(frames in the window).
    REFIT = 0.5

    def __init__(self) -> None:
        self._times: collections.deque[float] = collections.deque()
        self._last: float | None = None
        self._settle_until = -math.inf
        self._fitted_at = -math.inf
        self._fps: float | None = None

    def add(self, t: float) -> None:
        """A frame arrived at monotonic time ``t`` (seconds, not decreasing)."""
        last, self._last = self._last, t
        if last is None or t - last > self._gap():
            self._times.clear()
            self._settle_until = t + SETTLE
            self._fitted_at, self._fps = -math.inf, None
        if t < self._settle_until:
            return
        self._times.append(t)
        while t - self._times[0] > WINDOW:
            self._times.popleft()

    @property
    def fps(self) -> float | None:
        """The estimate, or None while fewer than :data:`MIN_SPAN` seconds are known."""
        times = self._times
        if len(times) < 3 or times[-1] - times[0] < MIN_SPAN:
            return None
        if times[-1] - self._fitted_at >= self.REFIT:
            self._fitted_at, self._fps = times[-1], 1 / _slope(times)
        return self._fps

    def _gap(self) -> float:
        times = self._times
        if len(times) < 2 or times[-1] == times[0]:
            return NO_MEAN_GAP
        return max(GAP, 4 * (times[-1] - times[0]) / (len(times) - 1))


def _slope(times: collections.deque[float]) -> float:
    """Least-squares seconds per frame of arrival times against their index."""
    n = len(times)
    t0 = times[0]
    mean_i = (n - 1) / 2
    mean_t = sum(times) / n - t0
    covariance = sum((i - mean_i) * (t - t0 - mean_t) for i, t in enumerate(times))
    return covariance / (n * (n * n - 1) / 12)  # sum of (i - mean_i)^2
