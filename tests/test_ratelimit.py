import logging

from camserver.ratelimit import LineBudget, RateLimitedLog, clip


def make(now, **kwargs):
    budget = kwargs.pop("budget", LineBudget(1000, 10, clock=lambda: now[0]))
    return RateLimitedLog(logging.getLogger("t"), interval=10, clock=lambda: now[0],
                          budget=budget, **kwargs)


def test_first_line_then_one_summary_per_interval(caplog):
    now = [0.0]
    limited = make(now)
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


def test_keys_a_peer_invents_are_bounded():
    now = [0.0]
    limited = make(now, max_keys=8)
    for n in range(10_000):
        limited.log(logging.WARNING, f"addr-{n}", "refused %s", n)
    assert len(limited._keys) == 8


def test_shared_budget_bounds_the_total_and_says_what_it_dropped(caplog):
    now = [0.0]
    budget = LineBudget(5, 10, clock=lambda: now[0])
    first, second = make(now, budget=budget), make(now, budget=budget)
    with caplog.at_level(logging.INFO):
        for n in range(50):  # 100 distinct keys, 100 would-be lines
            first.log(logging.WARNING, f"a{n}", "a %d", n)
            second.log(logging.WARNING, f"b{n}", "b %d", n)
        now[0] = 10  # the budget refills
        first.log(logging.WARNING, "later", "later")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 6
    assert messages[-1] == "later [95 other log lines about peers were suppressed]"


def test_clip_bounds_and_escapes_peer_text():
    assert clip("hello") == "'hello'"
    assert clip("evil\n2026-01-01 INFO forged") == "'evil\\n2026-01-01 INFO forged'"
    long = clip("x" * 10_000)
    assert long.startswith("'xxx") and long.endswith("... (9800 more characters)")
    assert len(long) < 240
