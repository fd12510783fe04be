"""Shared fixtures: a real SQLite file per test, the CLI as a real subprocess, tool requirements."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.pg import any_db_url, postgres_server  # noqa: F401  (fixtures for every test module)
from tests.smtp_server import smtp_server, trickle_server  # noqa: F401

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"


def require_tool(name: str, found: bool | None = None) -> None:
    """Skip when a system tool is missing on a developer's machine; fail in CI (DIGEST_REQUIRE_ALL)."""
    if found is None:
        found = shutil.which(name) is not None
    if found:
        return
    message = f"{name} is not installed (./run.sh test installs it when run as root)"
    if os.environ.get("DIGEST_REQUIRE_ALL"):
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'digest.db'}"


def environ_without_digest(**values: str) -> dict[str, str]:
    """This process's environment minus the developer's DIGEST_* settings, plus `values`."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}, **values}


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> dict[str, str]:
    """A clean environment for the CLI: no DIGEST_* leaks in from the developer's shell."""
    return environ_without_digest(DIGEST_DATABASE_URL=db_url, DIGEST_OUTBOX=str(tmp_path / "outbox"))


@pytest.fixture
def digest(tmp_path: Path, env: dict[str, str]):
    """Run `python -m digest ARGS` in tmp_path, as a user would, and capture what it printed."""

    def run(*args: str, extra_env: dict[str, str] | None = None, timeout: float = 120) -> Result:
        completed = subprocess.run(
            [sys.executable, "-m", "digest", *args],
            cwd=tmp_path,
            env={**env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Result(completed.returncode, completed.stdout, completed.stderr)

    return run


CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium tries Google's hosts at start, which this
# closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium driven by Playwright (never a downloaded browser)."""
    require_tool("chromium", Path(CHROMIUM).exists())
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: (server context, a client context that trusts it)."""
    require_tool("openssl", shutil.which("openssl") is not None)
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subject = ["-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, *subject],
        check=True,
        capture_output=True,
    )
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))
    return server_context, trusting
