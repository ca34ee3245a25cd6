"""Who may do what: users, tokens and anonymous callers from the config file, and the defaults
without one. Wrong credentials are refused, never downgraded to anonymous."""

import asyncio

import pytest

from camserver.access import passwords
from camserver.access.accounts import Accounts, BadCredentials, Credentials
from camserver.access.sessions import SessionStore

ALICE_PASSWORD = "alice's secret 1"
TOKEN = "3f9c0a1b2c3d4e5f"
HASH = passwords.hash_password(ALICE_PASSWORD)

DOCUMENT = {
    "user": [{"name": "alice", "password": HASH,
              "allow": ["read:*", "control:desk", "playback:*", "status", "metrics"]},
             {"name": "bob", "password": "plain-text-pw", "allow": ["read:lobby"]}],
    "token": [{"token": TOKEN, "allow": ["publish:desk"], "name": "desk camera"}],
    "anonymous": {"allow": ["read:lobby"]},
}


def who(accounts: Accounts, **credentials):
    return asyncio.run(accounts.authenticate(Credentials(**credentials)))


def test_users_tokens_and_anonymous_get_what_the_file_allows():
    accounts = Accounts.from_document(DOCUMENT)
    alice = who(accounts, basic=("alice", ALICE_PASSWORD))
    assert (alice.name, alice.kind) == ("alice", "user")
    assert alice.may("read", "garden") and alice.may("control", "desk")
    assert not alice.may("control", "garden") and not alice.may("publish", "desk")
    camera = who(accounts, bearer=TOKEN)
    assert (camera.name, camera.kind) == ("desk camera", "token")
    assert camera.may("publish", "desk") and not camera.may("publish", "door")
    assert not camera.may("read", "desk")
    anonymous = who(accounts)
    assert anonymous.anonymous and anonymous.may("read", "lobby")
    assert not anonymous.may("read", "desk") and not anonymous.may("publish", "lobby")
    assert who(accounts, basic=("bob", "plain-text-pw")).may("read", "lobby")
    assert accounts.warnings == ["user 'bob' has a plain-text password in the config file; "
                                 "store a hash (python3 server.py hash-password)"]


@pytest.mark.parametrize("credentials", [
    {"basic": ("alice", "wrong")},
    {"basic": ("alice", "")},
    {"basic": ("mallory", ALICE_PASSWORD)},
    {"basic": ("bob", "plain-text-PW")},
    {"bearer": "not-a-token"},
    {"bearer": TOKEN + " "},
    {"session": "made-up-session"},
    {"malformed": "Basic credentials without a colon"},
])
def test_wrong_credentials_are_refused_even_where_anonymous_may_read(credentials):
    accounts = Accounts.from_document(DOCUMENT)
    accounts.sessions = None
    with pytest.raises(BadCredentials):
        who(accounts, **credentials)
    open_server = Accounts.from_document({})   # no config file: anonymous may read everything
    with pytest.raises(BadCredentials):
        who(open_server, **credentials)


def test_without_a_config_file_anyone_publishes_and_reads_and_control_is_for_loopback():
    accounts = Accounts.from_document({})
    assert not accounts.configured
    remote = who(accounts)
    for action in ("publish", "read", "playback"):
        assert remote.may(action, "any-camera")
    assert remote.may("status") and remote.may("metrics")
    assert not remote.may("control", "desk")
    assert who(accounts, loopback=True).may("control", "desk")


def test_the_camera_token_is_a_token_that_may_publish_every_camera():
    open_server = Accounts.from_document({}, camera_token="cam-token-1")
    assert not who(open_server).may("publish", "desk")      # anonymous cameras are refused
    assert who(open_server).may("read", "desk")             # viewers are not affected
    assert who(open_server, bearer="cam-token-1").may("publish", "any-id")
    configured = Accounts.from_document(DOCUMENT, camera_token="cam-token-1")
    assert who(configured, bearer="cam-token-1").may("publish", "door")
    assert who(configured, bearer=TOKEN).may("publish", "desk")
    assert not who(configured).may("publish", "lobby")


