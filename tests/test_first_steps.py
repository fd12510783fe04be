"""A new organizer's first steps: a secret key, and the README's path to a first newsletter."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, environ_without_digest


def test_config_secret_prints_a_fresh_key_that_config_check_accepts(digest):
    first, second = digest("config", "secret"), digest("config", "secret")
    assert first.code == 0 and second.code == 0
    key = first.out.strip()
    assert len(key) >= 32 and key != second.out.strip() and " " not in key
    assert digest("config", "check", extra_env={"DIGEST_SECRET_KEY": key}).code == 0


def first_newsletter_block() -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("### Your first newsletter", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


def test_the_readme_first_newsletter_path_works(tmp_path: Path) -> None:
    """Run the README's block as written, in a fresh folder (the preview line is checked apart)."""
    venv = Path(sys.executable).parent.parent
    if not (venv / "bin" / "activate").exists():
        pytest.skip("tests are not running from a venv")
    lines = first_newsletter_block()
    assert lines[0] == "source .venv/bin/activate" and "digest config secret" in " ".join(lines)
    assert "digest preview" in lines
    (tmp_path / ".venv").symlink_to(venv)
    shutil.copy(REPO / "config.example.env", tmp_path)
    shutil.copytree(REPO / "seeds", tmp_path / "seeds")
    script = "set -e\n" + "\n".join(line for line in lines if not line.startswith("digest preview"))
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=environ_without_digest(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    copies = list((tmp_path / "outbox").rglob("*.eml"))
    assert len(copies) == 1, copies  # the test copy; the dry run sends nothing
    assert "you@example.org" in copies[0].read_text()
    assert "would go to 1 recipients" in done.stderr
    help_text = subprocess.run(
        [str(venv / "bin" / "digest"), "preview", "--help"], capture_output=True, text=True, timeout=60
    )
    assert help_text.returncode == 0
