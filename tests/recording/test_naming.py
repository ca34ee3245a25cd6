import calendar
from zoneinfo import ZoneInfo

from camserver.recording.naming import (JUMP_SECONDS, WallClock, candidates, is_repeated,
                                        is_segment_path)

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(t: float) -> int:
    import datetime
    return int(datetime.datetime.fromtimestamp(t, BERLIN).utcoffset().total_seconds())


def utc(*parts) -> float:
    return float(calendar.timegm(parts))


def first(t, offset_at=berlin, n=1):
    names = candidates(t, offset_at)
    return [next(names) for _ in range(n)]


def test_names_are_local_time_without_offset_when_unambiguous():
    assert first(utc(2024, 7, 1, 10, 0, 5)) == ["2024-07-01/12-00-05.mp4"]  # CEST, +2
    assert first(utc(2024, 1, 1, 23, 30, 0)) == ["2024-01-02/00-30-00.mp4"]  # CET, next day
    assert first(utc(2024, 1, 1, 23, 30, 0), lambda t: 0) == ["2024-01-01/23-30-00.mp4"]


def test_repeated_hour_gets_the_offset_so_names_never_collide():
    # 2024-10-27: 03:00 CEST -> 02:00 CET; local 02:30 happens at 00:30 and 01:30 UTC.
    before, after = utc(2024, 10, 27, 0, 30, 0), utc(2024, 10, 27, 1, 30, 0)
    assert is_repeated(before, berlin) and is_repeated(after, berlin)
    assert first(before) == ["2024-10-27/02-30-00+0200.mp4"]
    assert first(after) == ["2024-10-27/02-30-00+0100.mp4"]
    # The hour after is unambiguous again; so is the spring-forward gap.
    assert first(utc(2024, 10, 27, 2, 0, 0)) == ["2024-10-27/03-00-00.mp4"]
    assert not is_repeated(utc(2024, 3, 31, 1, 30, 0), berlin)
    assert first(utc(2024, 3, 31, 1, 30, 0)) == ["2024-03-31/03-30-00.mp4"]


def test_a_second_seen_twice_gets_numbered_names():
    # A wall clock set back (NTP fixing a stale clock) can repeat even a UTC second.
    t = utc(2024, 7, 1, 10, 0, 5)
    assert first(t, n=4) == ["2024-07-01/12-00-05.mp4", "2024-07-01/12-00-05+0200.mp4",
                             "2024-07-01/12-00-05+0200-2.mp4", "2024-07-01/12-00-05+0200-3.mp4"]
    assert first(utc(2024, 7, 1, 10, 0, 5), lambda t: -(3 * 3600 + 1800))[0] == \
        "2024-07-01/06-30-05.mp4"
    assert next(candidates(t, lambda t: -(3 * 3600 + 1800))) == "2024-07-01/06-30-05.mp4"


def test_only_the_recorders_own_names_are_segments():
    assert is_segment_path("2024-07-01", "12-00-05.mp4")
    assert is_segment_path("2024-10-27", "02-30-00+0100.mp4")
    assert is_segment_path("2024-10-27", "02-30-00+0100-12.mp4")
    assert not is_segment_path("2024-07-01", "holiday.mp4")
    assert not is_segment_path("photos", "12-00-05.mp4")
    assert not is_segment_path("2024-07-01", "12-00-05.mp4.tmp")


class FakeClocks:
    def __init__(self):
        self.wall, self.mono = 1_700_000_000.0, 500.0

    def __call__(self):
        return self.wall, self.mono

    def advance(self, seconds):
        self.wall += seconds
        self.mono += seconds


def test_wall_clock_anchors_each_segment_and_sees_jumps():
    clocks = FakeClocks()
    clock = WallClock(epoch_monotonic=400.0, now=clocks)  # stream began 100 s ago
    pts = 100 * 90000
    assert clock.anchor(pts) == clocks.wall
    clocks.advance(30)
    assert clock.utc(pts + 30 * 90000) == clocks.wall
    assert clock.jumped(pts + 30 * 90000) == 0.0
    # Slewing and scheduling noise below the threshold is no jump.
    clocks.wall += JUMP_SECONDS / 2
    assert clock.jumped(pts + 30 * 90000) == 0.0
    # NTP sets the clock an hour forward: media time is untouched, the jump is reported...
    clocks.wall += 3600
    assert abs(clock.jumped(pts + 30 * 90000) - (3600 + JUMP_SECONDS / 2)) < 1e-6
    assert clock.utc(pts + 30 * 90000) == clocks.wall - 3600 - JUMP_SECONDS / 2
    # ... and the next segment is anchored to the new time.
    assert clock.anchor(pts + 30 * 90000) == clocks.wall
    assert clock.jumped(pts + 30 * 90000) == 0.0
    # A frame's wall time is carried back from now by the monotonic clock.
    clocks.advance(0.5)
    assert abs(clock.wall_time_of(pts + 30 * 90000) - (clocks.wall - 0.5)) < 1e-6
