"""One root for every error sipprobe raises on purpose, so a library caller can catch
`ProbeError` and know it holds a sentence meant for a person.

Below it, each layer keeps its own kind: the SIP and SDP codecs' errors, with the codec's
h11-style split between what we asked for that cannot be built (SipBuildError: refused
before sending) and what the far end sent broken (SipParseError: a finding about it),
settings that cannot be used
(SettingsError: refused before any packet, exit 2 on the command line), unreadable
evidence or scenario files, and the collect layer's own signals.
"""

from __future__ import annotations


class ProbeError(Exception):
    """Every error sipprobe raises on purpose."""


class SettingsError(ProbeError, ValueError):
    """Settings that cannot be used, said in one sentence; nothing was sent."""
