"""What is sent and how targets are reached, beyond the defaults: the checks behind
`--header`, `--from`, `--contact`, `--user-agent`, `--ws-path`, `--source`, `-4`/`-6`,
`--keepalive` and `--trace`, made once before any packet (a usage error otherwise), and
the probe settings they become (probe.net.options.ProbeSettings fields)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, cast

from probe.locate.plan import AddressFamily, family_of
from probe.settings import Settings
from probe.sip import SipError, SipUri
from probe.sip.uri import redact_uri_text

if TYPE_CHECKING:
    from probe.net.trace import Trace

__all__ = ["check_literal_families", "sending_notes", "sending_settings"]

UsageError = Callable[[str], NoReturn]

_FAMILY_WORDS: dict[str, str] = {"ipv4": "IPv4", "ipv6": "IPv6"}
DEFAULT_WS_PATH = "/"
"""The upgrade's resource when none is given (RFC 6455 §3), valid as it is."""


def sending_settings(settings: Settings, usage: UsageError) -> dict[str, Any]:
    """The ProbeSettings fields of these options, each checked."""
    if settings.sip.ws_path != DEFAULT_WS_PATH:
        # Only a path given is checked: the WebSocket code (and wsproto) stays unloaded
        # by a run that does not ask for it.
        from probe.net.websocket import resource_problem

        if (problem := resource_problem(settings.sip.ws_path)) is not None:
            usage(f"--ws-path {problem}")
    family, source = _source_and_family(settings, usage)
    return {
        "keepalive": settings.sip.keepalive,
        "ws_path": settings.sip.ws_path,
        "family": family,
        "source": source,
        "trace": _trace(settings),
        **_additions(settings, usage),
    }


def sending_notes(settings: Settings) -> list[str]:
    """What the report says about how targets were reached."""
    if settings.locate.source is not None:
        return [f"every connection bound to --source {settings.locate.source}"]
    if settings.locate.family is not None:
        return [f"{_FAMILY_WORDS.get(settings.locate.family)} addresses only"]
    return []


def check_literal_families(
    uris: Sequence[tuple[str, SipUri]], family: AddressFamily | None, usage: UsageError
) -> None:
    """An IP literal target of the other family than `-4`/`-6` (or `--source`) asks for
    could never be reached: refused before any packet."""
    for text, uri in uris:
        if family is None or uri.host_kind == "name" or uri.param("maddr") is not None:
            continue
        found = family_of(uri.host)
        if found != family:
            usage(
                f"target {redact_uri_text(text)!r}: an {_FAMILY_WORDS[found]} literal, but only "
                f"{_FAMILY_WORDS[family]} is asked for (-{family[-1]}, or a --source of it)"
            )


def _trace(settings: Settings) -> Trace | None:
    """`--trace`: the run's own trace, on stderr beside the progress display."""
    if not settings.run.trace:
        return None
    from probe.net.trace import Trace
    from probe.run.progress import show_on_stderr

    return Trace(show_on_stderr)


def _source_and_family(
    settings: Settings, usage: UsageError
) -> tuple[AddressFamily | None, tuple[str, int] | None]:
    """`-4`/`-6` and `--source`, checked together: a source address implies its family,
    and must be an address of this machine (bound once here, before any packet)."""
    from probe.net.connect import SourceBindError, bound_socket, parse_source

    if settings.locate.family not in (None, "ipv4", "ipv6"):
        usage(f"address family {settings.locate.family!r}: ipv4 (-4) or ipv6 (-6)")
    family = cast(AddressFamily | None, settings.locate.family)
    text = settings.locate.source
    if text is None:
        return family, None
    try:
        source = parse_source(text)
    except ValueError as exc:
        usage(f"--source {exc}")
    implied = family_of(source[0])
    if family is not None and family != implied:
        flag = "-4" if family == "ipv4" else "-6"
        usage(f"--source {text}: an {_FAMILY_WORDS[implied]} address, but {flag} was given")
    try:
        # Port 0 here: a fixed port may be taken for a moment by another program, which is
        # the run's finding, not a usage error; an address this machine lacks is.
        bound_socket((source[0], 0), socket.SOCK_STREAM).close()
    except SourceBindError as exc:
        usage(f"--source {text}: {exc.strerror}")
    return implied, source


def _additions(settings: Settings, usage: UsageError) -> dict[str, Any]:
    """`--header`, `--from`, `--contact` and `--user-agent`, checked."""
    from probe.sip.additions import check_text_value, parse_added_header, parse_added_uri

    sip = settings.sip
    additions: dict[str, Any] = {}
    try:
        additions["extra_headers"] = tuple(parse_added_header(text) for text in sip.headers)
        if sip.from_ is not None:
            additions["from_uri"] = parse_added_uri("--from", sip.from_)
        if sip.contact is not None:
            additions["contact_uri"] = parse_added_uri("--contact", sip.contact)
        if sip.user_agent is not None:
            if not sip.user_agent.strip():
                usage("--user-agent: empty (RFC 3261 §20.41: at least one product)")
            check_text_value("--user-agent", sip.user_agent)
            additions["user_agent"] = sip.user_agent
    except SipError as exc:
        usage(str(exc))
    return additions