def test_a_config_file_without_an_anonymous_table_gives_anonymous_callers_nothing():
    document = {key: DOCUMENT[key] for key in ("user", "token")}
    anonymous = who(Accounts.from_document(document))
    for action in ("publish", "read", "control", "playback"):
        assert not anonymous.may(action)
    assert not anonymous.may("status") and not anonymous.may("metrics")
    assert not who(Accounts.from_document(document), loopback=True).may("control")


def test_a_session_is_its_user_until_it_ends(tmp_path):
    accounts = Accounts.from_document(DOCUMENT)
    accounts.sessions = SessionStore(tmp_path, lifetime=60)
    session_id = accounts.sessions.start("alice")
    alice = who(accounts, session=session_id)
    assert alice.name == "alice" and alice.session is not None and alice.may("control", "desk")
    accounts.sessions.end(session_id)
    with pytest.raises(BadCredentials, match="log in again"):
        who(accounts, session=session_id)
    gone = accounts.sessions.start("carol")  # a user removed from the file since
    with pytest.raises(BadCredentials):
        who(accounts, session=gone)


def test_a_verified_password_is_not_hashed_again_but_a_changed_one_is_checked(monkeypatch):
    accounts = Accounts.from_document(DOCUMENT)
    calls = []
    real_verify = passwords.verify
    monkeypatch.setattr(passwords, "verify", lambda p, s: calls.append(p) or real_verify(p, s))
    for _ in range(3):
        who(accounts, basic=("alice", ALICE_PASSWORD))
    assert len(calls) == 1
    with pytest.raises(BadCredentials):
        who(accounts, basic=("alice", ALICE_PASSWORD + "x"))
    with pytest.raises(BadCredentials):
        who(accounts, basic=("alice", ALICE_PASSWORD + "x"))
    assert len(calls) == 3  # wrong passwords are never remembered


@pytest.mark.parametrize("document, message", [
    ({"user": {"name": "x"}}, r"user: write users as \[\[user\]\] tables"),
    ({"user": [{"name": "", "password": "p"}]}, r"user\[0\]\.name"),
    ({"user": [{"name": "a:b", "password": "p"}]}, r"user\[0\]\.name"),
    ({"user": [{"name": "a", "password": "p"}, {"name": "a", "password": "q"}]},
     r"user\[1\]\.name: 'a' is defined twice"),
    ({"user": [{"name": "a"}]}, r"user\[0\]\.password: missing"),
    ({"user": [{"name": "a", "password": "scrypt$1$2"}]},
     r"user\[0\]\.password: not a valid password hash"),
    ({"user": [{"name": "a", "password": "p", "allow": ["read:*", "wtach"]}]},
     r"user\[0\]\.allow: unknown action 'wtach'"),
    ({"user": [{"name": "a", "password": "p", "role": "admin"}]},
     r"user\[0\]\.role: unknown key"),
    ({"token": [{"token": "short"}]}, r"token\[0\]\.token: at least 8 characters"),
    ({"token": [{"token": "long-enough-secret", "allow": "publish:*"}]},
     r"token\[0\]\.allow: must be a list"),
    ({"token": [{"token": "long-enough-secret", "allow": ["publish:a b"]}]},
     r"token\[0\]\.allow: bad camera pattern"),
    ({"anonymous": {"allow": ["read:*"], "deny": []}}, r"anonymous\.deny: unknown key"),
])
def test_a_bad_table_names_its_key_and_never_echoes_a_secret(document, message):
    with pytest.raises(ValueError, match=message) as error:
        Accounts.from_document(document, path="cams.toml")
    assert str(error.value).startswith("cams.toml: ")
    for secret in ("long-enough-secret", "scrypt$1$2"):
        assert secret not in str(error.value)
