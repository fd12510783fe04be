"""The personal header lines of a spliced message, each folded within RFC 5322's limits.

Every line is at most 998 octets (servers refuse longer ones with "line too long", which must never
happen because of a subscriber's name) and, where the value allows it, 78. A display name is cut
to NAME_LIMIT characters and folded by the email package; a name it cannot fold within 998 octets
(one very long word) becomes RFC 2047 encoded-words, each on a line of its own: unlike a long
word, encoded-words can be folded anywhere.
"""

from __future__ import annotations

import base64
import re
from email import policy
from email.headerregistry import Address

from digest.text import refuse_controls, single_line

NAME_LIMIT = 200  # characters of a display name; longer ones are cut (on input and in the header)
LINE_LIMIT = 998
_PLAIN_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_QUOTABLE_NAME = re.compile(r"[\x20-\x7e]+")
_POLICY = policy.SMTP
_WORD_BYTES = 39  # base64 of 39 bytes is 52 characters: an encoded-word line stays under 78


def display_name(name: str | None) -> str:
    """One line, no controls, at most NAME_LIMIT characters."""
    return single_line(name)[:NAME_LIMIT].strip()


def to_line(email: str, name: str | None) -> bytes:
    """`To: name <email>` folded so that no line passes 78 octets (the address alone may)."""
    name = display_name(name)
    refuse_controls(email)
    if not email.isascii() or len(email) > LINE_LIMIT - 10:
        raise ValueError("the address cannot go in a header")
    if not name:
        line = f"To: {email}"
    elif _PLAIN_NAME.fullmatch(name):
        line = f"To: {name} <{email}>"
    elif _QUOTABLE_NAME.fullmatch(name) and '"' not in name and "\\" not in name:
        line = f'To: "{name}" <{email}>'
    else:
        line = ""
    if line and len(line) <= 78:
        return (line + "\r\n").encode("ascii")
    folded = _POLICY.fold_binary(
        "To", _POLICY.header_factory("To", Address(display_name=name, addr_spec=email))
    )
    if max(len(part) for part in folded.split(b"\r\n")) <= LINE_LIMIT:
        return folded
    # One word too long to fold (it cannot be broken where it stands): encoded-words can be.
    words = "\r\n ".join(_encoded_words(name))
    return f"To: {words}\r\n <{email}>\r\n".encode("ascii")


def _encoded_words(name: str) -> list[str]:
    """The name as base64 encoded-words of at most _WORD_BYTES bytes, never splitting a character."""
    words, chunk = [], b""
    for char in name:
        data = char.encode("utf-8")
        if len(chunk) + len(data) > _WORD_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += data
    words.append(chunk)
    return [f"=?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words if w]


def list_unsubscribe_line(url: str, tail: str) -> bytes:
    """The https link and, on a line of its own, the mailto: one."""
    url = refuse_controls(url)
    if len(url) > LINE_LIMIT - 30:
        raise ValueError("the unsubscribe link is too long for a header line")
    line = f"List-Unsubscribe: <{url}>"
    if tail:
        line += ",\r\n " + tail
    return (line + "\r\n").encode("ascii")


def longest_header_line(message: bytes) -> int:
    head = message.split(b"\r\n\r\n", 1)[0]
    return max(len(line) for line in head.split(b"\r\n"))
