"""DKIM: every signature verifies with dkimpy, for PKCS#1 and PKCS#8 keys, and covers what RFC 8058
and the mailbox providers ask for."""

from __future__ import annotations

import base64
import hashlib
import re
import stat

import pytest
from cryptography.hazmat.primitives import serialization

from digest.dkim import BodyHash, Signer, dns_value, generate_key, load_key, private_pem, relaxed_body, verify
from digest.errors import DigestError

HEADERS = (
    b"From: Test News <news@example.org>\r\n"
    b"To: =?utf-8?b?UsOpYWRlcg==?= <reader@example.com>\r\n"
    b"Subject: Test   News\r\n\t weekly\r\n"
    b"Date: Mon, 13 Nov 2023 08:00:00 +0000\r\n"
    b"Message-ID: <weekly.2023-W45.1.abc@example.org>\r\n"
    b"List-Id: Test News weekly <test-news-weekly.example.org>\r\n"
    b"List-Unsubscribe: <https://news.example.org/unsubscribe/TOKEN>,\r\n <mailto:u@example.org?subject=unsubscribe>\r\n"
    b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
)
BODIES = [b"", b"\r\n", b"\r\n\r\n\r\n", b"Hello  \t world  \r\n\r\n", b"no newline at end", b"a=\r\n" * 2000]


@pytest.fixture(scope="module")
def key():
    return generate_key()


def signed_tags(signature: bytes) -> dict[str, str]:
    value = re.sub(rb"\s+", b"", signature.split(b":", 1)[1]).decode()
    return dict(tag.split("=", 1) for tag in value.split(";") if tag)


@pytest.mark.parametrize("body", BODIES)
def test_every_signature_verifies_with_dkimpy(key, body):
    message = HEADERS + body
    signature = Signer(key, "sel", "example.org").sign(message, 1_700_000_000)
    assert verify(signature + message, dns_value(key))


def test_body_hash_equals_dkimpys_for_awkward_bodies():
    from dkim.canonicalization import Relaxed

    for body in [*BODIES, b" \r\n \r\n", b"x \r\n\t\r\n\r\ny"]:
        expected = hashlib.sha256(Relaxed.canonicalize_body(body)).digest()
        hasher = BodyHash()
        hasher.update(body)
        assert hasher.digest() == base64.b64encode(expected)


def test_body_hash_fed_in_line_pieces_equals_the_whole():
    body = b"shared start\r\n\r\n" + b"personal  link\r\n" + b"shared end\r\n\r\n"
    whole = BodyHash()
    whole.update(body)
    prefix = BodyHash()
    prefix.update(b"shared start\r\n\r\n")
    copy = prefix.copy()
    copy.update(b"personal  link\r\n")
    copy.update(b"shared end\r\n\r\n")
    assert copy.digest() == whole.digest()
    assert relaxed_body(b"a \t b  \r\n") == b"a b\r\n"


def test_h_covers_both_unsubscribe_headers_and_oversigns_them(key):
    signature = Signer(key, "sel", "example.org").sign(HEADERS + b"body\r\n", 1_700_000_000)
    names = signed_tags(signature)["h"].split(":")
    for name in (
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "list-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
    ):
        assert name in names
    assert names.count("list-unsubscribe") == 2 and names.count("from") == 2
    assert all(len(line) <= 78 for line in signature.split(b"\r\n"))
    # A second List-Unsubscribe added after signing breaks the signature.
    tampered = signature + b"List-Unsubscribe: <https://evil.example/>\r\n" + HEADERS + b"body\r\n"
    assert not verify(tampered, dns_value(key))


def test_a_changed_body_or_header_fails(key):
    message = HEADERS + b"body\r\n"
    signature = Signer(key, "sel", "example.org").sign(message, 1_700_000_000)
    assert not verify(signature + message.replace(b"body", b"bodY"), dns_value(key))
    assert not verify(signature + message.replace(b"TOKEN", b"OTHER"), dns_value(key))


def test_pkcs1_and_pkcs8_keys_both_load_and_sign(key, tmp_path):
    pkcs1 = tmp_path / "pkcs1.pem"
    pkcs1.write_bytes(private_pem(key))
    pkcs8 = tmp_path / "pkcs8.pem"
    pkcs8.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    assert b"BEGIN PRIVATE KEY" in pkcs8.read_bytes()
    message = HEADERS + b"body\r\n"
    for path in (pkcs1, pkcs8):
        signature = Signer(load_key(path), "sel", "example.org").sign(message, 1_700_000_000)
        assert verify(signature + message, dns_value(key))


def test_a_bad_key_file_is_one_clear_error_without_its_content(tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----\n")
    with pytest.raises(DigestError) as raised:
        load_key(bad)
    assert "c2VjcmV0" not in str(raised.value) and "bad.pem" in str(raised.value)
    with pytest.raises(DigestError, match="cannot read"):
        load_key(tmp_path / "missing.pem")


def test_keygen_writes_a_private_key_and_prints_the_dns_record(digest, tmp_path):
    result = digest("dkim", "keygen", "--selector", "dg2024", "--out", "dkim.pem", "--domain", "example.org")
    assert result.code == 0, result.err
    path = tmp_path / "dkim.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = load_key(path)
    assert key.key_size == 2048
    name, record = result.out.split(" IN TXT ")
    assert name == "dg2024._domainkey.example.org."
    assert "".join(re.findall(r'"([^"]*)"', record)) == dns_value(key)
    again = digest("dkim", "keygen", "--selector", "dg2024", "--out", "dkim.pem")
    assert again.code == 1 and "exists" in again.err


def test_piece_signer_signs_each_spliced_recipient_as_the_whole_message_would_be(key):
    from digest.dkim import PieceSigner
    from digest.mail import prepare_message
    from tests.delivery_support import NOW, rendered, settings_for

    prepared = prepare_message(settings_for("sqlite://"), rendered(), NOW)
    signer = Signer(key, "sel", "example.org")
    pieces = PieceSigner(signer, prepared.pieces, prepared.slots)
    for n, name in enumerate(["Ann", "Réader with a much longer name " * 3, None]):
        url = f"https://news.example.org/unsubscribe/token-{n}"
        personal = prepared.personalize(f"r{n}@example.com", name, n, url, f"<m{n}@example.org>")
        data = personal.data
        signature = pieces.sign(personal.values, 1_700_000_000)
        assert signature == signer.sign(data, 1_700_000_000)
        assert verify(signature + data, dns_value(key))
