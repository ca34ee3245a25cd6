"""The gate every door asks: identify once (failed attempts limited per address, loopback
included), check (401 with a challenge / 403), and the origin of browser requests."""

import asyncio
import base64
import logging

import pytest

from camserver.access import passwords
from camserver.access.accounts import Accounts
from camserver.access.credentials import TrustedProxies
from camserver.access.gate import FAILURES_PER_MINUTE, Gate, Refusal
from camserver import ratelimit

PASSWORD = "pw-of-alice-42"
DOCUMENT = {"user": [{"name": "alice", "password": passwords.hash_password(PASSWORD),
                      "allow": ["read:desk", "status"]}],
            "token": [{"token": "reader-token-1", "allow": ["read:*"]}]}


class Clock:
    def __init__(self):
        self.now = 5000.0

    def __call__(self):
        return self.now


@pytest.fixture
def gate():
    ratelimit.BUDGET.__init__()  # a full log budget: earlier tests must not hide these lines
    return Gate(Accounts.from_document(DOCUMENT), TrustedProxies(("10.9.9.9",)),
                ("https://dashboard.example",), clock=Clock(), own_ports=(8080, 8765, 8766))


def basic(name: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}


def identify(gate, headers=None, path="/", peer="127.0.0.1"):
    return asyncio.run(gate.identify(headers or {}, path, peer, tls=False))


def status_of(call) -> int:
    try:
        call()
    except Refusal as refusal:
        return refusal.status
    return 200


def test_identify_and_check_give_401_with_a_challenge_403_or_pass(gate):
    anonymous = identify(gate)
    with pytest.raises(Refusal) as refused:
        gate.check(anonymous, "read", "desk")
    assert refused.value.status == 401 and refused.value.challenge
    alice = identify(gate, basic("alice", PASSWORD))
    gate.check(alice, "read", "desk")
    gate.check(alice, "status")
    with pytest.raises(Refusal) as refused:
        gate.check(alice, "read", "garden")
    assert refused.value.status == 403 and not refused.value.challenge
    assert "alice may not read on camera garden" in str(refused.value)
    with pytest.raises(Refusal) as refused:
        identify(gate, basic("alice", "wrong"))
    assert refused.value.status == 401 and refused.value.challenge
    assert "wrong" not in str(refused.value).replace("wrong user name", "")
    assert identify(gate, path="/x?token=reader-token-1").principal.may("read", "garden")


def test_ten_failures_a_minute_from_one_address_then_429_even_for_the_right_password(gate,
                                                                                      caplog):
    caplog.set_level(logging.WARNING, "camserver.access.gate")
    clock = gate._clock
    for n in range(FAILURES_PER_MINUTE):
        assert status_of(lambda: identify(gate, basic("alice", f"guess{n}"))) == 401
        clock.now += 1
    assert status_of(lambda: identify(gate, basic("alice", PASSWORD))) == 429
    assert status_of(lambda: identify(gate, {"Authorization": "Bearer reader-token-1"})) == 429
    # Loopback is not special, other addresses are not affected, and anonymous requests (no
    # credentials to guess) are not throttled.
    assert status_of(lambda: identify(gate, basic("alice", PASSWORD), peer="127.0.0.2")) == 200
    assert status_of(lambda: identify(gate, peer="127.0.0.1")) == 200
    # A minute after the first failure, one more attempt is allowed.
    clock.now += 60 - FAILURES_PER_MINUTE + 0.5
    assert status_of(lambda: identify(gate, basic("alice", PASSWORD))) == 200
    assert status_of(lambda: identify(gate, basic("alice", "again wrong"))) == 401
    assert status_of(lambda: identify(gate, basic("alice", PASSWORD))) == 429
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["Refused credentials from 127.0.0.1: wrong user name or password"], lines
    assert gate.refused_credentials == FAILURES_PER_MINUTE + 1


def test_failures_are_counted_per_forwarded_client_only_behind_a_trusted_proxy(gate):
    for n in range(FAILURES_PER_MINUTE):
        headers = {**basic("alice", "x"), "X-Forwarded-For": f"198.51.100.{n}"}
        assert status_of(lambda: identify(gate, headers, peer="192.168.1.50")) == 401
    # Not a trusted proxy: its X-Forwarded-For was ignored and the failures were its own.
    assert status_of(lambda: identify(gate, basic("alice", PASSWORD), peer="192.168.1.50")) \
        == 429
    for n in range(FAILURES_PER_MINUTE):
        headers = {**basic("alice", "x"), "X-Forwarded-For": "203.0.113.1"}
        assert status_of(lambda: identify(gate, headers, peer="10.9.9.9")) == 401
    forwarded = {**basic("alice", PASSWORD), "X-Forwarded-For": "203.0.113.1"}
    assert status_of(lambda: identify(gate, forwarded, peer="10.9.9.9")) == 429
    other = {**basic("alice", PASSWORD), "X-Forwarded-For": "203.0.113.2"}
    assert status_of(lambda: identify(gate, other, peer="10.9.9.9")) == 200


def test_the_failure_table_is_bounded(gate, monkeypatch):
    from camserver.access import gate as gate_module
    monkeypatch.setattr(gate_module, "_REMEMBERED_ADDRESSES", 100)
    for n in range(1000):
        gate.failed(f"10.1.{n // 256}.{n % 256}", "test")
    assert len(gate._failures) == 100


@pytest.mark.parametrize("origin, host, allowed", [
    (None, "cams.local:8080", True),                          # programs and cameras
    ("http://cams.local:8080", "cams.local:8080", True),
    ("http://cams.local:8766", "cams.local:8080", True),      # its own host, its viewer port
    ("http://cams.local:8080", "cams.local:8766", True),      # the page opens the viewer port
    ("http://cams.local:9000", "cams.local:8080", False),     # another program on that host
    ("http://cams.local", "cams.local:8080", False),          # ... on port 80
    ("https://CAMS.local", "cams.local", True),               # a proxy that rewrites Host
    ("https://cams.local:8443", "cams.local", True),          # (nginx $host drops the port)
    ("http://[::1]:8766", "[::1]:8080", True),
    ("http://[::1]:3000", "[::1]:8080", False),
    ("https://dashboard.example", "cams.local:8080", True),   # --allowed-origins
    ("https://dashboard.example/", "cams.local:8080", True),
    ("http://evil.example", "cams.local:8080", False),
    ("http://cams.local.evil.example", "cams.local:8080", False),
    ("http://127.0.0.2:8080", "127.0.0.1:8080", False),
    ("null", "cams.local:8080", False),                       # sandboxed frames, file://
    ("http://cams.local:8080", "", False),
    ("http://[", "cams.local", False),
    ("http://cams.local", "[", False),
])
def test_origin(gate, origin, host, allowed):
    headers = {"Host": host} if origin is None else {"Host": host, "Origin": origin}
    assert gate.origin_allowed(headers) is allowed
    assert status_of(lambda: gate.check_origin(headers)) == (200 if allowed else 403)
