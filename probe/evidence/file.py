"""Evidence files (`sipprobe.evidence/1`): a run saved so it can be judged again, or diffed.

The file is one JSON object::

    {
      "schema": "sipprobe.evidence/1",
      "tool": {"name": "sipprobe", "version": "..."},
      "redacted": "<what was taken out>",
      "command": "options" | "failover" | "invite" | "answer" | "check",
      "started_at": "<ISO 8601 UTC>", "duration_ms": 123.4,
      "settings": {<how it was collected: timeouts, count, SNI, pins, the call asked for,
                    "trust": {"store", "source", "used_sha256", "pem"} | null>},
      "uris": [{"uri": ..., "locate": <LocateResult.to_dict()>,
                "endpoint": <failover: uri, host, position, priority, weight> | null,
                "targets": [{"located": <LocatedTarget.to_dict()> | null,
                             "evidence": <ProbeEvidence> | null,
                             "unresolved": <Target> | null}]}],
      "failover": {"mode": ..., "order": [{"uri_index", "target_index", "group",
                                           "share", "priority", "weight"}]} | null,
      "inbound": {<answer: InboundEvidence, probe.evidence.inbound: where it listened,
                  what it waited for, every call received and every connection that
                  carried none>} | null
    }

Field names are those of the dataclasses (probe.evidence.model, probe.evidence.run);
bytes are base64. No policy is stored but the trust anchors the run used (certificates
and their fingerprints, never a key); files without them still load. Secrets are taken
out before writing (probe.evidence.redact), in a way that leaves every judgement
unchanged. The file is written with mode 0600, through a temporary file, so a reader never
sees half of one (a device or a pipe, such as /dev/null, is written through instead).
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from probe import __version__
from probe.errors import ProbeError
from probe.evidence.codec import Invalid, decode, encode
from probe.evidence.redact import REDACTION_NOTE, redact_evidence, redact_inbound
from probe.evidence.run import (
    CallPlan,
    FailoverEvidence,
    Placement,
    ProbedTarget,
    ProbedUri,
    RunEvidence,
    RunSettings,
    TrustRecord,
)

__all__ = [
    "SCHEMA",
    "CallPlan",
    "EvidenceError",
    "FailoverEvidence",
    "Placement",
    "ProbedTarget",
    "ProbedUri",
    "RunEvidence",
    "RunSettings",
    "TrustRecord",
    "dumps_evidence",
    "load_evidence",
    "loads_evidence",
    "redact_run",
    "write_evidence",
    "write_private_text",
]

SCHEMA = "sipprobe.evidence/1"
_ENVELOPE = ("schema", "tool", "redacted")


class EvidenceError(ProbeError):
    """An evidence file that cannot be used; the message is one sentence for a person."""


def redact_run(run: RunEvidence) -> RunEvidence:
    """The run as it is written: every target's evidence without secrets."""

    def redacted(probed: ProbedTarget) -> ProbedTarget:
        if probed.evidence is None:
            return probed
        return replace(probed, evidence=redact_evidence(probed.evidence))

    uris = tuple(
        replace(entry, targets=tuple(redacted(probed) for probed in entry.targets))
        for entry in run.uris
    )
    inbound = None if run.inbound is None else redact_inbound(run.inbound)
    return replace(run, uris=uris, inbound=inbound)


def dumps_evidence(run: RunEvidence) -> str:
    body = encode(redact_run(run))
    document = {
        "schema": SCHEMA,
        "tool": {"name": "sipprobe", "version": __version__},
        "redacted": REDACTION_NOTE,
        **body,
    }
    return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_evidence(path: Path, run: RunEvidence) -> None:
    """Write `run` to `path` (mode 0600), replacing it whole or not at all."""
    write_private_text(path, dumps_evidence(run))


def write_private_text(path: Path, text: str) -> None:
    """Write `text` to `path` (mode 0600), replacing it whole or not at all."""
    import tempfile  # only runs that keep their evidence need it

    if path.exists() and not path.is_file():
        # A device or a pipe (/dev/null, /dev/stdout, a shell's >(gzip ...)) is written
        # through: a temporary file renamed over it would replace the device node itself,
        # /dev/null included when run as root.
        with path.open("w", encoding="utf-8") as stream:
            stream.write(text)
        return
    # mkstemp creates the file 0600 whatever the umask; os.replace keeps that mode.
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def loads_evidence(text: str, source: str = "evidence") -> RunEvidence:
    try:
        document: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EvidenceError(
            f"{source} is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise EvidenceError(f"{source} is not usable JSON: {exc}") from None
    if not isinstance(document, dict):
        raise EvidenceError(f"{source} is not a sipprobe evidence file (not a JSON object)")
    schema = document.get("schema")
    if schema != SCHEMA:
        found = "no schema" if schema is None else f"schema {schema!r}"
        raise EvidenceError(
            f"{source} is not a sipprobe evidence file: it has {found}, expected {SCHEMA!r}"
        )
    body = {key: value for key, value in document.items() if key not in _ENVELOPE}
    try:
        run = decode(body, RunEvidence)
    except Invalid as exc:
        raise EvidenceError(f"{source} is not valid evidence: {exc}") from None
    assert isinstance(run, RunEvidence)
    if (problem := _unreadable_offer(run) or _unjudgeable_identity(run)) is not None:
        raise EvidenceError(f"{source} is not valid evidence: {problem}")
    return run


def _unjudgeable_identity(run: RunEvidence) -> str | None:
    """Where a received call's STIR/SHAKEN verification names as judged an Identity field
    it does not hold. The verifier chooses one whenever there is any (and none
    otherwise), so only an edited or damaged file holds such a choice."""
    calls = run.inbound.calls if run.inbound is not None else ()
    for index, call in enumerate(calls):
        stir = call.stir
        if stir is None:
            continue
        fields = len(stir.checks)
        fits = stir.chosen is None if not fields else stir.chosen in range(fields)
        if not fits:
            return (
                f"inbound.calls[{index}].stir.chosen: {stir.chosen} names none of its "
                f"{fields} Identity field{'' if fields == 1 else 's'}"
            )
    return None


def _unreadable_offer(run: RunEvidence) -> str | None:
    """Where a placed call's recorded offer is not SDP, and why. sipprobe built that offer
    itself, so only an edited or damaged file holds one; judging re-reads it."""
    from probe.sdp import SdpError, parse_sdp

    for uri_index, probed_uri in enumerate(run.uris):
        for target_index, probed in enumerate(probed_uri.targets):
            call = probed.evidence.call if probed.evidence is not None else None
            if call is None or call.teardown == "not_sent":
                continue
            try:
                parse_sdp(call.offer)
            except SdpError as exc:
                where = f"uris[{uri_index}].targets[{target_index}].evidence.call.offer"
                return f"{where}: not an SDP offer ({exc})"
    return None


def read_evidence_text(path: Path) -> str:
    """An evidence file's text (a run's or a capture audit's), or EvidenceError saying
    why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EvidenceError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise EvidenceError(f"{path} is a directory, not an evidence file") from None
    except UnicodeDecodeError:
        raise EvidenceError(f"{path} is not a sipprobe evidence file (not UTF-8 text)") from None
    except OSError as exc:
        raise EvidenceError(f"{path}: cannot be read: {exc.strerror or exc}") from None


def load_evidence(path: Path) -> RunEvidence:
    """Read an evidence file, or raise EvidenceError saying why it cannot be used."""
    return loads_evidence(read_evidence_text(path), str(path))
