import logging

from camserver.ratelimit import RateLimitedLog


def test_first_line_then_one_summary_per_interval(caplog):
    now = [0.0]
    limited = RateLimitedLog(logging.getLogger("t"), interval=10, clock=lambda: now[0])
    with caplog.at_level(logging.INFO):
        assert limited.log(logging.WARNING, "k", "bad frame: %s", "x")
        for _ in range(5):
            now[0] += 1
            assert not limited.log(logging.WARNING, "k", "bad frame: %s", "x")
        assert limited.log(logging.WARNING, "other", "other key")
        now[0] = 11
        assert limited.log(logging.WARNING, "k", "bad frame: %s", "y")
    assert [r.getMessage() for r in caplog.records] == [
        "bad frame: x", "other key", "bad frame: y (5 more since last report)"]
