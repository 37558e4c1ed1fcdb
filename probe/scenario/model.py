"""The scenario file model: one trunk, its endpoints, and how to probe them (TOML, pydantic v2).

Every section forbids unknown keys, so a typo is an error rather than a silently ignored
setting. Values are validated strictly (a string is not a number), each field with the
limit the protocol or the command line gives it; rules that involve several fields or a
provider's documented limits live in `probe.scenario.rules` and run once the fields are
valid, each reported at its own key.

Relative paths (`tls.trust`, `tls.client_cert`, `tls.client_key`, `invite.credentials`,
`inbound.cert`, `inbound.key`, `inbound.peer_ca`, the paths of `inbound.stir`) resolve
against the scenario file's folder, passed as validation context `base_dir`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from probe.settings import DEFAULT_LISTEN
from probe.sip import SipError, SipUri, parse_uri

if TYPE_CHECKING:
    from probe.scenario.requests import ScenarioRequests

Provider = Literal["twilio", "teams", "chime", "dialogflow", "ibm-voice-agent", "generic"]
OrderModeName = Literal["list", "priority", "fixed", "srv"]
TlsVersionName = Literal["1.0", "1.1", "1.2", "1.3"]
Role = Literal["primary", "secondary", "backup"]
OfferName = Literal["sdes", "dtls", "rtp"]
HangupName = Literal["on-answer", "on-early-media", "immediately"]
Text = Annotated[str, StringConstraints(min_length=1)]

# RFC 2782 and the providers' APIs carry priority and weight as 16-bit unsigned integers.
U16 = Annotated[int, Field(ge=0, le=65535)]

TRUST_STORES = ("system", "mozilla")
ENV_CREDENTIALS = "env"
PLACEHOLDER_DOMAIN = ".invalid"
"""RFC 6761 §6.4: `.invalid` never resolves, so a URI under it can only be a placeholder."""


def _error(kind: str, message: str) -> PydanticCustomError:
    # The message goes through the context so that braces in it are never a template.
    return PydanticCustomError(kind, "{message}", {"message": message})


def resolve_path(value: str, info: ValidationInfo) -> str:
    """A path relative to the scenario file's folder (validation context `base_dir`)."""
    path = Path(value).expanduser()
    base = info.context.get("base_dir") if isinstance(info.context, dict) else None
    if not path.is_absolute() and isinstance(base, Path):
        path = base / path
    return str(path)


def parse_sip_uri(value: str, *, what: str) -> SipUri:
    """Parse with the project's strict RFC 3261 codec; refuse an inline password."""
    try:
        uri = parse_uri(value)
    except SipError as exc:
        raise _error("sip_uri", f"not a SIP URI: {exc}") from None
    if uri.password is not None:
        raise _error(
            "secret_inline",
            f"the {what} carries a password (user:password@): secrets never go in a "
            "scenario file (see invite.credentials)",
        )
    return uri


def _check_pin(value: str) -> str:
    from probe.locate.pins import PinError, parse_pin

    try:
        parse_pin(value)
    except PinError as exc:
        raise _error("pin", str(exc).removeprefix("--resolve ")) from None
    return value


def _check_suite(value: str) -> str:
    from probe.sdp.crypto import SUITE_KEY_BYTES

    if value not in SUITE_KEY_BYTES:
        raise _error(
            "srtp_suite",
            f"unknown SRTP suite (RFC 4568 §6.2, RFC 6188, RFC 7714: {', '.join(SUITE_KEY_BYTES)})",
        )
    return value


Pin = Annotated[str, AfterValidator(_check_pin)]
"""`NAME:PORT:ADDRESS`, as `--resolve`."""
SrtpSuite = Annotated[str, AfterValidator(_check_suite)]


class _Section(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, populate_by_name=True, str_strip_whitespace=True
    )


class Trunk(_Section):
    name: Text
    provider: Provider = "generic"
    description: Text | None = None
    retired: Text | None = None
    """A sentence; when set, every run reports it (the IBM Voice Agent built-ins)."""


