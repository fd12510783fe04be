"""Fetching http(s) sources, bounded in every way a hostile server could push.

- Where: every connection is made to an address checked against the AddressPolicy (after DNS, on every
  redirect hop), and the peer actually connected to is checked again.
- How much: the cap counts decoded bytes. We read the raw body and undo at most one content-encoding
  layer ourselves, under the cap; `gzip, gzip` is refused (a client that decodes before counting turns
  1.8 KB into gigabytes).
- How long: one deadline for the whole fetch (DNS, connect, TLS, redirects, body). Socket timeouts are
  per read, so a server trickling a byte every few seconds never trips them: a watchdog shuts the
  sockets down at the deadline.

httpcore (under httpx) is used directly: it takes our network backend and leaves the body undecoded.
Proxy settings in the environment are not used: a proxy would hide the address actually reached.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
import zlib
from dataclasses import dataclass, field
from urllib.parse import urljoin

import httpcore
import httpx

from digest.netpolicy import AddressPolicy, BlockedAddress, IPAddress, refusal
from digest.sources.resolve import resolve

MAX_BYTES = 10 * 1024 * 1024
DEADLINE = 20.0
CONNECT_TIMEOUT = 10.0
MAX_REDIRECTS = 5
_REDIRECTS = {301, 302, 303, 307, 308}
_HEADERS = [
    (b"User-Agent", b"digest/0.1 (feed reader)"),
    (
        b"Accept",
        b"application/rss+xml, application/atom+xml, application/feed+json, application/xml, "
        b"application/json, text/*;q=0.5",
    ),
    (b"Accept-Encoding", b"gzip, deflate"),
]


@dataclass(frozen=True)
class FetchPolicy:
    addresses: AddressPolicy = field(default_factory=AddressPolicy)
    max_bytes: int = MAX_BYTES
    deadline: float = DEADLINE


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects: what relative links resolve against
    body: bytes
    content_type: str


class _Watchdog:
    """Shuts every socket of one fetch down when its deadline passes, whatever it is blocked in."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self.fired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()

    def left(self) -> float:
        left = self.ends - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return left

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.fired:
                _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed: nothing left to stop
        sock.shutdown(socket.SHUT_RDWR)


class _GuardedBackend(httpcore.SyncBackend):
    """Connects only to addresses the policy allows, and checks the peer it reached."""

    def __init__(self, policy: AddressPolicy, watchdog: _Watchdog):
        self._policy = policy
        self._watchdog = watchdog

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        blocked: BlockedAddress | None = None
        failure: Exception | None = None
        for address in resolve(host, port, self._watchdog.left()):
            if kind := refusal(address, self._policy):
                blocked = blocked or BlockedAddress(host, address, kind)
                continue
            try:
                stream = super().connect_tcp(str(address), port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                failure = exc
                continue
            self._check_peer(host, stream)
            return stream
        raise failure or blocked or httpcore.ConnectError(f"{host} has no address")

    def _check_peer(self, host: str, stream) -> None:
        sock = stream.get_extra_info("socket")
        self._watchdog.watch(sock)
        peer: IPAddress = _ip(sock.getpeername()[0])
        if kind := refusal(peer, self._policy):
            stream.close()
            raise BlockedAddress(host, peer, kind)


def _ip(text: str) -> IPAddress:
    return ipaddress.ip_address(text.split("%")[0])


def fetch(url: str, policy: FetchPolicy | None = None) -> Fetched:
    """The body of an http(s) URL, or ValueError with a readable reason."""
    policy = policy or FetchPolicy()
    with _Watchdog(policy.deadline) as watchdog:
        try:
            backend = _GuardedBackend(policy.addresses, watchdog)
            with httpcore.ConnectionPool(
                ssl_context=httpx.create_ssl_context(), network_backend=backend, retries=0
            ) as pool:
                fetched = _follow(pool, url, policy, watchdog)
            if watchdog.fired:  # a shut-down socket reads as a clean end: the body is cut short
                raise TimeoutError
            return fetched
        except (httpcore.TimeoutException, TimeoutError):
            raise ValueError(f"took longer than {policy.deadline:g} s in all; refused") from None
        except (httpcore.ProtocolError, httpcore.NetworkError, OSError) as exc:
            if watchdog.fired:
                raise ValueError(f"took longer than {policy.deadline:g} s in all; refused") from None
            raise ValueError(f"cannot fetch: {type(exc).__name__}: {exc or 'connection failed'}") from None
        except httpcore.UnsupportedProtocol as exc:
            raise ValueError(f"cannot fetch: {exc}") from None


def _target(url: str) -> httpcore.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise ValueError(f"invalid URL: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError("only http and https URLs are fetched")
    return httpcore.URL(
        scheme=parsed.raw_scheme, host=parsed.raw_host, port=parsed.port, target=parsed.raw_path
    )


def _follow(pool: httpcore.ConnectionPool, url: str, policy: FetchPolicy, watchdog: _Watchdog) -> Fetched:
    for _hop in range(MAX_REDIRECTS + 1):
        left = watchdog.left()
        timeouts = {"connect": min(CONNECT_TIMEOUT, left), "read": left, "write": left, "pool": left}
        with pool.stream("GET", _target(url), headers=_HEADERS, extensions={"timeout": timeouts}) as response:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers}
            if response.status in _REDIRECTS and headers.get("location"):
                url = urljoin(url, headers["location"].strip())
                continue
            if response.status >= 300:
                reason = response.extensions.get("reason_phrase", b"").decode("latin-1", "replace")
                raise ValueError(f"HTTP {response.status} {reason}".strip())
            body = read_capped(response.iter_stream(), headers.get("content-encoding", ""), policy.max_bytes)
            return Fetched(url, body, headers.get("content-type", ""))
    raise ValueError(f"more than {MAX_REDIRECTS} redirects; refused")


def read_capped(chunks, content_encoding: str, max_bytes: int) -> bytes:
    """The decoded body, refused once it passes `max_bytes` (raw or decoded)."""
    layers = [
        c.strip().lower() for c in content_encoding.split(",") if c.strip().lower() not in ("", "identity")
    ]
    if len(layers) > 1:
        raise ValueError(f"content-encoding {content_encoding!r} has more than one layer; refused")
    if layers and layers[0] not in ("gzip", "x-gzip", "deflate"):
        raise ValueError(f"unsupported content-encoding {layers[0]!r}")
    decoder = _Decompressor(max_bytes) if layers else None
    parts: list[bytes] = []
    raw = decoded = 0
    for chunk in chunks:
        raw += len(chunk)
        part = decoder.feed(chunk) if decoder else chunk
        decoded += len(part)
        if raw > max_bytes or decoded > max_bytes:
            raise ValueError(f"larger than {max_bytes // (1024 * 1024)} MB; refused")
        parts.append(part)
    return b"".join(parts)


class _Decompressor:
    """gzip or zlib data (also several gzip members), never more than `room` + 1 bytes out."""

    def __init__(self, room: int):
        self.room = room
        self._inner = zlib.decompressobj(wbits=47)  # 32 + 15: a gzip or zlib header, detected

    def feed(self, data: bytes) -> bytes:
        out: list[bytes] = []
        try:
            while data and self.room >= 0:
                part = self._inner.decompress(data, self.room + 1)
                self.room -= len(part)
                out.append(part)
                data = self._next_member() if self._inner.eof else self._inner.unconsumed_tail
        except zlib.error as exc:
            raise ValueError(f"cannot decompress the body: {exc}") from None
        return b"".join(out)

    def _next_member(self) -> bytes:
        rest = self._inner.unused_data
        self._inner = zlib.decompressobj(wbits=47)
        return rest
