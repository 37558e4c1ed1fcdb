"""The rules a provider sets for the SBC sipprobe plays: its certificate (offered for
mutual TLS, kept in the run's evidence as `RunSettings.client_certificate`) and the
Contact it sends. Row by row, per probed target; `probe.scenario.profiles` turns the rows
into one trunk-wide finding per rule, with its source. Pure: no I/O.

- Teams Direct Routing ("Direct Routing – SIP protocol", MicrosoftDocs
  `Teams/direct-routing-protocols-sip.md`): the Contact of every OPTIONS and INVITE to the
  SIP proxy carries the SBC's FQDN, which must be in the Common Name or a Subject
  Alternative Name of the certificate it presents, RFC 2818 §3.1 wildcards allowed; a
  Contact with an IP address is refused with 403 Forbidden.
- Google Dialogflow CX telephony (cloud.google.com `.../sip-trunk/sbc-config`): wildcard
  certificates are not supported; the SBC enables mutual authentication.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509

from probe.evidence.model import ProbeEvidence
from probe.evidence.run import RunEvidence
from probe.verdict.findings import Status

__all__ = [
    "SbcCertificate",
    "contact_rows",
    "mutual_tls_rows",
    "sbc_certificate",
    "sent_contact",
    "wildcard_rows",
]

Rows = list[tuple[str, Status, str]]
"""(target, status, note) per probed target, or per run for the certificate itself."""


@dataclass(frozen=True, slots=True)
class SbcCertificate:
    """The names the SBC's certificate claims: its Common Name and SAN dNSNames."""

    common_name: str | None
    dns_names: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(
            dict.fromkeys([*self.dns_names, *([self.common_name] if self.common_name else [])])
        )

    @property
    def wildcards(self) -> tuple[str, ...]:
        return tuple(name for name in self.names if "*" in name)


def sbc_certificate(run: RunEvidence) -> SbcCertificate | str | None:
    """The certificate the run offered for mutual TLS; None when it offered none; a
    sentence when it is recorded but cannot be read."""
    der = run.settings.client_certificate
    if der is None:
        return None
    try:
        certificate = x509.load_der_x509_certificate(der)
        names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        common_name = str(names[0].value).lower() if names else None
        try:
            san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            dns_names = tuple(name.lower() for name in san.value.get_values_for_type(x509.DNSName))
        except x509.ExtensionNotFound:
            dns_names = ()
    except ValueError as exc:
        return f"the client certificate recorded with the run cannot be read: {exc}"
    return SbcCertificate(common_name, dns_names)


def _sent_requests(evidence: ProbeEvidence) -> list[bytes]:
    """The requests we sent to this target: OPTIONS, and the INVITE of a test call."""
    sent = [exchange.request for exchange in evidence.exchanges]
    if evidence.call is not None:
        sent += [
            event.data
            for event in evidence.call.events
            if event.direction == "sent" and event.data.startswith(b"INVITE ")
        ]
    return sent


_CONTACT_RE = re.compile(rb"^(?:contact|m)[ \t]*:[ \t]*(.*)$", re.IGNORECASE | re.MULTILINE)


def sent_contact(request: bytes) -> str | None:
    """The host of the first Contact value of a request as we sent it (Teams reads only
    the FQDN of the first value), or None without a Contact."""
    from probe.sip import SipError, parse_name_addr

    head = request.split(b"\r\n\r\n", 1)[0]
    match = _CONTACT_RE.search(head)
    if match is None:
        return None
    value = match.group(1).decode("utf-8", "replace").strip()
    first = _first_value(value)
    try:
        return parse_name_addr(first).uri.host.lower()
    except SipError:
        return first  # unparseable: named as it is, so the row says what was sent


def _first_value(value: str) -> str:
    """A Contact header field may list several values separated by commas outside
    angle brackets and quotes (RFC 3261 §20.10, §7.3.1)."""
    depth, quoted = 0, False
    for index, char in enumerate(value):
        if char == '"':
            quoted = not quoted
        elif not quoted and char == "<":
            depth += 1
        elif not quoted and char == ">":
            depth -= 1
        elif not quoted and depth == 0 and char == ",":
            return value[:index].strip()
    return value


