"""A scenario's `[inbound]` table: the calls the trunk places to us, as the run's settings.

`[inbound]` becomes `Settings.inbound` and `[inbound.stir]` `Settings.stir` (its presence
asks for the Identity of every call to be verified). The table is held to the rules every
other way of building those settings is held to (probe.inbound_settings), each problem
reported at the key it is about, but one: our certificate for a TLS listener may be left
out of a shared scenario (a built-in above all) and given at run time, `--listen-cert`;
the run then checks it with the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from probe.inbound_settings import inbound_problems
from probe.settings import InboundSettings, Settings, StirSettings

if TYPE_CHECKING:
    from probe.scenario.model import Inbound, Located

SCENARIO_KEYS: dict[str, tuple[str, ...]] = {
    "listen": ("inbound", "listen"),
    "listen_cert": ("inbound", "cert"),
    "listen_key": ("inbound", "key"),
    "peer_ca": ("inbound", "peer_ca"),
    "expect_peer": ("inbound", "expect_peer"),
    "require_client_cert": ("inbound", "require_client_cert"),
    "require_srtp": ("inbound", "require_srtp"),
    "require_tls": ("inbound", "require_tls"),
    "expect": ("inbound", "expect"),
    "within": ("inbound", "within"),
    "hold": ("inbound", "hold"),
    "verify_media": ("inbound", "verify_media"),
    "verify_identity": ("inbound", "stir"),
    "sti_trust": ("inbound", "stir", "trust"),
    "sti_cert_dir": ("inbound", "stir", "cert_dir"),
    "sti_fetch_ca": ("inbound", "stir", "fetch_ca"),
    "sti_fetch_timeout": ("inbound", "stir", "fetch_timeout"),
    "sti_freshness": ("inbound", "stir", "freshness"),
    "sti_required": ("inbound", "stir", "required"),
    "sti_min_attest": ("inbound", "stir", "min_attest"),
}
"""Where each inbound and STIR setting (by its flat name) lives in a scenario file."""


def _path(value: str | None) -> Path | None:
    return None if value is None else Path(value)


def inbound_settings(inbound: Inbound) -> tuple[InboundSettings, StirSettings | None]:
    """`[inbound]` as `Settings.inbound`, `[inbound.stir]` as `Settings.stir` (None
    without it)."""
    settings = InboundSettings(
        listen=tuple(inbound.listen),
        listen_cert=_path(inbound.cert),
        listen_key=_path(inbound.key),
        peer_ca=_path(inbound.peer_ca),
        expect_peer=tuple(inbound.expect_peer),
        require_client_cert=inbound.require_client_cert,
        require_srtp=inbound.require_srtp,
        require_tls=inbound.require_tls,
        expect=inbound.expect,
        within=inbound.within,
        hold=inbound.hold,
        verify_media=inbound.verify_media,
        verify_identity=inbound.stir is not None,
    )
    stir = inbound.stir
    if stir is None:
        return settings, None
    return settings, StirSettings(
        sti_trust=Path(stir.trust),
        sti_cert_dir=_path(stir.cert_dir),
        sti_fetch_ca=_path(stir.fetch_ca),
        sti_fetch_timeout=stir.fetch_timeout,
        sti_freshness=stir.freshness,
        sti_required=stir.required,
        sti_min_attest=stir.min_attest,
    )


def inbound_rules(inbound: Inbound) -> list[Located]:
    """The problems of an `[inbound]` table whose fields are each valid, located relative
    to the table (`("listen", 1)`, `("stir", "trust")`)."""
    section, stir = inbound_settings(inbound)
    problems: list[Located] = []
    for problem in inbound_problems(Settings(inbound=section, stir=stir)):
        if problem.setting == "listen_cert" and inbound.cert is None:
            continue  # may come from the command line (--listen-cert)
        key: tuple[str | int, ...] = SCENARIO_KEYS[problem.setting][1:]
        if problem.position is not None:
            key = (*key, problem.position)
        problems.append((key, problem.message, problem.value))
    return problems
