"""Transports against a real SMTP server on loopback: TLS, AUTH, classification, reconnects."""

from __future__ import annotations

import time

import pytest

from digest.mail import Outgoing
from digest.transport import (
    DeliveryError,
    MemoryTransport,
    OutboxTransport,
    SMTPTransport,
    open_transport,
    wire_data,
)
from tests.delivery_support import settings_for


def out(sender: str, recipient: str, message: bytes, message_id: str = "") -> Outgoing:
    return Outgoing(sender, recipient, message, message_id)


MESSAGE = b"From: a@example.org\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nhello\r\n"


def smtp(server, **options) -> SMTPTransport:
    return SMTPTransport(server.host, server.port, **{"security": "none", "timeout": 5, **options})


def test_no_smtp_host_means_the_outbox(tmp_path):
    transport = open_transport(settings_for("sqlite://", DIGEST_OUTBOX=str(tmp_path / "out")))
    assert isinstance(transport, OutboxTransport)


def test_outbox_writes_one_file_per_message_id_atomically(tmp_path):
    connection = OutboxTransport(tmp_path / "out").connect()
    connection.send(out("a@example.org", "b@example.com", MESSAGE, "<weekly.1@example.org>"))
    connection.send(out("a@example.org", "b@example.com", MESSAGE + b"again\r\n", "<weekly.1@example.org>"))
    connection.send(out("a@example.org", "c@example.com", MESSAGE, "<weekly.2@example.org>"))
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["weekly.1@example.org.eml", "weekly.2@example.org.eml"]
    assert (tmp_path / "out" / "weekly.1@example.org.eml").read_bytes().endswith(b"again\r\n")


def test_smtp_reuses_one_connection_for_many_messages(smtp_server):
    server = smtp_server()
    connection = smtp(server).connect()
    for n in range(5):
        connection.send(out("a@example.org", f"r{n}@example.com", MESSAGE))
    first = connection.smtp
    connection.send(out("a@example.org", "r5@example.com", MESSAGE))
    assert connection.smtp is first
    connection.close()
    assert server.recipients() == [f"r{n}@example.com" for n in range(6)]


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "one-command-at-a-time"])
def test_replies_are_classified_by_code_and_a_dropped_connection_reconnects(smtp_server, pipelining):
    server = smtp_server(temp_fail_every=2, drop_every=3, reject={"bad@example.com"}, pipelining=pipelining)
    connection = smtp(server).connect()
    connection.send(out("a@example.org", "one@example.com", MESSAGE))
    with pytest.raises(DeliveryError) as temporary:
        connection.send(out("a@example.org", "two@example.com", MESSAGE))
    assert (temporary.value.kind, temporary.value.code) == ("temporary", 451)
    with pytest.raises(DeliveryError) as dropped:
        connection.send(out("a@example.org", "three@example.com", MESSAGE))
    assert dropped.value.kind == "ambiguous" and dropped.value.reconnect  # it had the whole message
    with pytest.raises(DeliveryError) as permanent:
        connection.send(out("a@example.org", "bad@example.com", MESSAGE))
    assert (permanent.value.kind, permanent.value.code) == ("permanent", 550)
    with pytest.raises(DeliveryError, match="451"):  # the 4th message, on a fresh connection
        connection.send(out("a@example.org", "four@example.com", MESSAGE))
    connection.send(out("a@example.org", "five@example.com", MESSAGE))
    connection.close()
    assert server.recipients() == ["five@example.com", "one@example.com"]
    assert server.handler.counts["pipelined"] == (
        6 if pipelining else 0
    )  # each MAIL, RCPT, DATA in one write


def test_pipelined_message_arrives_exactly_as_given_with_dots_intact(smtp_server):
    server = smtp_server()
    message = MESSAGE + b".leading dot\r\n..two\r\n.\r\nbare\nline feed\r\nno final line break"
    connection = smtp(server).connect()
    connection.send(out("a@example.org", "b@example.com", message))
    connection.close()
    received = server.received[0].data.replace(b"\r\n", b"\n")
    assert received == message.replace(b"\r\n", b"\n").rstrip(b"\n") + b"\n"
    assert server.handler.counts["pipelined"] == 1


