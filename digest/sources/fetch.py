"""Fetching http(s) sources: our own client, with timeouts and a size cap."""

from __future__ import annotations

import httpx

MAX_BYTES = 10 * 1024 * 1024
TIMEOUT = httpx.Timeout(15.0, connect=10.0)
_HEADERS = {
    "User-Agent": "digest/0.1 (feed reader)",
    "Accept": "application/rss+xml, application/atom+xml, application/xml, application/json, text/*;q=0.5",
}


def fetch(url: str, max_bytes: int = MAX_BYTES) -> tuple[bytes, str]:
    """(body, content type) of an http(s) URL; ValueError with a readable reason otherwise."""
    if not url.lower().startswith(("http://", "https://")):
        raise ValueError("only http and https URLs are fetched")
    try:
        with (
            httpx.Client(timeout=TIMEOUT, follow_redirects=True, max_redirects=5, headers=_HEADERS) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code >= 400:
                raise ValueError(f"HTTP {response.status_code} {response.reason_phrase}")
            return _read_capped(response, max_bytes), response.headers.get("content-type", "")
    except httpx.HTTPError as exc:
        raise ValueError(f"cannot fetch: {exc.__class__.__name__}: {exc}") from None


def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise ValueError(f"larger than {max_bytes // (1024 * 1024)} MB; refused")
        chunks.append(chunk)
    return b"".join(chunks)
