"""Name resolution within a deadline: getaddrinfo has no timeout of its own."""

from __future__ import annotations

import ipaddress
import queue
import socket
import threading

from digest.netpolicy import IPAddress


def resolve(host: str, port: int, seconds: float) -> list[IPAddress]:
    """The addresses of `host` in getaddrinfo's order; ValueError when unknown or too slow to say."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    answers: queue.Queue = queue.Queue(maxsize=1)

    def lookup() -> None:
        try:
            answers.put(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            answers.put(exc)

    # A daemon thread: a lookup that never returns is abandoned, not waited for.
    threading.Thread(target=lookup, daemon=True).start()
    try:
        found = answers.get(timeout=seconds)
    except queue.Empty:
        raise TimeoutError from None
    if isinstance(found, OSError):
        raise ValueError(f"cannot resolve {host}: {found.strerror or found}")
    unique: dict[IPAddress, None] = {}
    for *_, sockaddr in found:
        unique[ipaddress.ip_address(str(sockaddr[0]).split("%")[0])] = None
    return list(unique)
