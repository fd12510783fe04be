"""Where reports come from: files, Maildir folders, mbox files. Each yields (label, bytes), one
message at a time, each read under a size cap so a huge or endless file costs bounded memory.

A folder with `cur/` and `new/` is a Maildir; any other folder is read file by file (recursively);
a file that starts with "From " is an mbox; any other file is one message.
"""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path

from digest.bounces.parse import PARSE_LIMIT
from digest.errors import DigestError

READ_LIMIT = PARSE_LIMIT + 1  # one byte more than we parse: enough to know a report is too large


def read_path(path: Path) -> Iterator[tuple[str, bytes]]:
    """Every message under `path`. DigestError when the path cannot be read at all."""
    try:
        if path.is_dir():
            yield from _maildir(path) if _is_maildir(path) else _folder(path)
        elif _is_mbox(path):
            yield from _mbox(path)
        else:
            yield str(path), _read_capped(path)
    except OSError as exc:
        raise DigestError(f"cannot read {path}: {exc.strerror or exc}") from None


def _is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() and (path / "new").is_dir()


def _is_mbox(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(5) == b"From "


def _read_capped(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(READ_LIMIT)


def _maildir(path: Path) -> Iterator[tuple[str, bytes]]:
    for sub in ("new", "cur"):
        for file in sorted((path / sub).iterdir()):
            if file.is_file() and not file.name.startswith("."):
                yield str(file), _read_capped(file)


def _folder(path: Path) -> Iterator[tuple[str, bytes]]:
    for file in sorted(path.rglob("*")):
        if file.is_file() and not file.name.startswith("."):
            yield from read_path(file)


def _mbox(path: Path) -> Iterator[tuple[str, bytes]]:
    box = mailbox.mbox(path, create=False)
    try:
        for number, key in enumerate(box.iterkeys(), start=1):
            with box.get_file(key) as handle:
                yield f"{path}#{number}", handle.read(READ_LIMIT)
    finally:
        box.close()
