"""The SSRF guard: hooks may not reach loopback, private, link-local, multicast, reserved or
cloud-metadata addresses unless the operator allows it.

Checked on the address actually connected to: a resolver drops every resolved address the
policy refuses (aiohttp connects only to what the resolver returns, so DNS rebinding gains
nothing), and IP literals — which bypass the resolver — are checked before the request.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: not covered by ``is_global`` on every Python version
_ALWAYS_BLOCKED = (
    ipaddress.ip_network("100.64.0.0/10"),
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fd00:ec2::254/128"),
    # site-local (deprecated, still routed inside some networks)
    ipaddress.ip_network("fec0::/10"),
    # local-use NAT64 (RFC 8215): a translator inside the operator's network, and the IPv4
    # address may sit at any of RFC 6052's offsets, so none can be checked
    ipaddress.ip_network("64:ff9b:1::/48"),
)


#: prefixes whose last 32 bits are an IPv4 address: the well-known NAT64 prefix, the
#: deprecated IPv4-compatible addresses (``::7f00:1``) and SIIT's IPv4-translated ones
#: (``::ffff:0:a.b.c.d``), which some stacks still route to the IPv4 address
_LAST_32_BITS_IPV4 = (
    ipaddress.ip_network("64:ff9b::/96"),
    ipaddress.ip_network("::/96"),
    ipaddress.ip_network("::ffff:0:0:0/96"),
)


class TargetBlocked(Exception):
    """A hook target refused by the SSRF guard (turned into a final failure outcome)."""


class TargetPolicy:
    def __init__(self, *, allow_private: bool, allowed_networks: Sequence[str] = ()) -> None:
        self.allow_private = allow_private
        self._allowed: tuple[Network, ...] = tuple(
            ipaddress.ip_network(n, strict=False) for n in allowed_networks
        )

    def permits(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if self.allow_private or any(address in net for net in self._allowed):
            return True
        if not _is_public(address):
            return False
        # an IPv6 address that carries an IPv4 one (6to4, Teredo, NAT64, IPv4-compatible or
        # -translated) reaches that one
        return all(_is_public(inner) for inner in _embedded_ipv4(address))

    def check_literal(self, host: str) -> None:
        """Raise TargetBlocked when ``host`` is an IP literal the policy refuses."""
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return
        if not self.permits(address):
            raise TargetBlocked(f"blocked address {address}")


def _is_public(address: IPAddress) -> bool:
    if any(address in net for net in _ALWAYS_BLOCKED if net.version == address.version):
        return False
    return address.is_global and not address.is_multicast


def _embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found = [address.sixtofour] if address.sixtofour is not None else []
    if address.teredo is not None:
        found.extend(address.teredo)
    if any(address in net for net in _LAST_32_BITS_IPV4):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


class GuardedResolver(AbstractResolver):
    """Resolves with the system resolver, then drops refused addresses."""

    def __init__(self, policy: TargetPolicy) -> None:
        self._policy = policy
        self._inner = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        allowed = [r for r in results if self._policy.permits(ipaddress.ip_address(r["host"]))]
        if not allowed:
            raise OSError(f"blocked address for {host}")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


def is_blocked_error(exc: BaseException) -> bool:
    """Whether an error (or the OS error it wraps, as aiohttp's connector errors do) is the
    resolver's refusal."""
    return "blocked address" in f"{exc} {getattr(exc, 'os_error', '')}"
