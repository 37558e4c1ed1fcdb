"""Reading capture files (probe.pcap.reader): pcap and pcapng as scapy writes them, and
files that are cut short, damaged, or no capture at all: a finding or a clear error,
never a traceback."""

from __future__ import annotations

import gzip
import inspect
import os
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import RawPcapNgReader, RawPcapReader, wrpcap, wrpcapng

from probe.pcap.audit import audit_capture
from probe.pcap.reader import PCAP_EXTRA_MISSING, CaptureError, CaptureReader
from probe.verdict.capture import judge_capture
from probe.verdict.findings import Status
from tests.pcap.frames import invite_with_keys, sip_request, udp_frame, write_pcap

MAC = "02:00:00:00:00:01"


def packets(count: int = 5) -> list[Ether]:
    built = []
    for number in range(count):
        packet = (
            Ether(src=MAC, dst=MAC)
            / IP(src="192.0.2.1", dst="192.0.2.2")
            / UDP(sport=5060, dport=5060)
            / sip_request(cseq=number + 1)
        )
        packet.time = 1_700_000_000 + number
        built.append(packet)
    return built


def read(path: Path) -> tuple[CaptureReader, list[tuple[int, float, int, bytes, int]]]:
    with CaptureReader(path) as reader:
        records = [(r.number, r.time, r.linktype, r.data, r.wire_length) for r in reader.records()]
    return reader, records


def test_the_private_scapy_hooks_we_rely_on_are_still_there() -> None:
    # If scapy renames these, reading stops telling a cut file from a whole one.
    assert "size" in inspect.signature(RawPcapReader._read_packet).parameters
    assert "size" in inspect.signature(RawPcapNgReader._read_block).parameters


@pytest.mark.parametrize("writer", [wrpcap, wrpcapng], ids=["pcap", "pcapng"])
def test_records_of_both_formats(tmp_path: Path, writer: object) -> None:
    path = tmp_path / "capture"
    built = packets()
    writer(str(path), built)  # type: ignore[operator]
    reader, records = read(path)
    assert reader.format == ("pcap" if writer is wrpcap else "pcapng")
    assert reader.end == "complete"
    assert reader.problem is None
    assert [record[0] for record in records] == [1, 2, 3, 4, 5]
    assert [record[3] for record in records] == [bytes(packet) for packet in built]
    assert [round(record[1]) for record in records] == [1_700_000_000 + n for n in range(5)]
    assert {record[2] for record in records} == {1}


def test_a_gzipped_capture_is_read(tmp_path: Path) -> None:
    plain = tmp_path / "plain.pcap"
    wrpcap(str(plain), packets(3))
    zipped = tmp_path / "capture.pcap.gz"
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    reader, records = read(zipped)
    assert (reader.end, len(records)) == ("complete", 3)


def test_a_snap_length_is_seen_per_record(tmp_path: Path) -> None:
    frame = udp_frame("192.0.2.1", 5060, "192.0.2.2", 5060, invite_with_keys())
    path = write_pcap(tmp_path / "snap.pcap", [frame], snaplen=96)
    _, [record] = read(path)
    assert (len(record[3]), record[4]) == (96, len(frame))
    evidence = audit_capture(path)
    assert evidence.counts.cut_records == 1
    assert evidence.sip.cut_messages == 1
    statuses = {f.check: f.status for f in judge_capture(evidence).findings}
    assert statuses == {
        "pcap.sip_cleartext": Status.FAIL,
        "pcap.sdes_exposed": Status.INCOMPLETE,
        "pcap.media": Status.PASS,  # no media in it, and no SDP seen announcing any
    }


@pytest.mark.parametrize(
    ("where", "records_read"),
    [("in a record header", 5), ("in the last body", 6), ("in the third body", 3)],
)
def test_a_pcap_cut_short_is_truncated_and_what_came_before_is_audited(
    tmp_path: Path, where: str, records_read: int
) -> None:
    whole = tmp_path / "whole.pcap"
    built = packets(6)
    wrpcap(str(whole), built)
    data = whole.read_bytes()
    starts = [24]
    for packet in built:
        starts.append(starts[-1] + 16 + len(bytes(packet)))
    cut = {
        "in a record header": starts[5] + 5,
        "in the last body": starts[6] - 30,
        "in the third body": starts[2] + 16 + 60,  # 18 bytes of its SIP
    }[where]
    path = tmp_path / "cut.pcap"
    path.write_bytes(data[:cut])
    reader, records = read(path)
    assert reader.end == "truncated"
    assert reader.problem is not None
    assert "cut short" in reader.problem
    assert reader.unread_bytes > 0
    assert len(records) == records_read
    evidence = audit_capture(path)
    assert evidence.source.read == "truncated"
    whole_records = records_read if where == "in a record header" else records_read - 1
    assert evidence.sip.messages == records_read
    assert evidence.sip.cut_messages == records_read - whole_records


