"""Hostile and broken SMTP servers: `digest send` never hangs, never multiplies a message, never
blames a recipient for its own message, and stops at once on a configuration error."""

from __future__ import annotations

import datetime as dt
import signal
import ssl
import subprocess
import time
from collections import Counter

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from digest.store.schema import deliveries, subscribers
from tests.delivery_support import SECRET, address, prepared_store, run_send, start_send

TIMEOUT = 2.0


def send_env(env: dict, db_url: str, server, **extra: str) -> dict:
    return {
        **env,
        "DIGEST_DATABASE_URL": db_url,
        "DIGEST_FROM": "Test News <news@example.org>",
        "DIGEST_SECRET_KEY": SECRET,
        "DIGEST_SMTP_TIMEOUT": str(TIMEOUT),
        **server.env(),
        **extra,
    }


def wait_for_connection(server, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while server.connections < 1:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "digest send never connected"
        time.sleep(0.05)


@pytest.mark.parametrize("at", ["EHLO", "STARTTLS", "MAIL", "DATA", "END"])
def test_a_trickling_server_ends_the_send_within_twice_the_timeout_after_sigterm(
    db_url, env, tmp_path, trickle_server, at
):
    prepared_store(db_url, weekly=3)
    server = trickle_server(at=at)
    security = {"DIGEST_SMTP_SECURITY": "starttls"} if at == "STARTTLS" else {}
    process = start_send(tmp_path, send_env(env, db_url, server, **security))
    wait_for_connection(server, process)
    time.sleep(1)  # inside the trickle now
    process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    try:
        _, err = process.communicate(timeout=TIMEOUT * 2 + 5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("digest send ignored SIGTERM while a server trickled 250- lines")
    elapsed = time.monotonic() - started
    assert elapsed <= 2 * TIMEOUT, f"took {elapsed:.1f} s after SIGTERM"
    assert process.returncode == 1 and "Traceback" not in err, err  # stopped and said so, not killed


def test_a_trickling_server_alone_cannot_hang_the_send(db_url, env, tmp_path, trickle_server):
    prepared_store(db_url, weekly=2)
    server = trickle_server(at="EHLO")
    started = time.monotonic()
    result = run_send(tmp_path, send_env(env, db_url, server), timeout=90)
    assert result.returncode == 1 and "still owed" in result.stdout
    assert time.monotonic() - started < 60


def test_a_second_signal_exits_at_once(db_url, env, tmp_path, trickle_server):
    prepared_store(db_url, weekly=3)
    # The message is out and its reply trickles: the first signal waits for it (up to the timeout).
    server = trickle_server(at="END", interval=0.05)
    process = start_send(tmp_path, send_env(env, db_url, server, DIGEST_SMTP_TIMEOUT="30"))
    wait_for_connection(server, process)
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    _, err = process.communicate(timeout=20)
    assert time.monotonic() - started < 2.0
    assert process.returncode == 130 and "Traceback" not in err, err


def test_hang_up_after_end_of_data_reaches_the_server_at_most_twice_across_run_and_rerun(
    db_url, env, tmp_path, smtp_server
):
    engine = prepared_store(db_url, weekly=4)
    server = smtp_server(drop_after_accept_every=1)
    run_env = send_env(env, db_url, server)
    first = run_send(tmp_path, run_env)
    assert Counter(server.recipients()) == Counter({address("weekly", n): 1 for n in range(4)}), first.stdout
    second = run_send(tmp_path, run_env)
    third = run_send(tmp_path, run_env)
    copies = Counter(server.recipients())
    assert max(copies.values()) <= 2, copies
    with engine.connect() as connection:
        states = set(connection.execute(select(deliveries.c.state)).scalars())
        assert "sent" not in states and "pending" not in states
        bounced = connection.execute(
            select(subscribers.c.status).where(subscribers.c.status != "active")
        ).all()
        assert bounced == []  # the server's hang-up is no recipient's fault
    assert "ambiguous" in (first.stdout + first.stderr + second.stdout + third.stdout).lower()


def test_a_line_too_long_refusal_is_not_the_recipients_bounce(db_url, env, tmp_path, smtp_server):
    engine = prepared_store(db_url, weekly=3)
    server = smtp_server(reject_data={address("weekly", 1): "552 5.6.0 Message header line too long"})
    result = run_send(tmp_path, send_env(env, db_url, server))
    with engine.connect() as connection:
        statuses = dict(connection.execute(select(subscribers.c.email, subscribers.c.status)).all())
    assert statuses[address("weekly", 1)] == "active", result.stdout
    assert "line too long" in (result.stdout + result.stderr)


def test_the_long_name_subscriber_gets_the_digest_with_every_header_line_within_998(
    db_url, env, tmp_path, smtp_server, digest
):
    prepared_store(db_url, weekly=0 + 1)
    server = smtp_server(max_line=998)
    run_env = send_env(env, db_url, server, DIGEST_NAME="N" * 1200)
    names = {"long@example.com": "x" * 1200, "dots@example.com": "a.b" * 400, "mixed@example.com": "Ø" * 1200}
    for email, name in names.items():
        added = digest("subscribers", "add", email, "--name", name, extra_env=run_env)
        assert added.code == 0, added.err
    result = run_send(tmp_path, run_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(names) <= set(server.recipients()), result.stdout + result.stderr
    for received in server.received:
        head = received.data.split(b"\r\n\r\n", 1)[0]
        assert max(len(line) for line in head.split(b"\r\n")) <= 998


def self_signed_context(tmp_path) -> ssl.SSLContext:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return context


def test_an_untrusted_certificate_stops_the_send_at_once_as_a_configuration_error(
    db_url, env, tmp_path, smtp_server
):
    prepared_store(db_url, weekly=5)
    server = smtp_server(server_kwargs={"tls_context": self_signed_context(tmp_path)})
    result = run_send(tmp_path, send_env(env, db_url, server, DIGEST_SMTP_SECURITY="starttls"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "certificate" in result.stderr and "DIGEST_SMTP" in result.stderr
    assert "still owed (rerun" not in result.stdout
    assert server.handler.counts["ehlo"] == 1, "retried the handshake"
    assert server.received == []
