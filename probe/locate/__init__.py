"""RFC 3263 server location: a sans-I/O planner and its driver.

``LocatePlanner`` decides which NAPTR/SRV/A/AAAA query comes next and orders what comes
back (pure; no I/O, no clock); ``probe.locate.driver.locate()`` drives it over
``dns.asyncresolver``, and over the system's name service (getaddrinfo) for A/AAAA when no
DNS server is given. Importing this package loads no driver.
"""

from .dns_server import DEFAULT_DNS_PORT, parse_dns_server
from .order import NAPTR_SERVICES, srv_shares
from .plan import MAX_ADDRESS_NAMES, MAX_NAPTR_FOLLOWED, LocatePlanner
from .records import (
    AnswerSource,
    DnsAnswer,
    DnsErrorKind,
    DnsQuery,
    DnsRecord,
    LocatedTarget,
    LocateResult,
    NaptrRecord,
    RecordType,
    SrvRecord,
)
from .render import format_plan

__all__ = [
    "DEFAULT_DNS_PORT",
    "MAX_ADDRESS_NAMES",
    "MAX_NAPTR_FOLLOWED",
    "NAPTR_SERVICES",
    "AnswerSource",
    "DnsAnswer",
    "DnsErrorKind",
    "DnsQuery",
    "DnsRecord",
    "LocatePlanner",
    "LocateResult",
    "LocatedTarget",
    "NaptrRecord",
    "RecordType",
    "SrvRecord",
    "format_plan",
    "parse_dns_server",
    "srv_shares",
]
