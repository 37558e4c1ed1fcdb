"""sipprobe: verify SIP trunks end to end over TLS.

The library API (probe.api), loaded on first use so that `import probe` stays cheap (no
`typing` either: `sipprobe --version` costs what starting Python costs):

    report = await probe.options(["sips:sbc.example.com"], probe.Settings())
"""

__version__ = "0.1.0"

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads it so)
if TYPE_CHECKING:
    from probe.api import audit, call, failover, judge, options
    from probe.settings import Settings

__all__ = ["Settings", "__version__", "audit", "call", "failover", "judge", "options"]

_API = {"audit", "call", "failover", "judge", "options"}


def __getattr__(name: str) -> object:
    if name in _API:
        import probe.api

        return getattr(probe.api, name)
    if name == "Settings":
        from probe.settings import Settings

        return Settings
    raise AttributeError(f"module 'probe' has no attribute {name!r}")