def _is_ip(host: str) -> bool:
    from probe.tls.certinfo import ip_literal

    return ip_literal(host.strip("[]")) is not None


def covers(pattern: str, host: str) -> bool:
    """RFC 2818 §3.1, as Microsoft quotes it: a `*` matches any single domain name
    component or component fragment (`*.a.com` covers `foo.a.com`, not `bar.foo.a.com`;
    `f*.com` covers `foo.com`)."""
    pattern_labels, host_labels = pattern.lower().split("."), host.lower().split(".")
    if len(pattern_labels) != len(host_labels):
        return False
    for wanted, label in zip(pattern_labels, host_labels, strict=True):
        expression = ".*".join(re.escape(part) for part in wanted.split("*"))
        if not label or not re.fullmatch(expression, label):
            return False
    return True


def contact_rows(targets: Sequence[tuple[str, ProbeEvidence]], run: RunEvidence) -> Rows:
    """Teams: each target's Contact FQDN is covered by the SBC certificate's CN or SAN."""
    certificate = sbc_certificate(run)
    rows: Rows = []
    for label, evidence in targets:
        requests = _sent_requests(evidence)
        if not requests:
            continue  # nothing was sent: no Contact to judge
        hosts = [sent_contact(request) for request in requests]
        if any(host is None for host in hosts):
            rows.append((label, Status.FAIL, "a request without Contact (Teams requires one)"))
            continue
        for host in dict.fromkeys(h for h in hosts if h is not None):
            rows.append(_contact_row(label, host, certificate))
    return rows


def _contact_row(
    label: str, host: str, certificate: SbcCertificate | str | None
) -> tuple[str, Status, str]:
    if _is_ip(host):
        return (
            label,
            Status.FAIL,
            f"Contact host {host} is an IP address; Teams answers 403 (an FQDN is required)",
        )
    if certificate is None:
        return (
            label,
            Status.SKIP,
            f"Contact {host}: no client certificate was offered to match it against",
        )
    if isinstance(certificate, str):
        return (label, Status.SKIP, certificate)
    matched = next((name for name in certificate.names if covers(name, host)), None)
    if matched is None:
        shown = ", ".join(certificate.names) or "none"
        return (
            label,
            Status.FAIL,
            f"Contact FQDN {host} is in neither the CN nor a SAN of the SBC certificate ({shown})",
        )
    how = "" if matched == host else f" (by {matched})"
    return (label, Status.PASS, f"Contact {host} matches the SBC certificate{how}")


def wildcard_rows(run: RunEvidence) -> Rows:
    """Dialogflow CX: the SBC's certificate carries no wildcard name."""
    certificate = sbc_certificate(run)
    if certificate is None:
        return [("sbc certificate", Status.SKIP, "no client certificate was offered")]
    if isinstance(certificate, str):
        return [("sbc certificate", Status.SKIP, certificate)]
    if certificate.wildcards:
        return [
            (
                "sbc certificate",
                Status.FAIL,
                f"wildcard name {', '.join(certificate.wildcards)} (not supported)",
            )
        ]
    return [("sbc certificate", Status.PASS, ", ".join(certificate.names))]


def mutual_tls_rows(targets: Sequence[tuple[str, ProbeEvidence]]) -> Rows:
    """Dialogflow CX: each TLS target saw a client certificate (mutual authentication)."""
    rows: Rows = []
    for label, evidence in targets:
        tls = evidence.tls
        if tls is None:
            continue
        if not tls.client_cert_sent:
            rows.append((label, Status.FAIL, "no client certificate offered (tls.client_cert)"))
        elif not tls.ok:
            rows.append((label, Status.SKIP, "the TLS handshake did not complete"))
        elif tls.client_cert_requested is False:
            rows.append(
                (
                    label,
                    Status.WARN,
                    "a client certificate was ready, but the server never asked for it",
                )
            )
        else:
            rows.append((label, Status.PASS, ""))
    return rows
