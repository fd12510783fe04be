"""A private Postfix instance on loopback: its own config_directory, queue and virtual Maildirs.

It accepts mail for `example.test` on 127.0.0.1:PORT from loopback only, delivers the known
mailboxes into Maildirs under `mail/`, and bounces mail for unknown users of the domain after
accepting it (smtpd_reject_unlisted_recipient = no), so the bounce daemon writes a real DSN to
the envelope sender, which is itself a mailbox here (`bounces`, with `+` extensions). Nothing is
ever relayed: every other domain is refused. Needs root (Postfix's master runs as root).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

DOMAIN = "example.test"
POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"


def available() -> bool:
    return os.geteuid() == 0 and Path(POSTFIX).exists() and Path("/usr/lib/postfix/sbin/master").exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Postfix:
    def __init__(self, root: Path, mailboxes: list[str]):
        self.root, self.port = root, _free_port()
        self.config, self.mail = root / "etc", root / "mail"
        self.mailboxes = mailboxes

    def maildir(self, local: str) -> Path:
        return self.mail / local

    def write_config(self) -> None:
        owner = pwd.getpwnam("nobody")
        for folder in (self.config, self.root / "queue", self.root / "data", self.mail):
            folder.mkdir(parents=True, exist_ok=True)
        os.chown(self.mail, owner.pw_uid, owner.pw_gid)
        postfix = pwd.getpwnam("postfix")
        os.chown(self.root / "data", postfix.pw_uid, postfix.pw_gid)
        (self.config / "vmailbox").write_text("".join(f"{m}@{DOMAIN} {m}/\n" for m in self.mailboxes))
        (self.config / "main.cf").write_text(
            _MAIN_CF.format(root=self.root, uid=owner.pw_uid, gid=owner.pw_gid)
        )
        master = Path("/etc/postfix/master.cf").read_text().splitlines()
        lines = [_unchrooted(line) for line in master if not line.startswith("smtp      inet")]
        lines.insert(0, f"127.0.0.1:{self.port} inet n - n - - smtpd")
        (self.config / "master.cf").write_text("\n".join(lines) + "\n")

    def start(self) -> None:
        self.write_config()
        self._postfix("start")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"private postfix did not listen on {self.port}: {self.log()}")

    def stop(self) -> None:
        self._postfix("stop", check=False)

    def flush(self) -> None:
        self._postfix("flush", check=False)

    def log(self) -> str:
        path = self.root / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_for_files(self, local: str, count: int, timeout: float = 30) -> list[Path]:
        deadline = time.monotonic() + timeout
        files: list[Path] = []
        while time.monotonic() < deadline:
            files = (
                sorted((self.maildir(local) / "new").glob("*"))
                if (self.maildir(local) / "new").is_dir()
                else []
            )
            if len(files) >= count:
                return files
            time.sleep(0.2)
        raise AssertionError(f"{len(files)} of {count} messages in {local}/new; log:\n{self.log()[-3000:]}")

    def _postfix(self, command: str, check: bool = True) -> None:
        subprocess.run(
            [POSTFIX, "-c", str(self.config), command],
            check=check,
            capture_output=True,
            timeout=60,
            env={**os.environ, "MAIL_CONFIG": str(self.config)},
        )


def _unchrooted(line: str) -> str:
    """A private queue is not a chroot jail with the files Postfix expects: run unchrooted."""
    fields = line.split()
    if len(fields) >= 8 and not line[:1].isspace() and not line.startswith("#") and fields[4] == "y":
        fields[4] = "n"
        return " ".join(fields)
    return line


_MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
mail_owner = postfix
myhostname = mx.example.test
mydomain = example.test
myorigin = example.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains =
relayhost =
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions = reject_unauth_destination
smtpd_reject_unlisted_recipient = no
local_recipient_maps =
alias_maps =
alias_database =
virtual_mailbox_domains = example.test
virtual_mailbox_base = {root}/mail
virtual_mailbox_maps = texthash:{root}/etc/vmailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = 1
recipient_delimiter = +
default_transport = error:no relaying from this test instance
smtputf8_enable = no
smtpd_tls_security_level = none
smtp_tls_security_level = none
biff = no
append_dot_mydomain = no
delay_warning_time = 0
bounce_queue_lifetime = 0
maximal_queue_lifetime = 1h
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
"""


@contextmanager
def running_postfix(mailboxes: list[str]):
    """A started instance in a fresh folder that Postfix's own users can traverse (pytest's
    tmp_path is private to root), removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="digest-postfix-"))
    root.chmod(0o755)
    instance = Postfix(root, mailboxes)
    try:
        instance.start()
        yield instance
    finally:
        instance.stop()
        shutil.rmtree(root, ignore_errors=True)
