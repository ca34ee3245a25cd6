"""Password hashes: stdlib scrypt, salted, checked in constant time."""

import pytest

from camserver.access import passwords


def test_a_hash_verifies_its_password_and_nothing_else():
    stored = passwords.hash_password("correct horse")
    assert passwords.is_hash(stored)
    passwords.check_hash_format(stored)
    assert "correct horse" not in stored
    assert passwords.verify("correct horse", stored)
    assert not passwords.verify("correct horse ", stored)
    assert not passwords.verify("", stored)


def test_every_hash_has_its_own_salt():
    first, second = passwords.hash_password("same"), passwords.hash_password("same")
    assert first != second
    assert first.split("$")[:4] == ["scrypt", "15", "8", "1"]
    assert passwords.verify("same", first) and passwords.verify("same", second)


def test_a_plain_text_password_is_compared_as_it_is():
    assert not passwords.is_hash("hunter2")
    assert passwords.verify("hunter2", "hunter2")
    assert not passwords.verify("hunter", "hunter2")
    assert passwords.verify("pässwörd", "pässwörd")


@pytest.mark.parametrize("stored", [
    "scrypt$",
    "scrypt$15$8$1$c2FsdA==",                    # no hash part
    "scrypt$x$8$1$c2FsdA==$" + "A" * 44,         # N not a number
    "scrypt$40$8$1$c2FsdA==$" + "A" * 44,        # absurd cost (would eat the machine)
    "scrypt$15$8$1$not base64!$" + "A" * 44,
    "scrypt$15$8$1$c2FsdA==$c2hvcnQ=",           # hash of the wrong length
])
def test_a_broken_hash_is_refused_without_echoing_it(stored):
    with pytest.raises(ValueError) as error:
        passwords.check_hash_format(stored)
    assert "hash-password" in str(error.value)
    assert stored not in str(error.value)
