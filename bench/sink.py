"""Postfix's smtp-sink on loopback: a discarding SMTP server fast enough not to be the bottleneck.

Started with `-c`, it prints a running `mesg=N` counter per delivered message; reading it gives the
sink's own view of when the first and the last message of a run arrived, the same for digest and for
the reference client, whatever either did before its first message (start-up, rendering).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

from bench.harness import free_port

SMTP_SINK = "/usr/sbin/smtp-sink"
_COUNTER = re.compile(rb"mesg=(\d+)")


def sink_binary() -> str | None:
    if Path(SMTP_SINK).exists():
        return SMTP_SINK
    return shutil.which("smtp-sink")


class SmtpSink:
    """`smtp-sink -c [-u nobody] 127.0.0.1:PORT 256`, one per run so its counter starts at zero."""

    def __init__(self, backlog: int = 256) -> None:
        binary = sink_binary()
        if binary is None:
            raise RuntimeError("smtp-sink is not installed (Debian package postfix)")
        self.port = free_port()
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        self.process = subprocess.Popen(
            [binary, "-c", *user, f"127.0.0.1:{self.port}", str(backlog)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.count = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._wait_listening()

    def _wait_listening(self) -> None:
        import socket

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.recv(512)
                    sock.sendall(b"QUIT\r\n")
                return
            except OSError:
                time.sleep(0.05)
        self.close()
        raise RuntimeError("smtp-sink did not start listening")

    def _read(self) -> None:
        stream = self.process.stdout
        while True:
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                return
            found = _COUNTER.findall(chunk)
            if not found:
                continue
            count = int(found[-1])
            now = time.perf_counter()
            if count > self.count:
                if self.first_at is None:
                    self.first_at = now
                self.last_at = now
                self.count = count

    def wait_for(self, total: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.count < total and time.monotonic() < deadline:
            time.sleep(0.01)

    def rate(self, messages: int) -> float | None:
        """Messages per second between the first and the last delivery the sink saw."""
        if self.first_at is None or self.last_at is None or self.last_at <= self.first_at:
            return None
        return (messages - 1) / (self.last_at - self.first_at)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=2)

    def __enter__(self) -> SmtpSink:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
