"""A whole send over TLS (STARTTLS and implicit TLS) to a real aiosmtpd on loopback: the send
engine drives TLS sockets without blocking, and every subscriber gets the digest once."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from digest.send import send_period
from digest.store.schema import deliveries
from digest.transport import SMTPTransport
from tests.delivery_support import NOW, address, composed, prepared_store, settings_for, week

READERS = 60


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_a_send_over_tls_reaches_everyone_once(tmp_path, smtp_server, certificate, security):
    server_context, trusting = certificate
    option = "tls_context" if security == "starttls" else "ssl_context"
    server = smtp_server(server_kwargs={option: server_context})
    url = f"sqlite:///{tmp_path / 'digest.db'}"
    engine = prepared_store(url, weekly=READERS)
    settings = settings_for(url, DIGEST_SEND_CONCURRENCY="3")
    transport = SMTPTransport(server.host, server.port, security=security, timeout=10, ssl_context=trusting)
    digest = composed(settings, engine, week(settings), NOW)
    report = send_period(settings, engine, digest, NOW, transport=transport)
    assert (report.sent, report.failed, report.complete) == (READERS, 0, True)
    assert server.recipients() == sorted(address("weekly", n) for n in range(READERS))
    with engine.connect() as connection:
        assert Counter(connection.execute(select(deliveries.c.state)).scalars()) == {"sent": READERS}
