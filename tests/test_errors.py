"""One exception root: every error class sipprobe defines is a ProbeError, so a library
caller catches one thing; the codec keeps its Local/Remote split below it."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import probe
from probe.errors import ProbeError, SettingsError
from probe.sip.errors import SipBuildError, SipError, SipParseError


def every_probe_module() -> list[str]:
    return [
        info.name
        for info in pkgutil.walk_packages(probe.__path__, prefix="probe.")
        if not info.name.endswith("__main__")
    ]


def test_every_error_class_is_a_probe_error() -> None:
    strays = []
    seen = 0
    for name in every_probe_module():
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != name or not issubclass(cls, Exception):
                continue
            seen += 1
            if not issubclass(cls, ProbeError):
                strays.append(f"{name}.{cls.__qualname__}")
    assert seen >= 20  # the walk found the errors it is about
    assert strays == []


def test_the_codec_keeps_its_local_and_remote_split() -> None:
    # h11's LocalProtocolError / RemoteProtocolError: we asked for something that cannot be
    # built, or the peer sent something broken.
    assert issubclass(SipBuildError, SipError)
    assert issubclass(SipParseError, SipError)
    assert not issubclass(SipBuildError, SipParseError)
    assert issubclass(SipError, ProbeError)
    assert issubclass(SettingsError, ProbeError)
    assert issubclass(SettingsError, ValueError)
