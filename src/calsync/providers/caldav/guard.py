"""Which network addresses a user-entered CalDAV server may be at (server-side request forgery).

A user types the URL; the server connects. Without a check that turns calsync into a scanner of
its own network ("Connection refused" on 127.0.0.1:22) and a reader of cloud metadata
(169.254.169.254). The rule:

* link-local addresses (cloud metadata lives there), the other metadata addresses, multicast,
  unspecified and reserved ones: never;
* loopback and private (non-global) addresses: only with CALSYNC_ALLOW_PRIVATE_CALENDAR_HOSTS=true,
  for self-hosters whose calendar server is on their own network (and the tests' local servers).

The check runs where the socket is opened (an httpcore network backend), on the addresses the host
name resolves to, and the connection goes to the address that was checked: a redirect to another
host is checked like the first request, and DNS cannot answer differently between check and use.
The built-in calendar (/dav/ of this app) is connected without this path."""

from __future__ import annotations

import ipaddress
import socket
import typing

import httpcore
import httpx

from calsync.config import Settings
from calsync.providers import tls

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
METADATA = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack, DigitalOcean, ...
    ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    ipaddress.ip_address("192.0.0.192"),  # Oracle Cloud
}
REFUSED = (
    "calsync does not connect to this address: it is on a private, loopback or link-local network "
    "(an administrator whose calendar server is on the local network can allow private addresses "
    "with CALSYNC_ALLOW_PRIVATE_CALENDAR_HOSTS=true)"
)


class AddressRefused(httpcore.ConnectError):
    """The host resolves to an address calendar connections may not reach."""


def private_hosts_allowed() -> bool:
    """Read at each connection, so the setting applies without a restart of the job runner."""
    return Settings().allow_private_calendar_hosts


def refused(address: IpAddress, allow_private: bool) -> bool:
    """True when a calendar connection must not go to `address`."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if (address in METADATA or address.is_link_local or address.is_multicast or address.is_unspecified
            or address.is_reserved):
        return True
    if not address.is_global:  # loopback, RFC 1918, unique-local, shared (CGNAT), documentation ...
        return not allow_private
    return False


def vetted_addresses(host: str, port: int, allow_private: bool) -> list[str]:
    """The addresses `host` resolves to, all of them allowed, or AddressRefused."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise httpcore.ConnectError("the host name does not resolve") from exc
    addresses: list[str] = []
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]
        if refused(ipaddress.ip_address(text), allow_private):
            raise AddressRefused(REFUSED)
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise httpcore.ConnectError("the host name does not resolve")
    return addresses


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's own backend, connecting only to vetted addresses."""

    def __init__(self, allow_private: bool | None = None) -> None:
        self._inner = httpcore.SyncBackend()
        self._allow_private = allow_private

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: typing.Iterable[typing.Any] | None = None) -> httpcore.NetworkStream:
        allow = private_hosts_allowed() if self._allow_private is None else self._allow_private
        last: Exception | None = None
        for address in vetted_addresses(host, port, allow):
            try:
                return self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last = exc
        assert last is not None
        raise last

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: typing.Iterable[typing.Any] | None = None) -> httpcore.NetworkStream:
        raise AddressRefused("calendar connections use TCP only")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def guarded_transport(allow_private: bool | None = None) -> httpx.HTTPTransport:
    """An httpx transport whose every connection (first request and each redirect) is vetted.
    httpx offers no public hook for the network backend, so the pool's is replaced."""
    transport = httpx.HTTPTransport(verify=tls.client_context())
    pool = transport._pool  # noqa: SLF001
    assert hasattr(pool, "_network_backend"), "httpcore changed: the address check cannot be installed"
    pool._network_backend = GuardedBackend(allow_private)  # noqa: SLF001
    return transport
