"""Reports from an IMAP folder (DIGEST_BOUNCE_IMAP_URL, `imaps://user:password@host/FOLDER`).

Unseen messages are read without marking them (BODY.PEEK), each applied in its own transaction,
and only then flagged \\Seen: a crash in between reads the message again next time, which changes
nothing (reports are idempotent). The password is never printed: errors name the host only.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from digest.bounces.sources import READ_LIMIT
from digest.errors import DigestError


@dataclass(frozen=True)
class ImapTarget:
    secure: bool
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    folder: str

    @property
    def where(self) -> str:
        return f"{'imaps' if self.secure else 'imap'}://{self.user}@{self.host}:{self.port}/{self.folder}"


def parse_imap_url(url: str) -> ImapTarget:
    """ValueError (without the password in it) for anything that is not a usable IMAP URL."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("imap", "imaps"):
        raise ValueError("must start with imaps:// (or imap:// for a server on this host)")
    try:
        port = parts.port or (993 if parts.scheme == "imaps" else 143)
    except ValueError:
        raise ValueError("has an invalid port") from None
    if not parts.hostname or not parts.username or parts.password is None:
        raise ValueError("must name user, password and host: imaps://user:password@host/FOLDER")
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    if re.search(r"[\x00-\x1f\x7f\"]", folder):
        raise ValueError("has an invalid folder name")
    user, password = unquote(parts.username), unquote(parts.password)
    return ImapTarget(parts.scheme == "imaps", parts.hostname, port, user, password, folder)


def fetch_reports(target: ImapTarget, handle: Callable[[str, bytes], None], timeout: float) -> int:
    """Call `handle(label, raw)` for every unseen message, then flag it seen. Returns the count."""
    try:
        client = _connect(target, timeout)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise DigestError(f"cannot log in to {target.where}: {_reason(exc)}") from None
    try:
        return _read_unseen(client, target, handle)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise DigestError(f"IMAP {target.where}: {_reason(exc)}") from None
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            client.logout()


def _connect(target: ImapTarget, timeout: float) -> imaplib.IMAP4:
    if target.secure:
        context = ssl.create_default_context()
        client = imaplib.IMAP4_SSL(target.host, target.port, ssl_context=context, timeout=timeout)
    else:
        client = imaplib.IMAP4(target.host, target.port, timeout=timeout)
    client.login(target.user, target.password)
    return client


def _read_unseen(client: imaplib.IMAP4, target: ImapTarget, handle: Callable[[str, bytes], None]) -> int:
    status, _ = client.select(f'"{target.folder}"')
    if status != "OK":
        raise DigestError(f"IMAP {target.where}: no folder {target.folder!r}")
    _, data = client.uid("SEARCH", None, "UNSEEN")
    uids = (data[0] or b"").split() if data else []
    for uid in uids:
        _, parts = client.uid("FETCH", uid, f"(BODY.PEEK[]<0.{READ_LIMIT}>)")
        raw = b"".join(p[1] for p in parts if isinstance(p, tuple))
        handle(f"{target.where}#{uid.decode()}", raw)
        client.uid("STORE", uid, "+FLAGS", "(\\Seen)")
    return len(uids)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"untrusted TLS certificate ({exc.verify_message})"
    text = exc.args[0] if exc.args else exc
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return getattr(exc, "strerror", None) or text or exc.__class__.__name__
