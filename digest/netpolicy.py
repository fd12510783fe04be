"""Which network addresses `ingest` may fetch from: public ones, unless the organizer opens more;
and the two settings that say so (declared here, listed in config.py's Settings).

A feed URL (or a redirect) that leads to loopback, a private network or a cloud metadata service would
let whoever controls a feed read internal services into a digest and on to every subscriber.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud instance metadata (AWS, GCP, Azure, OpenStack; AWS over IPv6; Alibaba): refused even when
# private addresses are allowed, since no feed lives there and its credentials must never leak.
_METADATA = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("fd00:ec2::254"),
    ipaddress.ip_address("100.100.100.200"),
}


@dataclass(frozen=True)
class AddressPolicy:
    """`allow_private`: any address but metadata; `networks`: these ranges only, on top of public ones."""

    allow_private: bool = False
    networks: tuple[IPNetwork, ...] = ()


class BlockedAddress(ValueError):
    """A connection refused because of where it leads."""

    def __init__(self, host: str, address: IPAddress, kind: str):
        self.address = _unmapped(address)
        named = f"{self.address} is" if _is_literal(host) else f"{host} resolves to {self.address},"
        super().__init__(
            f"refused: {named} {kind} (DIGEST_FETCH_ALLOW_PRIVATE lets ingest fetch from such addresses)"
        )


def _unmapped(address: IPAddress) -> IPAddress:
    """::ffff:127.0.0.1 is 127.0.0.1."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def kind_of(address: IPAddress) -> str | None:
    """What makes an address non-public ("a loopback address", ...), or None for a public one."""
    address = _unmapped(address)
    if address in _METADATA:
        return "a cloud metadata address"
    for test, kind in (
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_private, "a private address"),
        (address.is_multicast, "a multicast address"),
        (not address.is_global, "a non-public address"),
    ):
        if test:
            return kind
    return None


def refusal(address: IPAddress, policy: AddressPolicy) -> str | None:
    """Why `policy` refuses a connection to `address`, or None when it may go ahead."""
    address = _unmapped(address)
    kind = kind_of(address)
    if kind is None or kind == "a cloud metadata address":
        return kind
    if policy.allow_private or any(address in network for network in policy.networks):
        return None
    return kind


def parse_policy(value: str) -> AddressPolicy:
    """DIGEST_FETCH_ALLOW_PRIVATE: true/false, or comma-separated addresses and networks to allow."""
    word = value.strip().lower()
    if word in ("", "false", "no", "0", "off"):
        return AddressPolicy()
    if word in ("true", "yes", "1", "on"):
        return AddressPolicy(allow_private=True)
    try:
        networks = tuple(ipaddress.ip_network(part.strip(), strict=False) for part in word.split(","))
    except ValueError:
        raise ValueError(
            f"expected true, false or a list of networks (10.0.0.0/8,...), got {value!r}"
        ) from None
    return AddressPolicy(networks=networks)


def fetch_seconds(value: str) -> float:
    """DIGEST_FETCH_TIMEOUT: a number of seconds, at least 1."""
    try:
        seconds = float(value.strip())
    except ValueError:
        raise ValueError(f"expected a number, got {value!r}") from None
    if seconds < 1:
        raise ValueError(f"must be at least 1, got {seconds:g}")
    return seconds


# (key, default, parser, doc) of the Settings fields `fetch_addresses` and `fetch_timeout`.
ALLOW_PRIVATE = (
    "DIGEST_FETCH_ALLOW_PRIVATE",
    "false",
    parse_policy,
    "Let `ingest` fetch URLs on loopback, private and link-local addresses: true, false, or "
    "comma-separated networks to allow (e.g. 10.1.2.0/24); cloud metadata addresses never",
)
FETCH_TIMEOUT = (
    "DIGEST_FETCH_TIMEOUT",
    "20",
    fetch_seconds,
    "Seconds one fetch of a URL by `ingest` may take in all (DNS, connect, redirects, body)",
)
