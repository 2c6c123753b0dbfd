"""Who the client is: the socket's peer, or, behind a trusted proxy, the address it names.

The client address is the socket's peer, unless that peer is inside one of the trusted
proxies' networks (`GUICHET_TRUSTED_PROXIES`); then it is the right-most address of
X-Forwarded-For that is not itself trusted (the left-most entries are whatever the client
chose to send). IPv6 clients are counted per /64, the block one subscriber usually holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Any

Network = IPv4Network | IPv6Network


def trusted_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    return tuple(ip_network(cidr, strict=False) for cidr in cidrs)


def _address(text: str) -> Any:
    """An IP address from a peer or an X-Forwarded-For entry (a port or brackets allowed),
    IPv4-mapped IPv6 as IPv4; None when it is not one."""
    text = text.strip()
    if text.startswith("["):  # [2001:db8::1]:443
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # 203.0.113.5:1234
        text = text.partition(":")[0]
    try:
        address = ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _trusted(address: Any, trusted: tuple[Network, ...]) -> bool:
    return address is not None and any(address in network for network in trusted)


def client_ip(
    peer: str | None, forwarded_for: str | None, trusted: tuple[Network, ...]
) -> str | None:
    """The client's address: the socket peer, unless the peer is a trusted proxy; then the
    right-most X-Forwarded-For address that is not itself trusted (the left-most when all
    are). An entry that is not an address stops the walk at the last trusted hop: what
    stands left of it cannot be vouched for."""
    if peer is None:
        return None
    nearest = _address(peer)
    if not forwarded_for or not _trusted(nearest, trusted):
        return str(nearest) if nearest is not None else peer
    for entry in reversed(forwarded_for.split(",")):
        address = _address(entry)
        if address is None:
            break
        nearest = address
        if not _trusted(address, trusted):
            break
    return str(nearest)


def limit_key(ip: str | None) -> str:
    """What one client's limits are counted under: its address, or its /64 for IPv6."""
    address = _address(ip) if ip else None
    if address is None:
        return ip or "unknown"
    if address.version == 6:
        return str(ip_network(f"{address}/64", strict=False))
    return str(address)
