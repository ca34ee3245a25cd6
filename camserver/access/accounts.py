"""Who may do what: users, tokens and anonymous callers, from the config file.

One question for every door: :meth:`Principal.may` ("may this principal do ACTION on CAMERA?").
:meth:`Accounts.authenticate` turns the credentials a request carries (parsed once per
connection by :mod:`camserver.access.credentials`) into a :class:`Principal`, or raises
:class:`BadCredentials`: wrong credentials are refused even where anonymous access would be
allowed, never quietly downgraded to anonymous.

Without a config file: anyone may publish (unless ``--camera-token`` is set), read, play back,
and see status and metrics, as before access control existed; ``control`` only from loopback.
With a config file and no ``[anonymous]`` table, anonymous callers get nothing.
``--camera-token`` is a token with ``publish:*``.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Mapping

from . import passwords
from .permissions import Grants

log = logging.getLogger(__name__)

#: What anonymous callers may do when there is no config file.
OPEN_GRANTS = Grants.of("publish", "read", "playback", "status", "metrics")
#: What they may do with --camera-token and no config file: the same but publish.
OPEN_GRANTS_WITH_CAMERA_TOKEN = Grants.of("read", "playback", "status", "metrics")
#: And from loopback (never a proxied request) when there is no config file.
LOOPBACK_EXTRA = Grants.of("control")


class BadCredentials(Exception):
    """Credentials were given but are wrong (or malformed): 401, whatever anonymous may do."""


@dataclass(frozen=True)
class Principal:
    #: "alice", "token 3f9c…" or "anonymous" (safe to log: never a secret).
    name: str
    kind: str  # "user", "token", "anonymous"
    grants: Grants
    #: The session (hashed id) it came with, if any: logging out closes its streams.
    session: str | None = None

    @property
    def anonymous(self) -> bool:
        return self.kind == "anonymous"

    def may(self, action: str, camera: str | None = None) -> bool:
        return self.grants.allows(action, camera)


@dataclass(frozen=True)
class Credentials:
    """What a request carried; at most one kind is used (see credentials.py for the order)."""
    bearer: str | None = None          # Authorization: Bearer, or ?token=
    basic: tuple[str, str] | None = None
    session: str | None = None         # the session cookie's value
    malformed: str | None = None       # why the Authorization header could not be read
    loopback: bool = False             # the client is this machine, not through a proxy

    @property
    def given(self) -> bool:
        return any((self.bearer, self.basic, self.session, self.malformed))


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).digest()


@dataclass
class _User:
    name: str
    password: str  # a scrypt hash, or plain text (warned about at start)
    grants: Grants


@dataclass
class Accounts:
    users: dict[str, _User] = field(default_factory=dict)
    #: sha256(token) -> (name for logs, grants): a lookup by digest does not leak the token's
    #: prefix through timing the way comparing strings would.
    tokens: dict[bytes, tuple[str, Grants]] = field(default_factory=dict)
    anonymous: Grants = OPEN_GRANTS
    loopback_extra: Grants = LOOPBACK_EXTRA
    configured: bool = False
    #: Sessions (camserver.access.sessions), set by the app.
    sessions: Any = None
    warnings: list[str] = field(default_factory=list)
    _verified: "collections.OrderedDict[bytes, str]" = field(
        default_factory=collections.OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- from the config file --------------------------------------------------------------------

    @classmethod
    def from_document(cls, document: Mapping[str, Any], camera_token: str | None = None,
                      path: str = "config") -> "Accounts":
        """Users, tokens and anonymous grants of the config file (``document`` is None-like
        without one). ValueError names the offending key."""
        accounts = cls(configured=bool(document) or False)
        if document:
            accounts.configured = True
            accounts.anonymous = Grants()
            accounts.loopback_extra = Grants()
        users = document.get("user", [])
        if not isinstance(users, list):
            raise ValueError(f"{path}: user: write users as [[user]] tables")
        for n, table in enumerate(users):
            where = f"{path}: user[{n}]"
            table = _table(table, where, ("name", "password", "allow"))
            name = table.get("name")
            if not isinstance(name, str) or not name or len(name) > 64 or ":" in name:
                raise ValueError(f"{where}.name: a name of 1-64 characters without ':'")
            if name in accounts.users:
                raise ValueError(f"{where}.name: {name!r} is defined twice")
            password = table.get("password")
            if not isinstance(password, str) or not password:
                raise ValueError(f"{where}.password: missing (a hash from `python3 server.py "
                                 "hash-password`, or plain text)")
            if passwords.is_hash(password):
                try:
                    passwords.check_hash_format(password)
                except ValueError as exc:
                    raise ValueError(f"{where}.password: {exc}") from None
            else:
                accounts.warnings.append(f"user {name!r} has a plain-text password in the "
                                         "config file; store a hash (python3 server.py "
                                         "hash-password)")
            grants = Grants.parse(table.get("allow", []), f"{where}.allow")
            accounts.users[name] = _User(name, password, grants)
        tokens = document.get("token", [])
        if not isinstance(tokens, list):
            raise ValueError(f"{path}: token: write tokens as [[token]] tables")
        for n, table in enumerate(tokens):
            where = f"{path}: token[{n}]"
            table = _table(table, where, ("token", "allow", "name"))
            token = table.get("token")
            if not isinstance(token, str) or len(token) < 8:
                raise ValueError(f"{where}.token: at least 8 characters (e.g. `python3 -c "
                                 "\"import secrets; print(secrets.token_hex(16))\"`)")
            label = table.get("name", f"token {n}")
            if not isinstance(label, str) or len(label) > 64:
                raise ValueError(f"{where}.name: a name of at most 64 characters")
            accounts.tokens[_digest(token)] = (label, Grants.parse(table.get("allow", []),
                                                                   f"{where}.allow"))
        if "anonymous" in document:
            table = _table(document["anonymous"], f"{path}: anonymous", ("allow",))
            accounts.anonymous = Grants.parse(table.get("allow", []), f"{path}: anonymous.allow")
        if camera_token:
            accounts.tokens[_digest(camera_token)] = ("camera token", Grants.of("publish"))
            if not accounts.configured:
                accounts.anonymous = OPEN_GRANTS_WITH_CAMERA_TOKEN
        return accounts

    # -- per connection --------------------------------------------------------------------------

    async def authenticate(self, credentials: Credentials) -> Principal:
        """The principal behind ``credentials``; BadCredentials if they are wrong."""
        if credentials.malformed:
            raise BadCredentials(credentials.malformed)
        if credentials.bearer is not None:
            entry = self.tokens.get(_digest(credentials.bearer))
            if entry is None:
                raise BadCredentials("unknown token")
            return Principal(entry[0], "token", entry[1])
        if credentials.basic is not None:
            name, password = credentials.basic
            user = self.users.get(name)
            if user is None or not await self._check_password(user, password):
                raise BadCredentials("wrong user name or password")
            return Principal(user.name, "user", user.grants)
        if credentials.session is not None:
            session = self.sessions.find(credentials.session) if self.sessions else None
            user = self.users.get(session.user) if session is not None else None
            if user is None:
                raise BadCredentials("session expired or ended; log in again")
            return Principal(user.name, "user", user.grants, session=session.key)
        grants = self.anonymous
        if credentials.loopback:
            grants = grants | self.loopback_extra
        return Principal("anonymous", "anonymous", grants)

    async def login(self, name: str, password: str) -> Principal | None:
        user = self.users.get(name)
        if user is None or not await self._check_password(user, password):
            return None
        return Principal(user.name, "user", user.grants)

    async def _check_password(self, user: _User, password: str) -> bool:
        # scrypt takes tens of ms: programs that send Basic on every request (and browsers, for
        # every file of a page) pay it once per few minutes, not per request.
        key = _digest(f"{user.name}\0{password}\0{user.password}")
        with self._lock:
            if key in self._verified:
                self._verified.move_to_end(key)
                return True
        # In a thread: the event loop must not stop for a password check.
        if not await asyncio.to_thread(passwords.verify, password, user.password):
            return False
        with self._lock:
            self._verified[key] = user.name
            while len(self._verified) > 256:
                self._verified.popitem(last=False)
        return True


def _table(value: Any, where: str, keys: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: must be a table")
    for key in value:
        if key not in keys:
            raise ValueError(f"{where}.{key}: unknown key (known: {', '.join(keys)})")
    return value
