import pytest

from camserver.meter import RateMeter


def test_rate_over_window():
    meter = RateMeter(window=2.0)
    for i in range(61):
        meter.add(1000, now=10 + i / 30)
    assert meter.per_second(now=12.0) == pytest.approx(30, rel=0.01)
    assert meter.bits_per_second(now=12.0) == pytest.approx(8000 * 60 / 2, rel=0.05)


def test_rate_falls_to_zero_when_events_stop():
    meter = RateMeter(window=2.0)
    for i in range(30):
        meter.add(now=i / 30)
    assert meter.per_second(now=10.0) == 0.0 and meter.bits_per_second(now=10.0) == 0.0
