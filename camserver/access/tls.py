"""The server's TLS certificate: loaded and checked at start, reloaded when its files change.

:func:`load` turns a certificate chain file and a private key file (PEM, as certbot, Caddy,
mkcert or ``openssl req`` write them) into a server :class:`ssl.SSLContext`, or raises
:class:`TlsError` whose ``str()`` is one line naming the file and what is wrong with it: missing,
unreadable, not PEM, an encrypted key, a key that does not match the certificate. A key may also
sit in the certificate file (``key_path`` None), as in a combined PEM.

:class:`ServerCertificate` keeps the listeners' context (the one handed to every TLS listener)
and the newest loaded pair. It looks at the files' identity (device, inode, size, mtime, with
symlinks followed, so certbot's ``live/`` links turning to a new ``archive/`` file count) every
:data:`CHECK_SECONDS`. A change is loaded once the files have looked the same for one more check
(a half-written copy or a cert renewed before its key is not read). A new pair that loads is
used for every handshake from then on; a bad one is logged once and the previous pair kept.

Why a new context per pair rather than ``load_cert_chain`` again on the listeners' context: a
failed load into a live context (a key that no longer matches because the files changed
between the two reads) leaves it holding a certificate without its key, and every new
handshake fails. Instead each handshake's SSL object is moved to the newest context in the
listeners' server-name callback, which OpenSSL calls for every ClientHello, with or without
SNI (a client of ``https://127.0.0.1`` sends none). Connections already open keep the SSL
object they were made with, so viewers carry on through a renewal.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import logging
import os
import re
import ssl
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: Seconds between looks at the files' identity (a stat each, nothing read unless they change).
CHECK_SECONDS = 2.0
#: A certificate that ends within this many days gets a warning when loaded.
EXPIRY_WARNING_DAYS = 14

_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----\s.*?-----END CERTIFICATE-----", re.S)
_PEM_KEY = re.compile(rb"-----BEGIN ([A-Z ]*)PRIVATE KEY-----")


class TlsError(Exception):
    """A certificate or key that cannot be used; ``str()`` is the one line to show."""


@dataclass(frozen=True)
class Loaded:
    """One certificate/key pair in a context ready to serve."""
    context: ssl.SSLContext
    sha256: str          # of the leaf certificate (DER), as browsers show it: AB:CD:...
    serial: str | None
    subject: str | None
    not_after: datetime.datetime | None

    def describe(self) -> str:
        parts = [f"sha256 {self.sha256}"]
        if self.subject:
            parts.append(self.subject)
        if self.serial:
            parts.append(f"serial {self.serial}")
        if self.not_after:
            parts.append(f"valid until {self.not_after:%Y-%m-%d %H:%M} UTC")
        return ", ".join(parts)


def _read(path: str, what: str, flag: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(1 << 20)  # a chain of a few certificates is a few KB
    except FileNotFoundError:
        raise TlsError(f"TLS {what} {path} ({flag}): no such file") from None
    except PermissionError:
        user = _user()
        raise TlsError(f"TLS {what} {path} ({flag}): permission denied; the server runs as "
                       f"{user} and must be able to read it (for certbot's /etc/letsencrypt "
                       "see the README's TLS section)") from None
    except IsADirectoryError:
        raise TlsError(f"TLS {what} {path} ({flag}): is a directory, not a PEM file") from None
    except OSError as exc:
        raise TlsError(f"TLS {what} {path} ({flag}): {exc.strerror or exc}") from None


def _reason(exc: Exception) -> str:
    text = re.sub(r"\s*\(_ssl\.c:\d+\)", "", str(exc)) or type(exc).__name__
    # OpenSSL's whole explanation of a damaged PEM block.
    return "damaged PEM data" if text == "[SSL] PEM lib" else text


def _user() -> str:
    try:
        import pwd
        return f"user {pwd.getpwuid(os.geteuid()).pw_name!r}"
    except (ImportError, KeyError):
        return "this user"


def _no_password() -> bytes:
    # Never let OpenSSL prompt on the terminal for a passphrase: an encrypted key is an error.
    raise TlsError("encrypted")


def load(cert_path: str, key_path: str | None = None) -> Loaded:
    """The pair as a server context; :class:`TlsError` with one clear line if it is unusable."""
    cert_pem = _read(cert_path, "certificate", "--tls-cert")
    certificates = _PEM_CERT.findall(cert_pem)
    if not certificates:
        hint = " (it holds a private key: are --tls-cert and --tls-key swapped?)" \
            if _PEM_KEY.search(cert_pem) else ""
        raise TlsError(f"TLS certificate {cert_path} (--tls-cert): no PEM certificate "
                       f"(-----BEGIN CERTIFICATE-----) in it{hint}")
    if key_path is None:
        key_pem, key_where = cert_pem, f"{cert_path} (--tls-cert)"
        if not _PEM_KEY.search(key_pem):
            raise TlsError(f"TLS certificate {cert_path} (--tls-cert) holds no private key: "
                           "give it with --tls-key")
    else:
        key_pem, key_where = _read(key_path, "key", "--tls-key"), f"{key_path} (--tls-key)"
        match = _PEM_KEY.search(key_pem)
        if not match:
            hint = " (it holds a certificate: are --tls-cert and --tls-key swapped?)" \
                if _PEM_CERT.search(key_pem) else ""
            raise TlsError(f"TLS key {key_where}: no PEM private key "
                           f"(-----BEGIN PRIVATE KEY-----) in it{hint}")
    match = _PEM_KEY.search(key_pem)
    if (match and b"ENCRYPTED" in match.group(1)) or b"Proc-Type: 4,ENCRYPTED" in key_pem:
        raise TlsError(f"TLS key {key_where} is protected by a passphrase; the server needs it "
                       "without one (openssl pkey -in KEY -out PLAIN_KEY, then chmod 600)")

    for number, block in enumerate(certificates, 1):
        try:  # each certificate alone, so a bad one is told apart from a bad key
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(
                cadata=ssl.PEM_cert_to_DER_cert(block.decode("ascii", "replace")))
        except (ssl.SSLError, ValueError) as exc:
            raise TlsError(f"TLS certificate {cert_path} (--tls-cert): certificate {number} in "
                           f"it cannot be read ({_reason(exc)})") from None

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_path, key_path, password=_no_password)
    except TlsError:
        raise TlsError(f"TLS key {key_where} is protected by a passphrase; the server needs it "
                       "without one") from None
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise TlsError(f"TLS key {key_where} does not belong to the certificate "
                           f"{cert_path} (--tls-cert)") from None
        raise TlsError(f"TLS key {key_where} cannot be read as a private key "
                       f"({_reason(exc)})") from None
    except OSError as exc:  # the files changed or vanished since they were read
        raise TlsError(f"TLS certificate {cert_path} or key {key_where}: "
                       f"{exc.strerror or exc}") from None
    leaf = ssl.PEM_cert_to_DER_cert(certificates[0].decode("ascii", "replace"))
    digest = hashlib.sha256(leaf).hexdigest().upper()
    serial, subject, not_after = _details(cert_path)
    return Loaded(context, ":".join(digest[i:i + 2] for i in range(0, len(digest), 2)),
                  serial, subject, not_after)


def _details(cert_path: str) -> tuple[str | None, str | None, datetime.datetime | None]:
    """Serial, subject and expiry of the file's first certificate, for the log; None where the
    standard library cannot tell (the decoder used is CPython's own, not a public API)."""
    decode = getattr(getattr(ssl, "_ssl", None), "_test_decode_cert", None)
    if decode is None:
        return None, None, None
    try:
        info = decode(cert_path)
    except (ssl.SSLError, OSError, ValueError):
        return None, None, None
    names = [f"{key}={value}" for rdn in info.get("subject", ()) for key, value in rdn
             if key == "commonName"]
    not_after = None
    if info.get("notAfter"):
        try:
            not_after = datetime.datetime.fromtimestamp(
                ssl.cert_time_to_seconds(info["notAfter"]), datetime.timezone.utc)
        except ValueError:
            pass
    return info.get("serialNumber"), ", ".join(names) or None, not_after


def _identity(path: str | None) -> tuple:
    """What tells a replaced file: device, inode, size, mtime (symlinks followed)."""
    if path is None:
        return ()
    try:
        st = os.stat(path)
    except OSError as exc:
        return (path, "error", exc.errno)
    return (path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class ServerCertificate:
    """The listeners' :attr:`context`, always serving the newest good pair of the files."""

    def __init__(self, cert_path: str, key_path: str | None = None,
                 check_seconds: float = CHECK_SECONDS):
        self.cert_path, self.key_path = cert_path, key_path
        self.check_seconds = check_seconds
        self._seen = self._identities()
        self.current = load(cert_path, key_path)
        self._warn_expiry(self.current)
        #: Handed to every TLS listener; each handshake is moved to the newest pair's context.
        self.context = self.current.context
        self.context.sni_callback = self._choose
        self._candidate: tuple | None = None   # a change seen once, loaded if it stays
        self._refused: tuple | None = None     # a bad pair already logged
        self.reloads = 0
        self.last_error: str | None = None

    @classmethod
    def from_settings(cls, cert_path: str | None, key_path: str | None) -> \
            "ServerCertificate | None":
        """None without TLS settings; TlsError for a key without a certificate or a bad pair."""
        if cert_path is None:
            if key_path is not None:
                raise TlsError("--tls-key was given without --tls-cert")
            return None
        return cls(cert_path, key_path)

    def _identities(self) -> tuple:
        return (_identity(self.cert_path), _identity(self.key_path))

    def _choose(self, ssl_object: ssl.SSLObject, server_name: str | None,
                context: ssl.SSLContext) -> None:
        if self.current.context is not context:
            ssl_object.context = self.current.context

    def check(self) -> bool:
        """Look at the files once; True if a new pair was taken. Reads nothing unless they
        changed; a change is loaded at the second look that sees the same files."""
        seen = self._identities()
        if seen == self._seen or seen == self._refused:
            self._candidate = None
            return False
        if seen != self._candidate:
            self._candidate = seen  # wait one more look: the files may still be changing
            return False
        self._candidate = None
        try:
            loaded = load(self.cert_path, self.key_path)
        except TlsError as exc:
            if self._identities() != seen:
                return False  # changed while being read: look again next time
            self._refused = seen
            self.last_error = str(exc)
            log.error("%s; keeping the previous certificate (%s)", exc, self.current.sha256)
            return False
        if self._identities() != seen:
            return False
        self._seen, self._refused, self.last_error = seen, None, None
        if loaded.sha256 == self.current.sha256:
            return False  # the same certificate (touched, or copied again): the same pair
        self.current = loaded
        self.reloads += 1
        log.info("TLS certificate reloaded from %s: %s; new connections use it, open ones "
                 "carry on", self.cert_path, loaded.describe())
        self._warn_expiry(loaded)
        return True

    @staticmethod
    def _warn_expiry(loaded: Loaded) -> None:
        if loaded.not_after is None:
            return
        left = loaded.not_after - datetime.datetime.now(datetime.timezone.utc)
        if left.total_seconds() <= 0:
            log.warning("The TLS certificate expired on %s UTC: browsers and cameras will refuse "
                        "it until it is renewed", f"{loaded.not_after:%Y-%m-%d %H:%M}")
        elif left.days < EXPIRY_WARNING_DAYS:
            log.warning("The TLS certificate expires in %d days (%s UTC); is its renewal "
                        "working?", left.days, f"{loaded.not_after:%Y-%m-%d %H:%M}")

    async def watch(self) -> None:
        """Check the files every :attr:`check_seconds`, forever (cancel to stop)."""
        while True:
            await asyncio.sleep(self.check_seconds)
            try:
                # Stat calls are cheap; a load (a few ms) happens only after a change.
                self.check()
            except Exception:  # never let a surprise end the watching
                log.exception("TLS: checking the certificate files failed")
