"""Which trust anchors a run's evidence is judged with: the ones the run used (its
evidence records them), unless `--ca`/`--trust` says otherwise.

A run against a lab judged its chains with the lab's CA; judging its evidence again with
the system store would turn every PASS into an unknown-issuer FAIL without anything on
the wire having changed. So `--evidence-out` records the anchors (`TrustRecord`), and
`sipprobe judge` and `sipprobe diff` reuse them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from probe.run.commands import OptionsRequest, UsageError, load_anchors

if TYPE_CHECKING:
    from probe.evidence.file import RunEvidence
    from probe.evidence.run import TrustRecord, TrustStoreKind
    from probe.tls.trust import TrustAnchors


def store_kind(request: OptionsRequest) -> TrustStoreKind:
    """Which kind of store `load_anchors` loads for `request`."""
    if request.settings.tls.ca is not None:
        return "path"
    if request.settings.tls.trust in (None, "system"):
        return "system"
    return "mozilla" if request.settings.tls.trust == "mozilla" else "path"


def with_trust_record(
    run: RunEvidence, anchors: TrustAnchors | None, request: OptionsRequest
) -> RunEvidence:
    """`run` with the anchors it was judged against recorded in its settings."""
    if anchors is None:  # no TLS target: no anchors were loaded, none to record
        return run
    from probe.evidence.trust import record_trust

    record = record_trust(anchors, store_kind(request), run)
    return replace(run, settings=replace(run.settings, trust=record))


def has_tls(run: RunEvidence) -> bool:
    """Whether judging `run` may need trust anchors: a target spoke TLS, or a received
    call presented a client certificate."""
    if any(p.evidence is not None and p.evidence.tls is not None for p in run.probed()):
        return True
    inbound = run.inbound
    return inbound is not None and any(
        call.tls is not None and call.tls.client_chain for call in inbound.calls
    )


def anchors_for(
    run: RunEvidence, request: OptionsRequest, usage: UsageError, *, name: str = "the evidence"
) -> tuple[TrustAnchors | None, list[str]]:
    """The anchors to judge `run` with, and notes that say where they came from.

    `--ca`/`--trust` in `request` win; otherwise the anchors the run recorded: a PEM file's
    certificates from the evidence itself, or the same named store (system, Mozilla) as
    found here, with a note for any anchor the run reached that this store lacks. A file
    without a record (written before anchors were recorded) is judged against the system
    store, as it always was, and a note says so.
    """
    if not has_tls(run):
        return None, []
    return recorded_anchors(run.settings.trust, request, usage, name=name)


def recorded_anchors(
    record: TrustRecord | None, request: OptionsRequest, usage: UsageError, *, name: str
) -> tuple[TrustAnchors, list[str]]:
    """`anchors_for` of evidence that recorded `record` (a run's, a capture audit's)."""
    if request.settings.tls.ca is not None or request.settings.tls.trust is not None:
        notes = []
        if record is not None:
            notes.append(f"trust anchors from the command line, not the run's ({record.source})")
        return load_anchors(request, usage), notes
    if record is None:
        return load_anchors(request, usage), [
            f"{name} does not record the trust anchors its run used (written by an older "
            "sipprobe): chains judged against the system store; give --ca or --trust to "
            "choose others"
        ]
    if record.store == "path":
        from probe.evidence.trust import RecordError, anchors_from_record

        try:
            anchors = anchors_from_record(record)
        except RecordError as exc:
            usage(f"{name}: {exc}")
        return anchors, [f"trust anchors the run used: {record.source}, kept in {name}"]
    anchors = load_anchors(
        replace(request, settings=request.settings.with_flat({"trust": record.store})), usage
    )
    notes = [f"trust anchors the run used: the {record.store} store, as found here"]
    from probe.evidence.trust import missing_anchors

    missing = missing_anchors(record, anchors.certificates)
    if missing:
        shown = ", ".join(f"sha256 {sha256[:16]}…" for sha256 in missing)
        notes.append(
            f"{len(missing)} anchor(s) the run verified chains to are not in this "
            f"{record.store} store ({shown}): those chains now fail"
        )
    return anchors, notes
