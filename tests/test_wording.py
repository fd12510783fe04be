"""Small words an organizer reads: the example config, the transport summary, the progress bar."""

from __future__ import annotations

import re
from pathlib import Path

from digest.config import example_env, load_settings
from digest.transport import describe_transport, open_transport

REPO = Path(__file__).resolve().parent.parent


def test_example_config_names_each_default_once():
    for text in (example_env(), (REPO / "config.example.env").read_text()):
        for line in text.splitlines():
            assert line.count("(default:") <= 1, line
    assert "(default: a sentence naming the newsletter)" in example_env()


def test_smtp_without_tls_says_no_tls():
    def summary(security: str) -> str:
        settings = load_settings(
            environ={
                "DIGEST_SMTP_HOST": "127.0.0.1",
                "DIGEST_SMTP_PORT": "2525",
                "DIGEST_SMTP_SECURITY": security,
            },
            env_file=None,
        )
        return describe_transport(open_transport(settings))

    assert summary("none") == "SMTP 127.0.0.1:2525 (no TLS)"
    assert summary("starttls") == "SMTP 127.0.0.1:2525 (STARTTLS)"
    assert summary("ssl") == "SMTP 127.0.0.1:2525 (implicit TLS)"
    assert not re.search(r"\(none\)", summary("none"))


def test_send_progress_bar_shows_sent_of_total(db_url, env, tmp_path):
    """On a terminal the bar counts messages (`12/12`), not only a percentage."""
    import os
    import pty
    import subprocess
    import sys

    from tests.delivery_support import SECRET, WEEK, prepared_store

    prepared_store(db_url, weekly=12)
    main, child = pty.openpty()
    run_env = {**env, "DIGEST_FROM": "News <news@example.org>", "DIGEST_SECRET_KEY": SECRET, "COLUMNS": "120"}
    process = subprocess.Popen(
        [sys.executable, "-m", "digest", "send", "--period", WEEK],
        cwd=tmp_path,
        env=run_env,
        stdout=subprocess.PIPE,
        stderr=child,
    )
    os.close(child)
    shown = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    process.wait(timeout=60)
    os.close(main)
    assert process.returncode == 0, shown
    plain = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", shown)
    assert re.search(rb"(?<![\d/])12/12(?![\d/])", plain), plain