class Order(_Section):
    mode: OrderModeName | None = None
    """Unset: `fixed` for Teams, `priority` when endpoints have priorities, else `list`."""


class Endpoint(_Section):
    uri: Text
    region: Text | None = None
    role: Role | None = None
    priority: U16 | None = None
    weight: U16 | None = None

    @field_validator("uri")
    @classmethod
    def _check_uri(cls, value: str) -> str:
        uri = parse_sip_uri(value, what="endpoint URI")
        # What the prober can reach (RFC 3263 §4.1; RFC 3261 §26.2.2: sips means TLS;
        # RFC 7118: WebSocket, ws and the common wss spelling).
        if uri.transport not in (None, "tls", "tcp", "udp", "ws", "wss"):
            raise _error("transport", f"transport={uri.transport} is not tls, tcp, udp, ws or wss")
        if uri.scheme == "sips" and uri.transport == "udp":
            raise _error("transport", "a sips: URI needs TLS (RFC 3261 §26.2), not UDP")
        return value

    @property
    def sip_uri(self) -> SipUri:
        return parse_uri(self.uri)

    def named(self, name: str) -> bool:
        """Whether `name` designates this endpoint: its region, its URI or its host."""
        return name in (self.region, self.uri) or name.lower() == self.sip_uri.host


