"""A new organizer's first steps: a secret key, and the README's path to a first newsletter."""

from __future__ import annotations


def test_config_secret_prints_a_fresh_key_that_config_check_accepts(digest):
    first, second = digest("config", "secret"), digest("config", "secret")
    assert first.code == 0 and second.code == 0
    key = first.out.strip()
    assert len(key) >= 32 and key != second.out.strip() and " " not in key
    assert digest("config", "check", extra_env={"DIGEST_SECRET_KEY": key}).code == 0
