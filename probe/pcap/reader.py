"""Reading capture files, record by record: pcap and pcapng through scapy's raw readers.

scapy (the `[pcap]` extra) is imported here and only here, when a capture is opened,
and only its container readers are used (RawPcapReader, RawPcapNgReader): they give
each record's bytes, length on the wire, time and link type, and decoding stays in
probe.pcap.packets. Nothing is held but the record being read.

How reading ended is part of the evidence. A file cut short (copied while tcpdump was
still writing it) ends in the middle of a record: `truncated`. A record that cannot be
read (a pcapng block with a bad length, garbage) stops reading there: `damaged`, with
the bytes left unread. Either way the records before it are audited and the judgement
knows the rest was not. A file that is not a capture at all, or cannot be opened, is a
:class:`CaptureError` before anything is read.

Two of scapy's private methods are used, because the public iteration cannot tell a
clean end from a cut one: `_read_packet(size)` (pcap) and `_read_block(size)` (pcapng),
each reading one record or block and raising EOFError at the end. They stay behind this
module, and tests/pcap/test_reader.py fails loudly if they change.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Literal, NamedTuple

from probe.errors import ProbeError

__all__ = ["PCAP_EXTRA_MISSING", "CaptureError", "CaptureReader", "Record"]

PCAP_EXTRA_MISSING = (
    "reading captures needs scapy, which is not installed: pip install 'sipprobe[pcap]'"
)

_MAX_RECORD = 4 * 0xFFFF
"""The most bytes of one record kept: scapy's own bound on a pcap read (a record claiming
more is hostile or damaged), and above any real link's frame (loopback's is 65,536)."""

ReadEnd = Literal["complete", "truncated", "damaged"]


class CaptureError(ProbeError):
    """The file cannot be audited at all; the message is one sentence for a person."""


class Record(NamedTuple):
    """One captured frame (a tuple: a capture has millions of them)."""

    number: int
    """From 1, as Wireshark numbers frames."""
    time: float
    """Seconds since the epoch."""
    linktype: int
    data: bytes
    wire_length: int
    """The frame's length on the wire; more than `len(data)` when it was cut."""


def _readers() -> tuple[Any, Any, type[Exception]]:
    try:
        from scapy.error import Scapy_Exception
        from scapy.utils import RawPcapNgReader, RawPcapReader
    except ImportError:
        raise CaptureError(PCAP_EXTRA_MISSING) from None
    return RawPcapReader, RawPcapNgReader, Scapy_Exception


@contextlib.contextmanager
def _quiet_scapy() -> Iterator[None]:
    """scapy logs every oddity it meets as a warning on stderr; the audit reports them
    itself, once, in the evidence."""
    logger = logging.getLogger("scapy.runtime")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


