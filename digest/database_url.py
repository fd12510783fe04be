"""Database URLs: which ones digest takes, and how one is printed (never with its password)."""

from __future__ import annotations

import re

_SUPPORTED_DATABASES = "sqlite:///digest.db or postgresql+psycopg://user:password@host/db"


def database_url(value: str) -> str:
    """Only the stores digest is tested on; a `mysql://` URL is a config error, not a missing module."""
    value = value.strip()
    match = re.match(r"^([a-z][a-z0-9]*)(\+[a-z0-9]+)?://", value)
    if not match:
        raise ValueError(f"must be a URL such as {_SUPPORTED_DATABASES}, got {redacted_url(value)!r}")
    backend, driver = match[1], match[2]
    if backend == "postgres" or (backend == "postgresql" and not driver):  # psycopg 3 is what we install
        return "postgresql+psycopg://" + value[match.end() :]
    if backend not in ("sqlite", "postgresql") or (backend == "postgresql" and driver != "+psycopg"):
        raise ValueError(f"{match[0][:-3]} is not supported: use {_SUPPORTED_DATABASES}")
    return value


def redacted_url(url: str) -> str:
    """A database URL fit to print: the password replaced by ***, even in a URL that does not parse."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return re.sub(r"(//[^/@:]*:)[^/@]*@", r"\1***@", re.sub(r"\s*:[^\s:/@]*@", ":***@", url))
