"""Report messages as receivers write them: RFC 3464 DSNs and RFC 5965 ARF complaints."""

from __future__ import annotations

import uuid


def dsn(
    recipient: str,
    *,
    status: str = "5.1.1",
    action: str = "failed",
    to: str = "news@example.org",
    original_message_id: str = "<orig@example.org>",
    diagnostic: str = "smtp; 550 5.1.1 user unknown",
    report_id: str | None = None,
) -> bytes:
    boundary = "B" + uuid.uuid4().hex
    report_id = report_id or f"<dsn.{uuid.uuid4().hex}@mx.example.net>"
    return (
        f"From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n"
        f"To: {to}\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: {report_id}\r\n"
        f"MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        f"\r\n"
        f"--{boundary}\r\n"
        f"Content-Type: text/plain\r\n\r\n"
        f"Your message could not be delivered.\r\n\r\n"
        f"--{boundary}\r\n"
        f"Content-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        f"Diagnostic-Code: {diagnostic}\r\n\r\n"
        f"--{boundary}\r\n"
        f"Content-Type: text/rfc822-headers\r\n\r\n"
        f"From: Test News <news@example.org>\r\n"
        f"To: {recipient}\r\n"
        f"Subject: Test News\r\n"
        f"Message-ID: {original_message_id}\r\n\r\n"
        f"--{boundary}--\r\n"
    ).encode()


def arf(original: bytes, recipient: str, report_id: str | None = None, mail_from: str = "") -> bytes:
    """A complaint (Feedback-Type: abuse) carrying the original message, as mailbox providers send."""
    boundary = "A" + uuid.uuid4().hex
    report_id = report_id or f"<arf.{uuid.uuid4().hex}@fbl.example.net>"
    mail_from_line = f"Original-Mail-From: <{mail_from}>\r\n" if mail_from else ""
    return (
        (
            f"From: Feedback Loop <fbl@example.net>\r\n"
            f"To: abuse@example.org\r\n"
            f"Subject: FW: complaint\r\n"
            f"Message-ID: {report_id}\r\n"
            f"MIME-Version: 1.0\r\n"
            f'Content-Type: multipart/report; report-type=feedback-report; boundary="{boundary}"\r\n'
            f"\r\n"
            f"--{boundary}\r\n"
            f"Content-Type: text/plain\r\n\r\n"
            f"This is an email abuse report.\r\n\r\n"
            f"--{boundary}\r\n"
            f"Content-Type: message/feedback-report\r\n\r\n"
            f"Feedback-Type: abuse\r\n"
            f"User-Agent: ExampleFBL/1.0\r\n"
            f"Version: 1\r\n"
            f"{mail_from_line}"
            f"Original-Rcpt-To: <{recipient}>\r\n\r\n"
            f"--{boundary}\r\n"
            f"Content-Type: message/rfc822\r\n\r\n"
        ).encode()
        + original.rstrip(b"\r\n")
        + f"\r\n\r\n--{boundary}--\r\n".encode()
    )
