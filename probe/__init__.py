"""sipprobe: verify SIP trunks end to end over TLS.

The library API (probe.api), loaded on first use so that `import probe` stays cheap:

    report = await probe.options(["sips:sbc.example.com"], probe.Settings())
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from probe.api import call, failover, judge, options
    from probe.settings import Settings

__all__ = ["Settings", "__version__", "call", "failover", "judge", "options"]

_API = {"call", "failover", "judge", "options"}


def __getattr__(name: str) -> Any:
    if name in _API:
        import probe.api

        return getattr(probe.api, name)
    if name == "Settings":
        from probe.settings import Settings

        return Settings
    raise AttributeError(f"module 'probe' has no attribute {name!r}")
