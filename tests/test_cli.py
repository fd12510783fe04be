"""The command line as a whole: help everywhere, config errors together, no tracebacks."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from digest.cli import COMMANDS
from digest.config import example_env

REPO = Path(__file__).parent.parent


def all_commands() -> list[list[str]]:
    found = [[]]
    for name in COMMANDS:
        found.append([name])
    found += [["subscribers", s] for s in ("add", "import", "list", "remove")]
    found += [["scheduler", "run"], ["scheduler", "list"], ["config", "check"]]
    return found


@pytest.mark.parametrize("words", all_commands(), ids=lambda w: " ".join(w) or "digest")
def test_every_command_has_help(digest, words):
    result = digest(*words, "--help")
    assert result.code == 0, result.err
    assert "Usage: digest" in result.out


def test_invalid_config_values_are_reported_together(digest):
    result = digest(
        "items",
        extra_env={
            "DIGEST_TIMEZONE": "Mars/Olympus",
            "DIGEST_SEND_CONCURRENCY": "zero",
            "DIGEST_FROM": "nobody",
        },
    )
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("digest: config error: DIGEST_") for line in lines)
    assert "Traceback" not in result.err


def test_dotenv_is_read_and_environment_wins(digest, tmp_path):
    (tmp_path / ".env").write_text("DIGEST_TIMEZONE=Europe/Paris\nDIGEST_NAME=From dotenv\n")
    result = digest("config", "check")
    assert result.code == 0 and "zone Europe/Paris" in result.out
    result = digest("config", "check", extra_env={"DIGEST_TIMEZONE": "Asia/Tokyo"})
    assert "zone Asia/Tokyo" in result.out


def test_bad_database_url_is_one_line(digest):
    result = digest("items", extra_env={"DIGEST_DATABASE_URL": "nosuchdb://x/y"})
    assert result.code == 2 and "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_config_example_lists_every_key_and_is_current():
    assert (REPO / "config.example.env").read_text() == example_env()


def test_readme_documents_every_command():
    readme = (REPO / "README.md").read_text()
    for words in all_commands()[1:]:
        assert re.search(r"digest " + r"\s+".join(words), readme), f"README lacks `digest {' '.join(words)}`"


def test_python_m_digest_works():
    result = subprocess.run([sys.executable, "-m", "digest", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and "0.1.0" in result.stdout


def test_a_newsletter_name_with_a_line_break_is_refused(digest):
    result = digest("config", "check", extra_env={"DIGEST_NAME": "News\r\nBcc: victim@example.org"})
    assert result.code == 2
    assert (
        result.err.strip()
        == "digest: config error: DIGEST_NAME: must be one line of text, without control characters"
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("DIGEST_BASE_URL", "https://example.org/\r\nBcc: victim@example.org"),
        ("DIGEST_UNSUBSCRIBE_MAILTO", "leave@example.org>\r\nBcc: victim@example.org"),
        ("DIGEST_FROM", "News <news@example.org>\nBcc: victim@example.org"),
    ],
)
def test_values_bound_for_mail_headers_cannot_carry_a_line_break(digest, key, value):
    result = digest("config", "check", extra_env={key: value})
    assert result.code == 2 and result.err.startswith(f"digest: config error: {key}: ")


def test_valid_header_values_are_accepted(digest):
    result = digest(
        "config",
        "check",
        extra_env={
            "DIGEST_BASE_URL": "https://news.example.org/digest?x=1",
            "DIGEST_UNSUBSCRIBE_MAILTO": "leave+news@example.org",
            "DIGEST_FROM": "Zoë’s News <news@example.org>",
        },
    )
    assert result.code == 0, result.err


@pytest.mark.parametrize(
    "words",
    [
        ["nosuch"],
        ["build", "--cadence", "yearly"],
        ["send", "--period", "2023-99"],
        ["items", "--since", "x"],
    ],
)
def test_usage_errors_are_one_line_and_exit_two(digest, words):
    result = digest(*words)
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1 and result.err.startswith("digest: error: ")
