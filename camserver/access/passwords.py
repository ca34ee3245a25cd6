"""Password hashes for the config file: stdlib scrypt, no dependency.

Format: ``scrypt$<log2 N>$<r>$<p>$<salt, base64>$<hash, base64>``, printed by
``python3 server.py hash-password``. A password in the config file that does not look like that
is taken as plain text (the server warns at start): convenient on a LAN, but anyone who can read
the file has it. Verification is constant-time (``hmac.compare_digest``); scrypt costs ~50 ms
per check at the default cost, which is also what makes guessing slow (and logins are limited
per address, :mod:`camserver.access.throttle`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

PREFIX = "scrypt$"
#: N = 2^15, r = 8, p = 1: OWASP's scrypt floor; ~32 MiB and tens of ms per check.
LOG2_N, R, P = 15, 8, 1
_MAXMEM = 64 * 1024 * 1024


def _scrypt(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=1 << log2_n, r=r, p=p,
                          maxmem=_MAXMEM, dklen=32)


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = _scrypt(password, salt, LOG2_N, R, P)
    return "$".join(("scrypt", str(LOG2_N), str(R), str(P),
                     base64.b64encode(salt).decode(), base64.b64encode(digest).decode()))


def is_hash(stored: str) -> bool:
    return stored.startswith(PREFIX)


def check_hash_format(stored: str) -> None:
    """ValueError if ``stored`` starts like a hash but is not a valid one."""
    parts = stored.split("$")
    try:
        if len(parts) != 6:
            raise ValueError
        log2_n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        if not (10 <= log2_n <= 20 and 1 <= r <= 32 and 1 <= p <= 16):
            raise ValueError
        base64.b64decode(parts[4], validate=True)
        if len(base64.b64decode(parts[5], validate=True)) != 32:
            raise ValueError
    except ValueError:
        raise ValueError("not a valid password hash (make one with "
                         "`python3 server.py hash-password`)") from None


def verify(password: str, stored: str) -> bool:
    """Does ``password`` match ``stored`` (a hash, or plain text)?"""
    if not is_hash(stored):
        return hmac.compare_digest(password.encode(), stored.encode())
    _, log2_n, r, p, salt, digest = stored.split("$")
    candidate = _scrypt(password, base64.b64decode(salt), int(log2_n), int(r), int(p))
    return hmac.compare_digest(candidate, base64.b64decode(digest))
