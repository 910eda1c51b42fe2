"""Network addresses: whose request this is (behind TRUST_PROXY proxies too), the key a limit
counts it under, and whether an address is one of ours or the public internet's."""
from __future__ import annotations

import hashlib
import ipaddress

from flask import current_app, request

# One IPv6 customer gets a /64 (often a /56): counting each address alone would let one phone
# rotate through 2^64 of them.
IPV6_PREFIX = 64


def client_address() -> str:
    """The socket's peer, or, behind TRUST_PROXY proxies, the entry the nearest trusted proxy
    wrote into X-Forwarded-For (entries further left are the client's word)."""
    hops = current_app.extensions["settings"].trust_proxy
    forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",") if a.strip()]
    if hops and len(forwarded) >= hops:
        return forwarded[-hops]
    return request.remote_addr or "unknown"


def network_of(address: str) -> str:
    """What a limit counts: the address itself (IPv4), its /64 (IPv6), or the text as given."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return address[:100]
    ip = getattr(ip, "ipv4_mapped", None) or ip
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/{IPV6_PREFIX}", strict=False))
    return str(ip)


def limit_key(kind: str, address: str | None = None) -> str:
    """A counter's key for the client's network, hashed: the counter needs to tell networks apart,
    not to know them."""
    network = network_of(address if address is not None else client_address())
    return f"{kind}:" + hashlib.sha256(network.encode()).hexdigest()[:32]


def in_networks(address: str, networks) -> bool:
    """Whether `address` is in one of `networks` ("127.0.0.0/8", "::1", "10.1.2.3")."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    ip = getattr(ip, "ipv4_mapped", None) or ip
    for network in networks:
        try:
            if ip in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False


def is_public(address: str) -> bool:
    """A global unicast address: not loopback, private, link-local (cloud metadata, 169.254.169.254),
    shared (100.64/10), multicast, reserved or unspecified."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    ip = getattr(ip, "ipv4_mapped", None) or ip
    return ip.is_global and not ip.is_multicast
