"""Where a link found in feed content may be fetched (RELIABILITY A14, SPEC "Promises").

A comment feed's URL (`wfw:commentRss`, `rel="replies"`) is written by whoever writes the feed,
so it is not trusted the way a URL in feeds.yaml is. It is followed only

- to the parent feed's host, its posts' hosts, or a host in `comments.allow_hosts`; and
- never to a loopback, private, link-local, shared, reserved or metadata address, unless the
  parent feed itself lives at that very address and port, or the host is in `allow_hosts`.

The host rule is checked before a comment feed is created (`refusal`). The address rule is
checked again by the fetcher on every connection it opens for such a fetch, redirects included:
once on what DNS answers before connecting, and once on the connected peer's address, so a
name that resolves differently the second time (DNS rebinding) is still caught.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

Resolver = Callable[[str, int], list[str]]

# Not covered by is_private/is_loopback/is_link_local on every Python version.
_METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
                       ipaddress.ip_address("100.100.100.200")})
_SHARED = ipaddress.ip_network("100.64.0.0/10")


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (getaddrinfo); an IP literal resolves to itself."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in infos})


def is_loopback_host(host: str) -> bool:
    """A password sent to this machine never crosses a network (Go's net/smtp PlainAuth allows the same)."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_public(address: str) -> bool:
    """False for loopback, private (RFC 1918, ULA), link-local, shared, multicast, reserved, metadata."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip in _METADATA or (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED):
        return False
    return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
                or ip.is_reserved or ip.is_unspecified)


def _host(url: str | None) -> str:
    try:
        return (urlsplit(url or "").hostname or "").rstrip(".").lower()
    except ValueError:
        return ""


def _port(url: str) -> int:
    parts = urlsplit(url)
    try:
        explicit = parts.port
    except ValueError:
        explicit = None
    return explicit or (443 if parts.scheme == "https" else 80)


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def _allowed_name(host: str, names: Iterable[str]) -> bool:
    """An exact name, or a subdomain of an entry written with a leading dot (".example.com")."""
    for name in names:
        if host == name or (name.startswith(".") and host.endswith(name)):
            return True
    return False


def _local_parent_dir(parent_url: str) -> Path | None:
    """The folder of a feed read from a local file (the shipped sample), else None."""
    parts = urlsplit(parent_url)
    if parts.scheme in ("http", "https"):
        return None
    path = unquote(parts.path) if parts.scheme == "file" else parent_url
    return Path(os.path.abspath(path)).parent


def local_path(url: str) -> str | None:
    """The absolute path a file: URL or plain path names; None for http(s)."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        return None
    return os.path.abspath(unquote(parts.path) if parts.scheme == "file" else url)


def _file_refusal(url: str, folder: Path) -> str | None:
    """A local feed's comment files must sit in its own folder tree."""
    target = Path(os.path.abspath(unquote(urlsplit(url).path)))
    if target.resolve().is_relative_to(folder.resolve()):
        return None
    return f"{target} is outside the feed's folder {folder}"


@dataclass(frozen=True)
class LinkPolicy:
    """The rules for following links found in one parent feed."""

    parent_url: str
    post_hosts: frozenset[str] = frozenset()
    allow_hosts: frozenset[str] = frozenset()
    resolver: Resolver = field(default=resolve, compare=False, repr=False)

    @classmethod
    def for_feed(cls, parent_url: str, *, post_urls: Iterable[str | None] = (),
                 allow_hosts: Iterable[str] = (), resolver: Resolver = resolve) -> LinkPolicy:
        return cls(parent_url, frozenset(h for h in map(_host, post_urls) if h),
                   frozenset(h.rstrip(".").lower() for h in allow_hosts if h), resolver)

    def refusal(self, url: str) -> str | None:
        """Why `url` must not be followed from this feed's content, or None (no DNS is done here)."""
        parts = urlsplit(url)
        host = _host(url)
        folder = _local_parent_dir(self.parent_url)
        if parts.scheme == "file" and folder is not None:
            return _file_refusal(url, folder)
        if parts.scheme not in ("http", "https") or not host:
            return f"not an http(s) URL: {url!r}"
        if _allowed_name(host, self.allow_hosts):
            return None
        if host != _host(self.parent_url) and host not in self.post_hosts:
            return f"{host} is neither the feed's host nor its posts' host (comments.allow_hosts lists more)"
        literal = _literal(host)
        if literal is not None:
            return self.address_refusal(host, _port(url), literal)
        return None

    def address_refusal(self, host: str, port: int, address: str) -> str | None:
        """Why connecting to `address` for `host`:`port` is refused, or None."""
        if is_public(address) or _allowed_name(host.rstrip(".").lower(), self.allow_hosts):
            return None
        if (address, port) in self._parent_endpoints():
            return None
        return f"{host} is at a non-public address ({address}) where the feed itself is not"

    def resolved_refusal(self, host: str, port: int) -> str | None:
        """The address check on what DNS answers now, before connecting."""
        for address in self.resolver(host, port) or []:
            if (reason := self.address_refusal(host, port, address)) is not None:
                return reason
        return None

    def _parent_endpoints(self) -> set[tuple[str, int]]:
        host = _host(self.parent_url)
        if not host:
            return set()
        port = _port(self.parent_url)
        literal = _literal(host)
        addresses = [literal] if literal else self.resolver(host, port)
        return {(address, port) for address in addresses}
