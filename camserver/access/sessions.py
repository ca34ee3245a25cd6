"""Browser logins: session cookies that survive a server restart.

A session id is 32 random bytes (URL-safe base64) handed to the browser once, in a cookie
(``HttpOnly``, ``SameSite=Strict``, ``Secure`` under TLS). The server keeps only its SHA-256
(:attr:`Session.key`), so the sessions file cannot be replayed as cookies. The file
(``<state_dir>/sessions.json``, mode 0600) is rewritten atomically when a session starts or ends;
expired sessions are dropped when found. At most :data:`MAX_SESSIONS` are kept (the oldest go),
so repeated logins cannot grow it without bound.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

COOKIE = "camserver_session"
MAX_SESSIONS = 1000


@dataclass(frozen=True)
class Session:
    key: str       # sha256 of the id, hex
    user: str
    expires: float  # Unix time


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "surrogateescape")).hexdigest()


class SessionStore:
    def __init__(self, directory: str | os.PathLike, lifetime: float, clock=time.time):
        self.path = Path(directory) / "sessions.json"
        self.lifetime = lifetime
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text())
            now = self._clock()
            for item in data.get("sessions", []):
                session = Session(str(item["key"]), str(item["user"]), float(item["expires"]))
                if session.expires > now:
                    self._sessions[session.key] = session
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("Sessions file %s unreadable (%s); everyone logs in again", self.path,
                        exc)

    def _save(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_suffix(".tmp")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump({"sessions": [s.__dict__ for s in self._sessions.values()]}, f)
            os.replace(temporary, self.path)
        except OSError as exc:
            log.warning("Could not save sessions to %s (%s); logins will not survive a "
                        "restart", self.path, exc)

    def start(self, user: str) -> str:
        """A new session for ``user``; returns the id for the cookie (never stored)."""
        session_id = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        session = Session(_key(session_id), user, self._clock() + self.lifetime)
        self._sessions[session.key] = session
        while len(self._sessions) > MAX_SESSIONS:
            oldest = min(self._sessions.values(), key=lambda s: s.expires)
            del self._sessions[oldest.key]
        self._save()
        return session_id

    def find(self, session_id: str) -> Session | None:
        if len(session_id) > 100:
            return None
        session = self._sessions.get(_key(session_id))
        if session is None:
            return None
        if session.expires <= self._clock():
            del self._sessions[session.key]
            self._save()
            return None
        return session

    def end(self, session_id: str) -> Session | None:
        session = self._sessions.pop(_key(session_id), None)
        if session is not None:
            self._save()
        return session
