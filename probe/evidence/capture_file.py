"""Capture-audit evidence files (`sipprobe.capture/1`): an audit saved so `sipprobe judge`
can judge it again, offline, without the capture.

The file is one JSON object::

    {
      "schema": "sipprobe.capture/1",
      "tool": {"name": "sipprobe", "version": "..."},
      "redacted": "<what was taken out>",
      "command": "pcap",
      <the fields of probe.evidence.capture.CaptureEvidence>
    }

It has its own schema because its shape is not a run's (no targets): `sipprobe judge`
tells the two apart by it, and `sipprobe diff`, which compares runs, refuses it by
name. Written like run evidence (probe.evidence.file): mode 0600, whole or not at all.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from probe import __version__
from probe.evidence.capture import CaptureEvidence
from probe.evidence.codec import Invalid, decode, encode
from probe.evidence.file import EvidenceError, read_evidence_text, write_private_text
from probe.evidence.redact import mask_text

__all__ = [
    "CAPTURE_SCHEMA",
    "dumps_capture",
    "is_capture_document",
    "load_capture",
    "loads_capture",
    "write_capture",
]

CAPTURE_SCHEMA = "sipprobe.capture/1"
CAPTURE_REDACTION_NOTE = (
    "SDES keys (a=crypto inline:) replaced by all-zero keys of the same length; no packet "
    "payload is kept"
)
_ENVELOPE = ("schema", "tool", "redacted", "command")


def redact_capture(evidence: CaptureEvidence) -> CaptureEvidence:
    """The evidence as it is written. The audit keeps no key already; masking the crypto
    lines again costs nothing and holds whatever built the evidence to it."""
    sip = evidence.sip
    exposures = tuple(
        replace(exposure, lines=tuple(mask_text(line) or "" for line in exposure.lines))
        for exposure in sip.exposures
    )
    return replace(evidence, sip=replace(sip, exposures=exposures))


def dumps_capture(evidence: CaptureEvidence) -> str:
    document = {
        "schema": CAPTURE_SCHEMA,
        "tool": {"name": "sipprobe", "version": __version__},
        "redacted": CAPTURE_REDACTION_NOTE,
        "command": "pcap",
        **encode(redact_capture(evidence)),
    }
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_capture(path: Path, evidence: CaptureEvidence) -> None:
    """Write `evidence` to `path` (mode 0600), replacing it whole or not at all."""
    write_private_text(path, dumps_capture(evidence))


def is_capture_document(text: str) -> bool:
    """Whether `text` is (meant to be) a capture audit's evidence: its schema says so."""
    try:
        document: Any = json.loads(text)
    except (ValueError, RecursionError):
        return False
    return isinstance(document, dict) and document.get("schema") == CAPTURE_SCHEMA


def loads_capture(text: str, source: str = "evidence") -> CaptureEvidence:
    try:
        document: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EvidenceError(
            f"{source} is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise EvidenceError(f"{source} is not usable JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("schema") != CAPTURE_SCHEMA:
        raise EvidenceError(f"{source} is not a sipprobe capture audit ({CAPTURE_SCHEMA!r})")
    body = {key: value for key, value in document.items() if key not in _ENVELOPE}
    try:
        evidence = decode(body, CaptureEvidence)
    except Invalid as exc:
        raise EvidenceError(f"{source} is not valid capture evidence: {exc}") from None
    assert isinstance(evidence, CaptureEvidence)
    return evidence


def load_capture(path: Path) -> CaptureEvidence:
    """Read a capture audit's evidence, or raise EvidenceError saying why it cannot be used."""
    return loads_capture(read_evidence_text(path), str(path))
