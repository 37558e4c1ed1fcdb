"""`--dns-server ADDRESS[:PORT]`: the one DNS server that replaces the system's resolver
configuration. Parsed here, without the driver, so settings can be checked before a run."""

from __future__ import annotations

import ipaddress

DEFAULT_DNS_PORT = 53


def parse_dns_server(text: str) -> tuple[str, int]:
    """Parse ``--dns-server ADDRESS[:PORT]``: ``127.0.0.1``, ``127.0.0.1:5353``,
    ``::1``, ``[::1]`` or ``[::1]:5353``; the port defaults to 53.

    The ValueError's message quotes the value but not the option name, which the caller
    prefixes (``--dns-server: '...': port '0' is not 1-65535``).
    """
    value = text.strip()
    port_text = ""
    if value.startswith("["):
        address, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"{text!r}: expected [IPv6] or [IPv6]:PORT")
        port_text = rest[1:] if rest else ""
        if rest and not port_text:
            raise ValueError(f"{text!r}: a port is missing after ':'")
    elif value.count(":") == 1:
        address, _, port_text = value.partition(":")
        if not port_text:
            raise ValueError(f"{text!r}: a port is missing after ':'")
    else:
        # No colon (IPv4) or several (a bare IPv6 address, which cannot carry a port).
        address = value
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        raise ValueError(
            f"{text!r}: {address!r} is not an IP address (a name would need a resolver "
            "to find the resolver)"
        ) from None
    port = DEFAULT_DNS_PORT
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"{text!r}: port {port_text!r} is not 1-65535")
        port = int(port_text)
    return str(parsed), port
