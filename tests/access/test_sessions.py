"""Login sessions: only hashes on disk, expiry, a bounded number, and surviving a restart."""

import json
import os
import stat

from camserver.access import sessions
from camserver.access.sessions import SessionStore


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_session_survives_a_restart_and_only_its_hash_is_on_disk(tmp_path):
    clock = Clock()
    store = SessionStore(tmp_path, lifetime=3600, clock=clock)
    session_id = store.start("alice")
    assert len(session_id) >= 43  # 32 random bytes
    text = (tmp_path / "sessions.json").read_text()
    assert session_id not in text and "alice" in text
    assert stat.S_IMODE(os.stat(tmp_path / "sessions.json").st_mode) == 0o600
    again = SessionStore(tmp_path, lifetime=3600, clock=clock)  # a server restart
    found = again.find(session_id)
    assert found is not None and found.user == "alice" and found.expires == clock.now + 3600
    assert again.find(session_id[:-1] + ("A" if session_id[-1] != "A" else "B")) is None


def test_a_session_expires_and_ends(tmp_path):
    clock = Clock()
    store = SessionStore(tmp_path, lifetime=60, clock=clock)
    first, second = store.start("alice"), store.start("bob")
    clock.now += 59
    assert store.find(first).user == "alice"
    clock.now += 2
    assert store.find(first) is None
    assert len(json.loads((tmp_path / "sessions.json").read_text())["sessions"]) == 1
    assert store.end(second).user == "bob" and store.find(second) is None
    assert store.end(second) is None
    clock.now += 1
    assert SessionStore(tmp_path, lifetime=60, clock=clock).find(first) is None


def test_repeated_logins_keep_a_bounded_number_of_sessions(tmp_path, monkeypatch):
    monkeypatch.setattr(sessions, "MAX_SESSIONS", 5)
    clock = Clock()
    store = SessionStore(tmp_path, lifetime=60, clock=clock)
    ids = []
    for _ in range(8):
        clock.now += 1
        ids.append(store.start("alice"))
    assert [store.find(i) is not None for i in ids] == [False] * 3 + [True] * 5


def test_garbage_is_no_session_and_an_unreadable_file_means_logging_in_again(tmp_path, caplog):
    store = SessionStore(tmp_path, lifetime=60)
    for garbage in ("", "x", "\udcff" * 3, "a" * 101, "../../etc/passwd"):
        assert store.find(garbage) is None
    (tmp_path / "sessions.json").write_text("{not json")
    assert SessionStore(tmp_path, lifetime=60).find("x") is None
    assert "unreadable" in caplog.text
    (tmp_path / "sessions.json").write_text('{"sessions": [{"key": 1}]}')
    SessionStore(tmp_path, lifetime=60)
