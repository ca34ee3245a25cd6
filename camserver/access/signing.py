"""Signed URLs: a link that grants ``read`` of one file of one camera until a time, with no
credentials (HLS segments of a camera anonymous callers may not read).

The signature is an HMAC-SHA256 over (camera, file name, expiry) with a server secret, so the
link works for anyone who has it, from any client and through any shared cache, and only for
that file until then. A cache in front holds one copy per link; the caller chooses the expiry
(HLS: from the segment's own creation time, so every client gets the same link for a segment
and a CDN fetches it once).

The secret is 32 random bytes in ``<state_dir>/url-signing.key`` (mode 0600), made on first use
and kept across restarts (links handed out before a restart stay valid until they expire).
Deleting the file revokes every link at the next start.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import time
from pathlib import Path
from typing import Mapping

log = logging.getLogger(__name__)

KEY_FILE = "url-signing.key"
KEY_BYTES = 32
#: Query parameters of a signed link.
EXPIRES, SIGNATURE = "e", "s"


class UrlSigner:
    """Signs and checks links. Made with a secret, or with :meth:`load`, which reads (or makes)
    the state directory's key the first time a link is signed or checked, so a server that
    never signs a link writes no file."""

    def __init__(self, secret: bytes | None = None, clock=time.time,
                 path: Path | None = None):
        if secret is not None and len(secret) < 16:
            raise ValueError("a signing secret needs at least 16 bytes")
        self._secret_bytes = secret
        self._path = path
        self._clock = clock

    @classmethod
    def load(cls, state_dir: str | os.PathLike, clock=time.time) -> "UrlSigner":
        """The signer whose secret is kept in ``state_dir``."""
        return cls(None, clock, Path(state_dir) / KEY_FILE)

    @property
    def _secret(self) -> bytes:
        if self._secret_bytes is None:
            self._secret_bytes = _load_or_make(self._path)
        return self._secret_bytes

    def _signature(self, camera: str, name: str, expires: int) -> str:
        message = f"{camera}\0{name}\0{expires}".encode("utf-8", "surrogateescape")
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()[:18]
        return base64.urlsafe_b64encode(digest).decode()

    def query(self, camera: str, name: str, expires: int) -> str:
        """The query string (without ``?``) that lets ``name`` of ``camera`` be read until
        ``expires`` (Unix seconds)."""
        return f"{EXPIRES}={expires}&{SIGNATURE}={self._signature(camera, name, expires)}"

    def check(self, camera: str, name: str, query: Mapping[str, str]) -> str | None:
        """None if ``query`` signs ``name`` of ``camera`` and has not expired, else why not."""
        expires, signature = query.get(EXPIRES), query.get(SIGNATURE)
        if not expires or not signature:
            return "this link needs a signature; take it from the playlist"
        if not expires.isdigit() or len(expires) > 12:
            return "bad link"
        if not hmac.compare_digest(signature.encode("utf-8", "replace"),
                                   self._signature(camera, name, int(expires)).encode()):
            return "bad signature"
        if int(expires) < self._clock():
            return "this link has expired; reload the playlist"
        return None


def _load_or_make(path: Path) -> bytes:
    """The secret in ``path``, made there if missing. If it cannot be kept, one for this run
    only (logged: links then do not survive a restart)."""
    try:
        secret = path.read_bytes()
        if len(secret) >= 16:
            return secret
        log.warning("%s is too short; making a new URL signing key", path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("Cannot read %s (%s); signed links will not survive a restart", path,
                    exc.strerror or exc)
        return secrets.token_bytes(KEY_BYTES)
    secret = secrets.token_bytes(KEY_BYTES)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secret)
        os.replace(temporary, path)
    except OSError as exc:
        log.warning("Cannot save the URL signing key to %s (%s); signed links will not "
                    "survive a restart", path, exc.strerror or exc)
    return secret