class _Counted:
    """A stream that cannot seek (a pipe, standard input), its position counted."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.name = getattr(raw, "name", "pipe")
        self.position = 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.position += len(data)
        return data

    def tell(self) -> int:
        return self.position

    def close(self) -> None:
        self._raw.close()


class CaptureReader:
    """An open capture: iterate `records()` once, then read how it ended (`end`,
    `problem`, `unread_bytes`)."""

    def __init__(self, path: Path, name: str | None = None) -> None:
        self.name = name if name is not None else str(path)
        raw_reader, ng_reader, scapy_error = _readers()
        self._scapy_error = scapy_error
        try:
            if path.is_dir():
                raise CaptureError(f"{self.name} is a directory, not a capture file")
            self._file: BinaryIO = path.open("rb")
        except FileNotFoundError:
            raise CaptureError(f"{self.name}: no such file") from None
        except OSError as exc:
            raise CaptureError(f"{self.name}: cannot be read: {exc.strerror or exc}") from None
        status = os.fstat(self._file.fileno())
        regular = stat.S_ISREG(status.st_mode)
        self.size_bytes = status.st_size if regular else 0
        if regular and self.size_bytes == 0:
            self._file.close()
            raise CaptureError(f"{self.name} is empty, not a capture")
        # A pipe (tcpdump -w - | sipprobe pcap -) cannot say where it is: count instead.
        stream: Any = self._file if regular else _Counted(self._file)
        try:
            with _quiet_scapy():
                # Tries pcap, then pcapng (scapy's metaclass), on the magic number.
                self._reader: Any = raw_reader(stream)
        except Exception:  # whatever scapy raises, the file is no capture
            self._file.close()
            raise CaptureError(
                f"{self.name} is not a pcap or pcapng capture (nor a gzip of one)"
            ) from None
        self.format: Literal["pcap", "pcapng"] = (
            "pcapng" if isinstance(self._reader, ng_reader) else "pcap"
        )
        self.end: ReadEnd = "complete"
        self.problem: str | None = None
        self.unread_bytes = 0

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._reader.close()
        self._file.close()

    def records(self) -> Iterator[Record]:
        with _quiet_scapy():
            if self.format == "pcap":
                yield from self._pcap()
            else:
                yield from self._pcapng()

    def _position(self) -> int:
        try:
            return int(self._reader.f.tell())
        except (OSError, ValueError):
            return 0

    def _stopped(self, start: int, error: BaseException | None) -> None:
        """Reading stopped at a record that began at `start`: say how."""
        stop = self._position()
        try:
            rest = self._reader.f.read(1)
        except Exception:  # a damaged gzip stream, say
            rest = b"x"
        if error is None and stop == start and not rest:
            return  # the end of the file, between two records
        if not rest and error is None:
            self.end = "truncated"
            self.unread_bytes = stop - start
            self.problem = (
                f"the file ends in the middle of a record ({stop - start} bytes of it): "
                "it was cut short"
            )
            return
        self.end = "damaged"
        self.unread_bytes = max(self.size_bytes - start, stop - start)
        reason = f" ({error})" if error is not None and str(error) else ""
        self.problem = (
            f"a record at byte {start} cannot be read{reason}: the rest of the file was not read"
        )

    def _pcap(self) -> Iterator[Record]:
        reader = self._reader
        linktype = int(reader.linktype)
        scale = 1e-9 if getattr(reader, "nano", False) else 1e-6
        number = 0
        # Where the next record starts, counted rather than asked of the file each time:
        # a record is its 16-byte header and its captured bytes.
        start = self._position()
        while True:
            try:
                data, meta = reader._read_packet(size=_MAX_RECORD)
            except EOFError:
                self._stopped(start, None)
                return
            except Exception as exc:  # a hostile record: stop, say where
                self._stopped(start, exc)
                return
            caplen = meta.caplen
            if len(data) < min(caplen, _MAX_RECORD):
                # The file ended inside the record: what was read of it is kept.
                self.end = "truncated"
                self.unread_bytes = 16 + len(data)
                self.problem = (
                    f"the file ends in the middle of record {number + 1} ({len(data)} of its "
                    f"{caplen} bytes): it was cut short"
                )
            number += 1
            start += 16 + caplen
            yield Record(
                number,
                meta.sec + meta.usec * scale,
                linktype,
                data,
                max(meta.wirelen, caplen, len(data)),
            )
            if self.end != "complete":
                return

    def _pcapng(self) -> Iterator[Record]:
        reader = self._reader
        number = 0
        time = 0.0
        while True:
            start = self._position()
            try:
                block = reader._read_block(size=_MAX_RECORD)
            except EOFError:
                self._stopped(start, None)
                return
            except Exception as exc:  # a hostile block: stop, say where
                self._stopped(start, exc)
                return
            if block is None:
                continue  # an interface description, statistics, a section header...
            data, meta = block
            if meta.tshigh is not None:
                time = ((int(meta.tshigh) << 32) | int(meta.tslow)) / int(meta.tsresol)
            number += 1
            yield Record(number, time, int(meta.linktype), data, max(int(meta.wirelen), len(data)))
