"""The camera's frame rate as the encoder is told it (framerate.py): pure, from arrival times."""

import math
import random

import pytest

from camserver.ingest import framerate
from camserver.ingest.framerate import FrameRateEstimator, encoder_fps, hinted_fps, needs_restart
from mock_camera import frame_due


def arrivals(fps: float, seconds: float, jitter_ms: float = 0, seed: int = 0,
             start: float = 100.0) -> list[float]:
    """Arrival times of the mock camera's schedule (mock_camera.frame_due), as the server sees
    them."""
    rng = random.Random(seed)
    times, due, k = [], start, 0
    while True:
        due = frame_due(start, k, fps, due, jitter_ms, rng)
        if due - start > seconds:
            return times
        times.append(due)
        k += 1


def estimate(times: list[float]) -> float | None:
    estimator = FrameRateEstimator()
    for t in times:
        estimator.add(t)
    return estimator.fps


@pytest.mark.parametrize("fps", [1, 5, 10, 15, 30, 60])
def test_a_steady_camera_is_measured_exactly(fps):
    assert estimate(arrivals(fps, 12)) == pytest.approx(fps, rel=1e-6)


@pytest.mark.parametrize("fps", [5, 10, 15, 30])
@pytest.mark.parametrize("jitter_ms", [20, 50])
def test_wifi_jitter_moves_the_estimate_by_under_the_restart_tolerance(fps, jitter_ms):
    """Late frames and then bursts (the mock camera's --jitter) leave the mean rate alone. Over
    50 schedules each, the 10 s window stays within 1.5% (the restart tolerance is 5%)."""
    worst = max(abs(estimate(arrivals(fps, 15, jitter_ms, seed)) / fps - 1) for seed in range(50))
    assert worst < 0.015, worst


def test_no_estimate_before_enough_seconds_and_none_from_the_first_second():
    assert estimate(arrivals(30, 5.9)) is None  # settle 1 s + 5 s needed = 6 s
    assert estimate(arrivals(30, 6.1)) == pytest.approx(30)
    # The first second is left out: a burst of queued frames on connect does not count.
    burst = [100 + i * 0.001 for i in range(20)]
    assert estimate(burst + arrivals(10, 8, start=100.1)) == pytest.approx(10)


def test_a_silence_starts_the_estimate_afresh():
    """A camera that goes quiet for 2 s and comes back at another rate: no estimate right after
    (so no restart decision on stale data), then the new rate, not a blend with the silence."""
    estimator = FrameRateEstimator()
    for t in arrivals(30, 10):
        estimator.add(t)
    assert estimator.fps == pytest.approx(30)
    for t in arrivals(10, 5.5, start=112):
        estimator.add(t)
    assert estimator.fps is None
    for t in arrivals(10, 12, start=117.6):
        estimator.add(t)
    assert estimator.fps == pytest.approx(10)


def test_a_wifi_stall_whose_frames_come_late_in_a_burst_does_not_count_as_a_rate_change():
    """1.5 s without frames, then the 45 delayed ones at once: left out of the estimate."""
    before = arrivals(30, 10)
    stall_end = before[-1] + 1.5
    burst = [stall_end + i * 0.002 for i in range(45)]
    after = [t for t in arrivals(30, 20, start=100) if t > burst[-1]]
    assert estimate(before + burst + after) == pytest.approx(30, rel=0.01)


def test_a_slow_camera_is_not_taken_for_silences():
    """One frame every 2 s (0.5 fps, e.g. UXGA on a slow board) is a rate, not a string of
    silences: its intervals are under NO_MEAN_GAP."""
    assert estimate(arrivals(0.5, 20)) == pytest.approx(0.5)


def test_the_hello_fps_is_used_only_if_it_is_a_plausible_number():
    assert hinted_fps(15) == 15.0 and hinted_fps(7.5) == 7.5
    for bad in ("15", None, True, math.nan, math.inf, 0, -5, 1000, [15]):
        assert hinted_fps(bad) is None, bad


def test_the_encoder_is_told_the_measured_rate_else_the_announced_one_else_a_default():
    assert encoder_fps(9.87654, 15) == 9.88
    assert encoder_fps(None, 15.0) == 15.0
    assert encoder_fps(None, None) == framerate.DEFAULT_FPS
    assert encoder_fps(0.01, None) == framerate.MIN_FPS
    assert encoder_fps(500, None) == framerate.MAX_FPS


def test_restart_only_for_a_real_difference_after_the_encoder_has_run_a_while():
    run = framerate.MIN_RUN
    assert not needs_restart(25, None, run + 100)          # nothing measured
    assert not needs_restart(25, 10, run - 0.1)            # too soon after a start
    assert needs_restart(25, 10, run)
    assert needs_restart(30, 28.4, run)                    # 5.3% off
    assert not needs_restart(30, 28.6, run)                # 4.7% off
    assert not needs_restart(10, 10.4, run)