def test_wire_data_doubles_leading_dots_fixes_line_ends_and_ends_the_data():
    assert wire_data(b".a\r\nb\r\n.c\r\n") == b"..a\r\nb\r\n..c\r\n.\r\n"
    assert wire_data(b"a\nb\r.c") == b"a\r\nb\r\n..c\r\n.\r\n"


@pytest.mark.parametrize("pipelining", [True, False])
def test_a_closed_gate_sends_nothing_and_says_unsent(smtp_server, pipelining):
    server = smtp_server(pipelining=pipelining)
    connection = smtp(server).connect()
    with pytest.raises(DeliveryError) as stopped:
        connection.send(out("a@example.org", "b@example.com", MESSAGE), ready=lambda: False)
    assert stopped.value.kind == "unsent"
    connection.send(out("a@example.org", "c@example.com", MESSAGE), ready=lambda: True)
    connection.close()
    assert server.recipients() == ["c@example.com"]


def test_outbox_and_memory_respect_the_gate(tmp_path):
    for transport in (OutboxTransport(tmp_path / "out"), MemoryTransport()):
        with pytest.raises(DeliveryError, match="stopped"):
            transport.connect().send(
                out("a@example.org", "b@example.com", MESSAGE, "<x@y>"), ready=lambda: False
            )
    assert not list((tmp_path / "out").iterdir())


def test_auth_logs_in_and_a_refused_login_is_a_configuration_error(smtp_server):
    server = smtp_server(auth=("mailer", "s3cret"))
    good = smtp(server, username="mailer", password="s3cret").connect()
    good.send(out("a@example.org", "b@example.com", MESSAGE))
    good.close()
    with pytest.raises(DeliveryError) as refused:
        smtp(server, username="mailer", password="wrong").connect().send(
            out("a@example.org", "c@example.com", MESSAGE)
        )
    assert refused.value.kind == "config" and "wrong" not in refused.value.reason
    assert server.recipients() == ["b@example.com"]


def test_starttls_asked_but_not_offered_is_a_configuration_error(smtp_server):
    server = smtp_server()
    with pytest.raises(DeliveryError, match="does not offer STARTTLS") as error:
        smtp(server, security="starttls").connect().send(out("a@example.org", "b@example.com", MESSAGE))
    assert error.value.kind == "config"
    assert server.recipients() == []


def test_starttls_verifies_the_certificate(smtp_server, certificate):
    server_context, trusting = certificate
    server = smtp_server(server_kwargs={"tls_context": server_context})
    with pytest.raises(DeliveryError, match="certificate is not trusted") as untrusted:
        smtp(server, security="starttls").connect().send(out("a@example.org", "b@example.com", MESSAGE))
    assert untrusted.value.kind == "config"
    connection = smtp(server, security="starttls", ssl_context=trusting).connect()
    connection.send(out("a@example.org", "b@example.com", MESSAGE))
    assert connection.smtp.sock.version().startswith("TLS")
    connection.close()
    assert server.recipients() == ["b@example.com"]


def test_implicit_tls(smtp_server, certificate):
    server_context, trusting = certificate
    server = smtp_server(server_kwargs={"ssl_context": server_context})
    connection = smtp(server, security="ssl", ssl_context=trusting).connect()
    connection.send(out("a@example.org", "b@example.com", MESSAGE))
    connection.close()
    assert server.recipients() == ["b@example.com"]


def test_memory_transport_keeps_messages():
    memory = MemoryTransport()
    memory.connect().send(out("a@example.org", "b@example.com", MESSAGE))
    assert memory.messages == [("a@example.org", "b@example.com", MESSAGE)]


def test_a_server_that_stops_answering_after_the_data_times_out_as_ambiguous(smtp_server):
    server = smtp_server(delay=1.5)
    connection = smtp(server, timeout=1).connect()
    started = time.monotonic()
    with pytest.raises(DeliveryError) as slow:
        connection.send(out("a@example.org", "b@example.com", MESSAGE))
    assert slow.value.kind == "ambiguous" and slow.value.reconnect  # it may have the message
    assert time.monotonic() - started < 3