class Tls(_Section):
    trust: Text = "system"
    """`system`, `mozilla` (certifi), or a PEM file or directory."""
    min_version: TlsVersionName = "1.2"
    warn_days: int = Field(default=30, ge=0)
    critical_days: int = Field(default=7, ge=0)
    sni: Text | None = None
    client_cert: Text | None = None
    client_key: Text | None = None
    accept_wildcard: bool = False
    accept_srv_target_identity: bool = False
    enumerate: bool = False

    @field_validator("min_version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        # `min_version = 1.2` (a TOML float) is a common slip for the string "1.2".
        if isinstance(value, float) and f"{value:.1f}" in ("1.0", "1.1", "1.2", "1.3"):
            return f"{value:.1f}"
        return value

    @field_validator("trust")
    @classmethod
    def _trust_path(cls, value: str, info: ValidationInfo) -> str:
        return value if value in TRUST_STORES else resolve_path(value, info)

    @field_validator("client_cert", "client_key")
    @classmethod
    def _client_paths(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else resolve_path(value, info)

    @model_validator(mode="after")
    def _pairs(self) -> Tls:
        problems: list[tuple[str, str, object]] = []
        if self.critical_days > self.warn_days:
            problems.append(
                (
                    "critical_days",
                    f"critical_days ({self.critical_days}) must not exceed warn_days "
                    f"({self.warn_days}): a certificate warns first, then fails",
                    self.critical_days,
                )
            )
        # One TLS client identity is a certificate and its key (RFC 8446 §4.4.2);
        # when the key is inside the PEM, name that file twice.
        if (self.client_cert is None) != (self.client_key is None):
            given, missing = (
                ("client_cert", "client_key")
                if self.client_cert is not None
                else ("client_key", "client_cert")
            )
            problems.append(
                (
                    missing,
                    f"{given} needs {missing}: a client identity is a certificate and its "
                    "key (name the same file twice when the PEM holds both)",
                    None,
                )
            )
        raise_problems("Tls", [((key,), message, value) for key, message, value in problems])
        return self


class Options(_Section):
    accept: Text = "2xx"
    max_rtt_ms: float | None = Field(default=None, gt=0)
    count: int = Field(default=1, ge=1)
    interval: float = Field(default=1.0, ge=0)

    @field_validator("accept")
    @classmethod
    def _accept(cls, value: str) -> str:
        from probe.verdict.checks.options import AcceptError, parse_accept

        try:
            parse_accept(value)
        except AcceptError as exc:
            raise _error("accept", str(exc).removeprefix("--accept: ")) from None
        return value


class Invite(_Section):
    to: Text
    from_: Text | None = Field(default=None, alias="from")
    offer: OfferName = "sdes"
    suites: list[SrtpSuite] = Field(default_factory=list)
    hangup: HangupName = "on-answer"
    credentials: Text = ENV_CREDENTIALS
    """`env` (SIPPROBE_AUTH_USER / SIPPROBE_AUTH_PASSWORD) or an auth file's path."""
    via: Text | None = None
    answer_timeout: float = Field(default=30.0, ge=0.1)
    verify_media: bool = False

    @field_validator("to", "from_")
    @classmethod
    def _uri(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            parse_sip_uri(value, what=f"invite.{'from' if info.field_name == 'from_' else 'to'}")
        return value

    @field_validator("suites")
    @classmethod
    def _suites(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise _error("srtp_suite", "a suite is listed twice")
        return value

    @field_validator("credentials")
    @classmethod
    def _credentials(cls, value: str, info: ValidationInfo) -> str:
        return value if value == ENV_CREDENTIALS else resolve_path(value, info)

    @model_validator(mode="after")
    def _offer(self) -> Invite:
        if self.suites and self.offer != "sdes":
            raise_problems(
                "Invite",
                [(("suites",), f"suites choose SDES keys (RFC 4568); offer is {self.offer}", [])],
            )
        return self

    @property
    def is_placeholder(self) -> bool:
        return parse_uri(self.to).host.endswith(PLACEHOLDER_DOMAIN)


class Failover(_Section):
    primary: Text | None = None
    """The intended primary: an endpoint's region, URI or host."""
    require_failover_path: bool = True


class Run(_Section):
    timeout: float = Field(default=5.0, ge=0.05)
    concurrency: int = Field(default=50, ge=1)
    dns_server: Text | None = None
    seed: int | None = None
    resolve: list[Pin] = Field(default_factory=list)
    """Pins, as `--resolve NAME:PORT:ADDRESS`."""

    @field_validator("dns_server")
    @classmethod
    def _dns_server(cls, value: str | None) -> str | None:
        if value is not None:
            from probe.locate import parse_dns_server

            try:
                parse_dns_server(value)
            except ValueError as exc:
                raise _error("dns_server", str(exc)) from None
        return value


def _check_listen(value: str) -> str:
    from probe.inbound_settings import ListenSpecError, parse_listen

    try:
        parse_listen(value)
    except ListenSpecError as exc:
        raise _error("listen", str(exc)) from None
    return value


Listen = Annotated[str, AfterValidator(_check_listen)]
"""`TRANSPORT:ADDRESS[:PORT]`, as `--listen`."""
Seconds = Annotated[float, Field(allow_inf_nan=False)]


class InboundStir(_Section):
    """`[inbound.stir]`: verify each received INVITE's Identity (STIR/SHAKEN)."""

    trust: Text
    """The STI-CA trust list (PEM file or directory), as `--sti-trust`."""
    cert_dir: Text | None = None
    fetch_ca: Text | None = None
    fetch_timeout: Seconds = Field(default=2.0, gt=0)
    freshness: int = Field(default=60, ge=1)
    required: bool = True
    min_attest: Literal["A", "B", "C"] | None = None

    @field_validator("trust", "cert_dir", "fetch_ca")
    @classmethod
    def _paths(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else resolve_path(value, info)


class Inbound(_Section):
    """`[inbound]`: the calls the trunk places to us (`sipprobe answer`), and what each
    must prove; `[inbound.stir]` verifies their Identity too."""

    listen: list[Listen] = Field(default_factory=lambda: [DEFAULT_LISTEN], min_length=1)
    cert: Text | None = None
    """Our certificate chain for the TLS listeners; may be left to `--listen-cert`."""
    key: Text | None = None
    peer_ca: Text | None = None
    expect_peer: list[Text] = Field(default_factory=list)
    require_client_cert: bool = False
    require_srtp: bool = True
    require_tls: bool = True
    expect: int = Field(default=1, ge=1)
    within: Seconds = Field(default=60.0, gt=0)
    hold: Seconds = Field(default=2.0, ge=0)
    verify_media: bool = False
    stir: InboundStir | None = None

    @field_validator("cert", "key", "peer_ca")
    @classmethod
    def _paths(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else resolve_path(value, info)

    @model_validator(mode="after")
    def _rules(self) -> Inbound:
        from probe.scenario.inbound import inbound_rules

        raise_problems("Inbound", inbound_rules(self))
        return self


class Scenario(_Section):
    """One trunk to verify: `[trunk]`, `[order]`, `[[endpoint]]`, `[tls]`, `[options]`,
    `[invite]`, `[failover]`, `[run]`, and the calls it places to us, `[inbound]`."""

    trunk: Trunk
    order: Order = Field(default_factory=Order)
    endpoints: list[Endpoint] = Field(alias="endpoint", min_length=1)
    tls: Tls = Field(default_factory=Tls)
    options: Options = Field(default_factory=Options)
    invite: Invite | None = None
    failover: Failover = Field(default_factory=Failover)
    run: Run = Field(default_factory=Run)
    inbound: Inbound | None = None

    _source: str = PrivateAttr(default="<scenario>")

    @property
    def source(self) -> str:
        """Where it was loaded from: a file path or `builtin:NAME`."""
        return self._source

    @model_validator(mode="after")
    def _rules(self) -> Scenario:
        from probe.scenario.rules import check_rules

        raise_problems("Scenario", check_rules(self))
        return self

    @property
    def order_mode(self) -> OrderModeName:
        if self.order.mode is not None:
            return self.order.mode
        if self.trunk.provider == "teams":
            return "fixed"  # Teams: sip → sip2 → sip3 (direct-routing-plan.md)
        if any(endpoint.priority is not None for endpoint in self.endpoints):
            return "priority"
        return "list"

    def find(self, name: str) -> list[int]:
        """Positions of the endpoints `name` designates (region, URI or host)."""
        return [i for i, endpoint in enumerate(self.endpoints) if endpoint.named(name)]

    def provider_order(self) -> list[int]:
        """Endpoint positions in the order the provider tries them (SRV: as listed)."""
        from probe.evidence.run import Endpoint as OrderEndpoint
        from probe.evidence.run import OrderMode
        from probe.verdict.checks.failover import provider_order

        mode: OrderMode = "priority" if self.order_mode == "priority" else "list"
        entries = [
            OrderEndpoint(e.uri, e.sip_uri.host, i, e.priority, e.weight)
            for i, e in enumerate(self.endpoints)
        ]
        return [entry.position for entry in provider_order(entries, mode)]

    @property
    def intended_primary(self) -> int | None:
        """`failover.primary` (first in provider order among those it names), else the
        first endpoint with `role = "primary"`; None when neither says."""
        if self.failover.primary is not None:
            named = set(self.find(self.failover.primary))
            return next((i for i in self.provider_order() if i in named), None)
        return next((i for i, e in enumerate(self.endpoints) if e.role == "primary"), None)

    @property
    def invite_endpoint(self) -> int | None:
        """The endpoint the test call goes through: `invite.via`, else the first in
        provider order; None without `[invite]`."""
        if self.invite is None:
            return None
        order = self.provider_order()
        if self.invite.via is not None:
            named = set(self.find(self.invite.via))
            return next((i for i in order if i in named), None)
        return order[0]

    def with_invite_to(self, to: str) -> Scenario:
        """A copy whose test call goes to `to` (for a built-in's placeholder destination)."""
        if self.invite is None:
            raise ValueError(f"{self.source} has no [invite] section")
        data = self.model_dump(by_alias=True, exclude_none=True)
        data["invite"]["to"] = to
        copy = Scenario.model_validate(data)
        copy._source = self._source
        return copy

    def to_requests(self) -> ScenarioRequests:
        """The requests the runner executes: OPTIONS, failover, and the test call."""
        from probe.scenario.requests import build_requests

        return build_requests(self)


Located = tuple[tuple[str | int, ...], str, object]
"""A problem found by a rule: key path (relative to the model validated), message, value."""


def raise_problems(title: str, problems: list[Located]) -> None:
    """Raise every problem at once, each at its own key, as one ValidationError."""
    if problems:
        raise ValidationError.from_exception_data(
            title,
            [
                InitErrorDetails(type=_error("rule", message), loc=loc, input=value)
                for loc, message, value in problems
            ],
        )
