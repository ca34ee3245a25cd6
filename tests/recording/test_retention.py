from camserver.recording.retention import Stored, plan

DAY = 86400.0
NOW = 1_700_000_000.0


def seg(camera, age_days, size=100, live=False, length=60.0):
    start = NOW - age_days * DAY
    return Stored(camera, f"{camera}/{age_days}.mp4", start, start + length, size, live)


def names(p):
    return [(d.segment.path, d.rule) for d in p.deletions]


def test_keep_per_camera_deletes_what_ended_before_the_limit():
    segments = [seg("desk", 8), seg("desk", 6), seg("door", 8), seg("door", 1)]
    p = plan(segments, now=NOW, keep={"desk": 7 * DAY, "door": None}.get, max_bytes=None,
             free_bytes=None, min_free_bytes=0)
    assert names(p) == [("desk/8.mp4", "keep")]
    assert not p.short_of_space


def test_max_bytes_over_all_cameras_deletes_oldest_first():
    segments = [seg("desk", 3), seg("door", 5), seg("desk", 1), seg("door", 2), seg("desk", 4)]
    p = plan(segments, now=NOW, keep=lambda c: None, max_bytes=250, free_bytes=None,
             min_free_bytes=0)
    assert names(p) == [("door/5.mp4", "max_bytes"), ("desk/4.mp4", "max_bytes"),
                        ("desk/3.mp4", "max_bytes")]


def test_keep_counts_before_max_bytes():
    segments = [seg("desk", 10), seg("desk", 3), seg("desk", 2), seg("desk", 1)]
    p = plan(segments, now=NOW, keep=lambda c: 7 * DAY, max_bytes=200, free_bytes=None,
             min_free_bytes=0)
    assert names(p) == [("desk/10.mp4", "keep"), ("desk/3.mp4", "max_bytes")]


def test_min_free_bytes_deletes_oldest_until_there_is_room():
    segments = [seg("desk", 3), seg("door", 2), seg("desk", 1)]
    p = plan(segments, now=NOW, keep=lambda c: None, max_bytes=None, free_bytes=850,
             min_free_bytes=1000)
    assert names(p) == [("desk/3.mp4", "min_free_bytes"), ("door/2.mp4", "min_free_bytes")]
    assert not p.short_of_space


def test_live_segments_are_never_deleted_and_short_of_space_is_reported():
    segments = [seg("desk", 3, live=True), seg("desk", 2)]
    p = plan(segments, now=NOW, keep=lambda c: 0.5 * DAY, max_bytes=0, free_bytes=0,
             min_free_bytes=1000)
    assert names(p) == [("desk/2.mp4", "keep")]
    assert p.short_of_space


def test_nothing_to_do():
    p = plan([seg("desk", 1)], now=NOW, keep=lambda c: None, max_bytes=None, free_bytes=10**12,
             min_free_bytes=1 << 30)
    assert p.deletions == [] and not p.short_of_space
