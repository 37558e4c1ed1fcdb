"""Frozen dataclasses ↔ JSON values, driven by the dataclasses' own type hints.

The evidence types are plain data (str, int, float, bool, None, Literal, tuples of one
type or of fixed length, bytes, nested dataclasses), so one reader and one writer cover
all of them, and a field added to an evidence class later is written and read without
anyone remembering to do it here.
Bytes (DER certificates, SIP messages) travel as base64. The location records keep the
shape of their own `to_dict()` (the `sipprobe resolve --format json` shape); only
`DnsAnswer` needs its own reader, because its records are a union told apart by the
question's type.

Reading never trusts the file: every value is checked against the field's type, and the
first mismatch is reported with its path (`uris[0].targets[1].evidence.tls.version`).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import importlib
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

from probe.errors import ProbeError
from probe.locate.records import (
    AnswerSource,
    DnsAnswer,
    DnsErrorKind,
    DnsQuery,
    LocatedTarget,
    LocateResult,
    NaptrRecord,
    SrvRecord,
)

__all__ = ["Invalid", "decode", "encode"]


class Invalid(ProbeError, ValueError):
    """A value that does not fit its field; `path` says where."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path or 'the top level'} {message}")


def encode(value: Any) -> Any:
    """A JSON-ready value (dict, list, str, int, float, bool, None)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, tuple | list):
        return [encode(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if isinstance(value, _OWN_SHAPE):  # the location records: their established shape
            return value.to_dict()
        fields = _evidence_fields(type(value))
        return {field.name: encode(getattr(value, field.name)) for field in fields}
    raise TypeError(f"cannot write a {type(value).__name__} as evidence")


_OWN_SHAPE = (NaptrRecord, SrvRecord, DnsAnswer, LocatedTarget, LocateResult)
"""The location records, written as their `to_dict()` (`sipprobe resolve --format json`'s
shape). Every other dataclass is written field by field, whatever `to_dict()` it has for
reports (a STIR verification's adds what it concluded, and counts a fetched body's bytes
instead of keeping them): what is written is what is read back."""


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    return f"the number {value!r}"


def _child(path: str, name: str | int) -> str:
    if isinstance(name, int):
        return f"{path}[{name}]"
    return f"{path}.{name}" if path else name


def decode(value: Any, hint: Any, path: str = "") -> Any:
    """`value` (from json.loads) as an instance of `hint`, or `Invalid`."""
    origin = get_origin(hint)
    if origin is Union or origin is types.UnionType:
        options = get_args(hint)
        if value is None and type(None) in options:
            return None
        rest = [option for option in options if option is not type(None)]
        if len(rest) != 1:
            raise TypeError(f"{path}: no reader for {hint}")
        try:
            return decode(value, rest[0], path)
        except Invalid as exc:
            if value is None or exc.path != path:
                raise
            raise Invalid(
                path, exc.message.replace("should be ", "should be null or ", 1)
            ) from None
    if origin is Literal:
        choices = get_args(hint)
        if not isinstance(value, str) or value not in choices:
            names = ", ".join(repr(choice) for choice in choices)
            raise Invalid(path, f"should be one of {names}, not {_describe(value)}")
        return value
    if origin is tuple:
        if not isinstance(value, list):
            raise Invalid(path, f"should be a list, not {_describe(value)}")
        args = get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(item, args[0], _child(path, n)) for n, item in enumerate(value))
        # A fixed-length tuple, each place with its own type (`tuple[Area, str]`).
        if len(value) != len(args):
            raise Invalid(path, f"should be a list of {len(args)}, not of {len(value)}")
        return tuple(
            decode(item, item_hint, _child(path, n))
            for n, (item, item_hint) in enumerate(zip(value, args, strict=True))
        )
    if hint in _READERS:
        return _READERS[hint](value, path)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _dataclass(value, hint, path)
    raise TypeError(f"{path}: no reader for {hint!r}")


def _str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise Invalid(path, f"should be a string, not {_describe(value)}")
    return value


def _int(value: Any, path: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise Invalid(path, f"should be an integer, not {_describe(value)}")
    return value


def _float(value: Any, path: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise Invalid(path, f"should be a number, not {_describe(value)}")
    return float(value)


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise Invalid(path, f"should be true or false, not {_describe(value)}")
    return value


def _bytes(value: Any, path: str) -> bytes:
    text = _str(value, path)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid(path, "should be base64 data, but is not") from None


def _evidence_fields(cls: type) -> list[dataclasses.Field[Any]]:
    """The fields written as evidence: not what a collector hands on beside it
    (`metadata={"evidence": False}`, e.g. a parsed message)."""
    return [field for field in dataclasses.fields(cls) if field.metadata.get("evidence", True)]


def _object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(path, f"should be an object, not {_describe(value)}")
    return value


DEFERRED_TYPES = {"InboundEvidence": "probe.evidence.inbound"}
"""Types evidence models name only for type checkers (imported on demand, not by every
run: probe.evidence.run), by the module that defines each."""


def _type_hints(cls: type) -> dict[str, Any]:
    """The field types of `cls`, importing a deferred one's module when it names one."""
    try:
        return typing.get_type_hints(cls)
    except NameError as exc:
        module = DEFERRED_TYPES.get(exc.name or "")
        if module is None:
            raise
        names = {
            name: getattr(importlib.import_module(where), name)
            for name, where in DEFERRED_TYPES.items()
        }
        return typing.get_type_hints(cls, localns=names)


