"""Whether a request's ``Host`` names this service: the rule of the API server's DNS-rebinding
defence (:mod:`airfoil.server._hosts`, which explains it), kept here, below both the server
and the model services (:mod:`airfoil.ml._serve`), so both apply the one rule.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable

from airfoil.core.errors import ConfigError

__all__ = ["checked_hosts", "host_allowed"]

#: What an allowed host may be: ``*``, a name or IPv4 address, optionally with a leading dot.
_NAME = re.compile(r"^\*$|^\.?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


def checked_hosts(hosts: Iterable[str]) -> tuple[str, ...]:
    """The allowed hosts, lowercased; a value that is no host name is refused.

    Raises:
        ConfigError: a value with a scheme, a port, a path or spaces, or empty.
    """
    out = []
    for host in hosts:
        name = host.strip().lower()
        if name.startswith("[") and name.endswith("]"):
            name = name[1:-1]
        try:
            ipaddress.ip_address(name)
        except ValueError:
            if not _NAME.match(name):
                raise ConfigError(
                    f"invalid allowed host {host!r}: give a host name as browsers send it in "
                    "Host (airfoil.example.com), an IP address, '.example.com' for it and its "
                    "subdomains, or '*' for any; no scheme, port or path "
                    "(--allowed-host, AIRFOIL_ALLOWED_HOSTS)"
                ) from None
        out.append(name)
    return tuple(out)


def _name_of(host: str) -> str:
    """The name or address of a ``Host`` header's value, without its port or brackets."""
    host = host.strip().lower()
    name, colon, port = host.rpartition(":")
    if not (colon and port.isdigit()) or (host.startswith("[") and not name.endswith("]")):
        name = host  # no port (an IPv6 address's last group is no port)
    if name.startswith("[") and name.endswith("]"):
        return name[1:-1]
    return name


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """Whether a request addressed to ``host`` (a ``Host`` header's value) is for this
    server: ``localhost``, an IP address, or one of ``allowed`` (see :func:`checked_hosts`).

    Pure, so cached: clients send the same few ``Host`` values, and parsing one cost 3 us a
    request. The cache holds 256 (host, allowed) pairs, of hosts no longer than a DNS name
    with a port and brackets (a longer one is checked each time, never kept): a client
    sending a new ``Host`` each time only makes it forget the oldest."""
    if len(host) > _CACHED_LENGTH:
        return _host_allowed(host, allowed)
    return _cached(host, allowed)


#: The longest ``Host`` value kept in the cache: a DNS name (253), a port and brackets.
_CACHED_LENGTH = 264


def _host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    name = _name_of(host)
    if name == "localhost":
        return True
    try:
        ipaddress.ip_address(name)
        return True  # an address: a rebinding page's Host is its DNS name, never one
    except ValueError:
        pass
    for entry in allowed:
        if entry == "*" or name == entry:
            return True
        if entry.startswith(".") and (name == entry[1:] or name.endswith(entry)):
            return True
    return False


_cached = functools.lru_cache(maxsize=256)(_host_allowed)
