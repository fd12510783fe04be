"""The send engine pipelines across messages (RFC 2920): one write carries a message's end of data
and the next message's envelope, so a message costs one round trip, not two.

The server here is a few lines of SMTP on a real loopback socket, scripted to prove it: it holds
back its reply to an end of data until the next MAIL has arrived. A client that waits for that
reply before it writes the next envelope (two round trips per message) never gets it, and its
message ends as ambiguous when DIGEST_SMTP_TIMEOUT passes.
"""

from __future__ import annotations

import socket
import threading
from collections import Counter

from sqlalchemy import select

from digest.send import send_period
from digest.store.schema import deliveries
from tests.delivery_support import NOW, composed, prepared_store, settings_for, week

MESSAGES = 5


class WithholdingServer:
    """One connection at a time; the reply to each end of data waits for the next MAIL (or QUIT,
    or the last expected message)."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.recipients: list[str] = []
        self.mail_with_unanswered_data = 0  # MAIL commands that came before their reply was due
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as reader:
                self._session(conn, reader)

    def _session(self, conn: socket.socket, reader) -> None:
        conn.sendall(b"220 withholding ESMTP\r\n")
        held = False  # an end of data whose 250 is held back
        while line := reader.readline():
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                conn.sendall(b"250-withholding\r\n250-PIPELINING\r\n250 SIZE 10000000\r\n")
            elif verb == b"MAIL":
                if held:
                    self.mail_with_unanswered_data += 1
                    conn.sendall(b"250 queued\r\n")
                    held = False
                conn.sendall(b"250 sender ok\r\n")
            elif verb == b"RCPT":
                self.recipients.append(line[9:].strip().strip(b"<>").decode())
                conn.sendall(b"250 recipient ok\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 go ahead\r\n")
                while reader.readline() not in (b".\r\n", b""):
                    pass
                held = len(self.recipients) < self.expected
                if not held:
                    conn.sendall(b"250 queued\r\n")
            elif verb in (b"RSET", b"NOOP"):
                conn.sendall(b"250 ok\r\n")
            elif verb == b"QUIT":
                if held:
                    conn.sendall(b"250 queued\r\n")
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"500 what\r\n")

    def close(self) -> None:
        self.listener.close()


def test_the_next_envelope_goes_with_the_previous_end_of_data(tmp_path):
    url = f"sqlite:///{tmp_path / 'digest.db'}"
    engine = prepared_store(url, weekly=MESSAGES)
    server = WithholdingServer(MESSAGES)
    try:
        env = {
            "DIGEST_SMTP_HOST": "127.0.0.1",
            "DIGEST_SMTP_PORT": str(server.port),
            "DIGEST_SMTP_SECURITY": "none",
            "DIGEST_SMTP_TIMEOUT": "3",
            "DIGEST_SEND_CONCURRENCY": "1",
            "DIGEST_SEND_PROCESSES": "1",
        }
        settings = settings_for(url, **env)
        report = send_period(settings, engine, composed(settings, engine, week(settings), NOW), NOW)
    finally:
        server.close()
    with engine.connect() as connection:
        states = Counter(connection.execute(select(deliveries.c.state)).scalars())
    assert states == Counter({"sent": MESSAGES}), states
    assert (report.sent, report.complete) == (MESSAGES, True)
    assert server.mail_with_unanswered_data == MESSAGES - 1
    assert len(set(server.recipients)) == MESSAGES