def _dataclass(value: Any, cls: type, path: str) -> Any:
    data = _object(value, path)
    fields = _evidence_fields(cls)
    unknown = sorted(set(data) - {field.name for field in fields})
    if unknown:
        raise Invalid(_child(path, unknown[0]), "is not a known field")
    hints = _type_hints(cls)
    values: dict[str, Any] = {}
    for field in fields:
        if field.name in data:
            values[field.name] = decode(
                data[field.name], hints[field.name], _child(path, field.name)
            )
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise Invalid(_child(path, field.name), "is missing")
    return _construct(cls, values, path)


def _construct(cls: type, values: dict[str, Any], path: str) -> Any:
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:  # the class's own validation (__post_init__)
        raise Invalid(path, f"is not a valid {cls.__name__}: {exc}") from None


# The records of each question type, as the reader's type hint.
_RECORDS: dict[str, Any] = {
    "NAPTR": tuple[NaptrRecord, ...],
    "SRV": tuple[SrvRecord, ...],
    "A": tuple[str, ...],
    "AAAA": tuple[str, ...],
}


def _answer(value: Any, path: str) -> DnsAnswer:
    """The shape of `DnsAnswer.to_dict()`: the question as `{name, type}`, records per type."""
    data = dict(_object(value, path))
    question = _object(data.pop("query", None), _child(path, "query"))
    if set(question) != {"name", "type"}:
        raise Invalid(_child(path, "query"), "should be an object with a name and a type")
    query = _construct(
        DnsQuery,
        {
            "name": _str(question["name"], _child(path, "query.name")),
            "rdtype": _str(question["type"], _child(path, "query.type")),
        },
        _child(path, "query"),
    )
    records = decode(data.pop("records", []), _RECORDS[query.rdtype], _child(path, "records"))
    rest = _dataclass(data, _AnswerRest, path)
    return typing.cast(
        DnsAnswer,
        _construct(
            DnsAnswer, {"query": query, "records": records, **dataclasses.asdict(rest)}, path
        ),
    )


@dataclasses.dataclass(frozen=True, slots=True)
class _AnswerRest:
    """The fields of DnsAnswer after the question and the records, read the common way."""

    ttl: int | None = None
    server: str | None = None
    elapsed_ms: float | None = None
    error_kind: DnsErrorKind | None = None
    error: str | None = None
    canonical_name: str | None = None
    source: AnswerSource = "dns"
    """Evidence written before the system resolver answered A/AAAA has no source: DNS."""


_READERS: dict[Any, Any] = {
    str: _str,
    int: _int,
    float: _float,
    bool: _bool,
    bytes: _bytes,
    DnsAnswer: _answer,
}