def test_a_pcapng_cut_inside_its_last_block_is_truncated(tmp_path: Path) -> None:
    whole = tmp_path / "whole.pcapng"
    wrpcapng(str(whole), packets())
    data = whole.read_bytes()
    path = tmp_path / "cut.pcapng"
    path.write_bytes(data[:-30])
    reader, records = read(path)
    assert (reader.end, len(records)) == ("truncated", 4)
    assert reader.unread_bytes > 30


def test_a_damaged_pcapng_block_stops_reading_there(tmp_path: Path) -> None:
    whole = tmp_path / "whole.pcapng"
    wrpcapng(str(whole), packets())
    data = bytearray(whole.read_bytes())
    # The third enhanced packet block: its length field made nonsense.
    blocks, offset = [], 0
    while offset < len(data):
        length = struct.unpack_from("<I", data, offset + 4)[0]
        blocks.append(offset)
        offset += length
    struct.pack_into("<I", data, blocks[4] + 4, 8)
    path = tmp_path / "damaged.pcapng"
    path.write_bytes(bytes(data))
    reader, records = read(path)
    assert (reader.end, len(records)) == ("damaged", 2)
    assert reader.problem is not None
    assert f"at byte {blocks[4]}" in reader.problem
    evidence = audit_capture(path)
    result = {f.check: f for f in judge_capture(evidence).findings}
    # Cleartext SIP was seen before the damage: that failure stands.
    assert result["pcap.sip_cleartext"].status is Status.FAIL
    sdes = result["pcap.sdes_exposed"]
    assert sdes.status is Status.INCOMPLETE
    assert "the rest of the file was not read" in sdes.summary


def test_a_damaged_capture_without_sip_is_never_a_pass(tmp_path: Path) -> None:
    frame = udp_frame("192.0.2.1", 4000, "192.0.2.2", 4002, b"\x80" + bytes(100))
    path = write_pcap(tmp_path / "rtp.pcap", [frame] * 3)
    path.write_bytes(path.read_bytes()[:-10])
    result = judge_capture(audit_capture(path))
    assert [finding.status for finding in result.findings] == [Status.INCOMPLETE] * 3
    assert result.verdict.value == "incomplete"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"hello, this is text", "is not a pcap or pcapng capture"),
        (b"\xd4\xc3\xb2\xa1\x02\x00", "is not a pcap or pcapng capture"),
        (gzip.compress(b"not a capture inside"), "is not a pcap or pcapng capture"),
    ],
    ids=["empty", "text", "short header", "gzip of text"],
)
def test_a_file_that_is_no_capture_is_a_clear_error(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "file"
    path.write_bytes(content)
    with pytest.raises(CaptureError, match=message):
        CaptureReader(path)


def test_missing_and_directory_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="no such file"):
        CaptureReader(tmp_path / "absent.pcap")
    with pytest.raises(CaptureError, match="is a directory"):
        CaptureReader(tmp_path)


def test_without_scapy_the_error_says_what_to_install(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "x.pcap", [])
    code = (
        "import sys; sys.modules['scapy'] = None\n"
        "from pathlib import Path\n"
        "from probe.pcap.reader import CaptureReader, CaptureError\n"
        "try:\n"
        f"    CaptureReader(Path({str(path)!r}))\n"
        "except CaptureError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == PCAP_EXTRA_MISSING
    assert "pip install 'sipprobe[pcap]'" in PCAP_EXTRA_MISSING


@pytest.mark.parametrize("cut", [0, 30], ids=["whole", "cut short"])
def test_a_pipe_is_read_and_a_cut_one_known_as_such(tmp_path: Path, cut: int) -> None:
    whole = tmp_path / "whole.pcap"
    wrpcap(str(whole), packets(4))
    data = whole.read_bytes()
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)

    def write() -> None:
        with pipe.open("wb") as writer:
            writer.write(data[: len(data) - cut])

    writer = threading.Thread(target=write)
    writer.start()
    try:
        reader, records = read(pipe)
    finally:
        writer.join(10)
    assert reader.size_bytes == 0  # a pipe has no size
    assert len(records) == 4
    assert reader.end == ("truncated" if cut else "complete")
