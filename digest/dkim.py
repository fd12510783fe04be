"""DKIM signing (RFC 6376), rsa-sha256, relaxed/relaxed, one signature per recipient.

Every recipient's message differs (To, Message-ID, the unsubscribe link in the bodies), so every
message needs its own signature. dkimpy signs correctly but does its RSA in pure Python (about
13 ms per message with a 2048-bit key), slower than sending the message. Here the canonical forms
are computed as dkimpy computes them (the tests verify every signature with dkimpy), the key is
parsed once, and the RSA step is OpenSSL's through `cryptography` (about 1 ms). `BodyHash` lets a
caller that knows which parts of the body are shared hash them once (see digest.mail).

Signed headers (h=) cover From, To, Subject, Date, Message-ID, Reply-To, List-Id, List-Unsubscribe,
List-Unsubscribe-Post (RFC 8058 asks for both unsubscribe headers), MIME-Version and the content
headers; From, Subject and both List-Unsubscribe headers are signed once more than they occur, so
no one can add a second copy of them without breaking the signature.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from digest.errors import DigestError

SIGNED_HEADERS = (
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "reply-to",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "feedback-id",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
)
OVERSIGNED = ("from", "subject", "list-unsubscribe", "list-unsubscribe-post")
_TRAILING_WSP = re.compile(rb"[\t ]+\r\n")
_WSP = re.compile(rb"[\t ]+")
_FOLD = re.compile(rb"\r?\n")
_HEADER_NAME = re.compile(rb"([!-9;-~]+)[\t ]*:")


def load_key(path: Path) -> rsa.RSAPrivateKey:
    """An RSA private key from a PEM file, PKCS#1 (`BEGIN RSA PRIVATE KEY`) or PKCS#8 (`BEGIN
    PRIVATE KEY`) alike. Errors name the file, never its content."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DigestError(f"DIGEST_DKIM_PRIVATE_KEY: cannot read {path}: {exc.strerror or exc}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise DigestError(f"DIGEST_DKIM_PRIVATE_KEY: {path} is not an unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise DigestError(f"DIGEST_DKIM_PRIVATE_KEY: {path} is not an RSA key")
    if key.key_size < 1024:
        raise DigestError(f"DIGEST_DKIM_PRIVATE_KEY: {path} is {key.key_size}-bit; use 2048")
    return key


def generate_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    """PKCS#1 PEM: what OpenDKIM, dkimpy and most MTAs read as they are."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def dns_value(key: rsa.RSAPrivateKey) -> str:
    """The TXT record's value: `v=DKIM1; k=rsa; p=<public key, DER SubjectPublicKeyInfo, base64>`."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode('ascii')}"


def dns_name(selector: str, domain: str) -> str:
    return f"{selector}._domainkey.{domain}"


@lru_cache(maxsize=512)  # the shared headers are canonicalized once per digest, not per recipient
def relaxed_header(name: bytes, value: bytes) -> bytes:
    """RFC 6376 3.4.2: lowercase name, value unfolded, runs of WSP as one space, trimmed."""
    return name.lower().rstrip() + b":" + _WSP.sub(b" ", _FOLD.sub(b"", value)).strip() + b"\r\n"


def relaxed_body(body: bytes) -> bytes:
    """RFC 6376 3.4.4, without the removal of trailing empty lines (`BodyHash.digest` does that).
    The byte searches skip the regular expressions when there is nothing to change (quoted-printable
    bodies have no trailing whitespace and no tabs): a search is ten times cheaper than a scan."""
    if b"\t" in body or b" \r\n" in body:
        body = _TRAILING_WSP.sub(b"\r\n", body)
    if b"\t" in body or b"  " in body:
        body = _WSP.sub(b" ", body)
    return body


class BodyHash:
    """The body hash, fed in pieces: a caller can hash a shared prefix once and `copy()` it for
    each recipient. Every piece fed must end a line (the relaxed form is line by line)."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self._pending = b""  # trailing empty lines held back: they count only if more text follows
        self._started = False

    def copy(self) -> BodyHash:
        other = BodyHash.__new__(BodyHash)
        other._sha, other._pending, other._started = self._sha.copy(), self._pending, self._started
        return other

    def update_canonical(self, canonical: bytes) -> None:
        end = len(canonical)
        while canonical.endswith(b"\r\n", 0, end):
            end -= 2
        if end == 0:
            self._pending += canonical
            return
        self._sha.update(self._pending)
        self._sha.update(canonical[:end])
        self._pending, self._started = canonical[end:], True

    def update(self, body: bytes) -> None:
        self.update_canonical(relaxed_body(body))

    def digest(self) -> bytes:
        """Trailing empty lines dropped; a non-empty body ends in one CRLF, an empty one is empty."""
        sha = self._sha.copy()
        if self._started:
            sha.update(b"\r\n")
        return base64.b64encode(sha.digest())


def split_message(message: bytes) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """(name, raw value with its folding) for each header, and the body."""
    head, sep, body = message.partition(b"\r\n\r\n")
    if not sep:
        head, body = message.rstrip(b"\r\n"), b""
    return parse_headers(head), body


def parse_headers(head: bytes) -> list[tuple[bytes, bytes]]:
    """Header lines (CRLF-separated, folded or not) as (name, raw value) pairs."""
    headers: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\r\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + b"\r\n" + line)
            continue
        match = _HEADER_NAME.match(line)
        if match is None:
            raise ValueError("not a header line: cannot sign this message")
        headers.append((match.group(1), line[match.end() :]))
    return headers


@dataclass(frozen=True)
class Signer:
    """One parsed key and the signature's fixed tags; `sign` is safe to call from many threads."""

    key: rsa.RSAPrivateKey
    selector: str
    domain: str
    headers: tuple[str, ...] = SIGNED_HEADERS

    def sign(self, message: bytes, timestamp: int) -> bytes:
        """The `DKIM-Signature: ...\\r\\n` line(s) to put on top of `message` (CRLF line ends)."""
        headers, body = split_message(message)
        body_hash = BodyHash()
        body_hash.update(body)
        return self.sign_headers(headers, body_hash.digest(), timestamp)

    def sign_headers(self, headers: list[tuple[bytes, bytes]], body_hash: bytes, timestamp: int) -> bytes:
        chosen, names = _choose(headers, self.headers)
        field = self._field(names, body_hash, timestamp)
        signed = b"".join(relaxed_header(n, v) for n, v in chosen)
        signed += relaxed_header(b"DKIM-Signature", field[len(b"DKIM-Signature:") :]).rstrip(b"\r\n")
        signature = self.key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
        return field + _folded_base64(signature) + b"\r\n"

    def _field(self, names: list[str], body_hash: bytes, timestamp: int) -> bytes:
        lines = [
            f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d={self.domain};",
            f" s={self.selector}; t={timestamp};",
            *_wrapped(" h=" + ":".join(names) + ";"),
            f" bh={body_hash.decode('ascii')};",
            " b=",
        ]
        return "\r\n".join(lines).encode("ascii")


class PieceSigner:
    """Signs messages made of shared pieces with personal values between them (the splice of
    digest.mail: `pieces[i]`, then the value of `slots[i]`, then `pieces[i + 1]` ...). Every piece
    and value starts and ends a line, which is what makes the relaxed forms computable piece by
    piece: the shared headers are parsed and canonicalized once, the body hash of everything before
    the first personal body value is computed once and copied, and the shared rest of the body is
    canonicalized once; per recipient only the personal values are canonicalized and hashed."""

    def __init__(
        self,
        signer: Signer,
        pieces: tuple[bytes, ...],
        slots: tuple[str, ...],
        unsigned: tuple[str, ...] = ("dkim",),
    ):
        self.signer = signer
        self._head: list[list[tuple[bytes, bytes]] | str] = []
        self._body: list[bytes | str] = []
        in_body = False
        for index, piece in enumerate(pieces):
            if in_body:
                self._body.append(relaxed_body(piece))
            else:
                head, sep, rest = piece.partition(b"\r\n\r\n")
                self._head.append(parse_headers(head))
                if sep:
                    in_body = True
                    self._body.append(relaxed_body(rest))
            if index < len(slots) and slots[index] not in unsigned:  # the signature's own place
                (self._body if in_body else self._head).append(slots[index])
        if not in_body:
            raise ValueError("the pieces hold no end of headers: cannot sign them")
        self._prefix = BodyHash()
        while self._body and isinstance(self._body[0], bytes):
            self._prefix.update_canonical(self._body.pop(0))

    def submit(self, values: dict[str, bytes], timestamp: int) -> Callable[[], bytes]:
        """`sign` as digest.signing.SigningProcess offers it: call the result for the signature."""
        signature = self.sign(values, timestamp)
        return lambda: signature

    def sign(self, values: dict[str, bytes], timestamp: int) -> bytes:
        headers: list[tuple[bytes, bytes]] = []
        for part in self._head:
            headers.extend(parse_headers(values[part].rstrip(b"\r\n")) if isinstance(part, str) else part)
        body = self._prefix.copy()
        for part in self._body:
            if isinstance(part, str):
                body.update(values[part])
            else:
                body.update_canonical(part)
        return self.signer.sign_headers(headers, body.digest(), timestamp)


def _choose(
    headers: list[tuple[bytes, bytes]], wanted: tuple[str, ...]
) -> tuple[list[tuple[bytes, bytes]], list[str]]:
    """RFC 6376 5.4.2: each name in h= takes the next instance from the bottom. Names the message
    lacks are left out; the over-signed ones get one entry more, which signs "no more of these"."""
    by_name: dict[str, list[tuple[bytes, bytes]]] = {}
    for name, value in headers:
        by_name.setdefault(name.decode("ascii").lower(), []).append((name, value))
    chosen, names = [], []
    for name in wanted:
        instances = by_name.get(name, [])
        for instance in reversed(instances):
            chosen.append(instance)
            names.append(name)
        if name in OVERSIGNED:
            names.append(name)
    return chosen, names


def _wrapped(text: str, width: int = 76) -> list[str]:
    """Cut at ':' so every line stays short; relaxed canonicalization makes the fold signable."""
    lines, line = [], ""
    for part in text.split(":"):
        piece = part if not line else ":" + part
        if line and len(line) + len(piece) > width:
            lines.append(line + ":")
            line = " " + part
        else:
            line += piece
    return [*lines, line]


def _folded_base64(signature: bytes, width: int = 72) -> bytes:
    encoded = base64.b64encode(signature)
    return b"\r\n ".join(encoded[i : i + width] for i in range(0, len(encoded), width))


def verify(message: bytes, txt_record: str) -> bool:
    """dkimpy's verdict, with the public key given instead of looked up in DNS: for tests and the
    preview's check."""
    import dkim

    def lookup(name: bytes, timeout: int = 5) -> bytes:
        return txt_record.encode("ascii")

    return bool(dkim.verify(message, dnsfunc=lookup))


def signer_for(settings, from_domain: Callable[[], str]) -> Signer | None:
    """The Signer DIGEST_DKIM_* configure, or None when signing is off (no key configured)."""
    if settings.dkim_private_key is None:
        return None
    if not settings.dkim_selector:
        raise DigestError("DIGEST_DKIM_SELECTOR is required with DIGEST_DKIM_PRIVATE_KEY")
    domain = settings.dkim_domain or from_domain()
    return Signer(load_key(settings.dkim_private_key), settings.dkim_selector, domain)
