"""The generated record writers (reporter/model/jsonenc.py) write what ``json`` writes, byte for byte.

Checked on every record of the reports of every bundled sample and crafted source, the whole big-
report writer against the dict-based one it replaced, and on values no analysis makes today but a
future one might (a bool or None where an int is declared, non-finite floats, escapes, non-ASCII,
a nested record of an unexpected class), which must take the generic path and still come out right.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from reporter import model
from reporter.model import (
    Anomalies,
    CaptureInfo,
    Connection,
    DnsLookup,
    Endpoint,
    Exchange,
    FrameNote,
    Message,
    PerDirection,
    Report,
    Task,
    Warning,
    jsonenc,
)
from reporter.options import ReportOptions
from reporter.pipeline import analyse
from reporter.render import iter_report_json
from tests import mutants
from tests.conftest import ALL_SAMPLES

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def reference(v: object) -> str:
    return _dumps(model._plain(v))


def old_big_writer(report: Report) -> str:
    """The one-record-a-line writer as it was before jsonenc (dicts, then json)."""
    out, sep = [], "{"
    for key in model.JSON_KEYS:
        value = getattr(report, key)
        if value is None and key == "frames":
            continue
        if isinstance(value, list):
            out.append(f'{sep}"{key}":[')
            out += [("\n" if i == 0 else ",\n") + reference(x) for i, x in enumerate(value)]
            out.append("\n]" if value else "]")
        elif isinstance(value, dict):
            out.append(f'{sep}"{key}":{{')
            out += [("\n" if i == 0 else ",\n") + f"{_dumps(k)}:{reference(v)}" for i, (k, v) in enumerate(value.items())]
            out.append("\n}" if value else "}")
        else:
            out.append(f'{sep}"{key}":{reference(value)}')
        sep = ",\n"
    out.append("}")
    return "".join(out)


def _captures(tmp: Path) -> list[Path]:
    paths = list(ALL_SAMPLES)
    for name, data in sorted(mutants.crafted_sources().items()):
        p = tmp / f"source-{name}"
        p.write_bytes(data)
        paths.append(p)
    return paths


def test_every_record_of_the_samples_and_crafted_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("reporter.render.PRETTY_LIMIT", -1)  # every report through the big writer
    records = 0
    for path in _captures(tmp_path):
        for frames in (False, True):
            report, _ = analyse(str(path), ReportOptions(frames=frames))
            for key in ("warnings", "dns", "connections", "tasks"):
                for rec in getattr(report, key):
                    assert jsonenc.dumps(rec) == reference(rec), f"{path.name} {key}"
                    records += 1
            assert "".join(iter_report_json(report)) == old_big_writer(report), path.name
    assert records > 200


def _connection() -> Connection:
    return Connection(id=3, client=Endpoint("10.0.0.1", 40000), server=Endpoint("::1", 10000), service="echo",
                      exchanges=[Exchange([4, 6], [5], 0.5, None, 46)],
                      sha256=PerDirection("ab", "cd"), preview=PerDirection('quote " back \\ tab\t', "é ☃ \x00"),
                      messages=[Message(0, "request", 4, 4, 0.5, 10, text="TIME\r\n", args=["a", "b"])])


@pytest.mark.parametrize("change", [
    lambda c: setattr(c, "id", True),  # a bool where an int is declared
    lambda c: setattr(c, "client_no", None),
    lambda c: setattr(c.handshake, "rtt_ms", float("nan")),
    lambda c: setattr(c.handshake, "rtt_ms", float("inf")),
    lambda c: setattr(c.handshake, "rtt_ms", 3),  # an int where a float is declared
    lambda c: setattr(c.close, "end_time_s", -0.0),
    lambda c: setattr(c.close, "end_time_s", 1e-7),
    lambda c: setattr(c, "state", None),
    lambda c: setattr(c, "history", "ShAD\u2028\ud800"),  # a line separator, a lone surrogate
    lambda c: setattr(c, "client", {"ip": "x", "port": 1}),  # a nested record of another class
    lambda c: setattr(c, "anomalies", Anomalies(retransmissions=1.5)),
    lambda c: c.exchanges[0].request_frames.append(True),
    lambda c: setattr(c.exchanges[0], "echo_frames", [1, 0]),  # 1 == True: the slow path, same text
    lambda c: setattr(c.exchanges[0], "echo_frames", (5, 6)),
    lambda c: c.exchanges.append({"odd": [1, None]}),
    lambda c: setattr(c.messages[0], "args", ["x", 2]),
    lambda c: setattr(c.bytes, "client_to_server", 2 ** 70),
    lambda c: setattr(c.sha256, "server_to_client", None),
], ids=lambda f: "")
def test_values_of_other_types_than_declared(change) -> None:
    c = _connection()
    assert jsonenc.dumps(c) == reference(c)
    change(c)
    assert jsonenc.dumps(c) == reference(c)


def test_other_record_kinds() -> None:
    recs = [
        DnsLookup(1, None, 0.25, "10.0.0.1", "10.0.0.53", 7, "www.its.ac.id", "A", None),
        DnsLookup(1, 2, 0.0, "a", "b", 0, "\\000weird.\"name", "TYPE65", "NOERROR", ["1.2.3.4", "::1"], 0.123456),
        Warning("tcp-gap", "3 gap(s)", 17),
        Warning("x", "y", None, "info"),
        Task("T1", "pass", None, [1, 2], "ok", facts={"n": 1, "list": [1, "a"], "nested": {"k": None}}),
        FrameNote(1, "echo", 4294967295, 32, 2, True, None),
        CaptureInfo("p", "h", "pcap", [1, 276], 2, 10, None, 0.0),
    ]
    for rec in recs:
        assert jsonenc.dumps(rec) == reference(rec)
    assert jsonenc.dumps([1, {"a": None}]) == reference([1, {"a": None}])


def test_every_model_class_has_a_writer() -> None:
    """A field added to the model must not break the generated function (it is made from the fields)."""
    unbuilt = []
    for cls in vars(model).values():
        if isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__module__ == model.__name__:
            inst = _defaults(cls)
            if inst is None:
                unbuilt.append(cls.__name__)
            else:
                assert jsonenc.dumps(inst) == reference(inst), cls.__name__
    assert unbuilt == [], "model classes this test cannot build from defaults go unchecked"


def _defaults(cls: type) -> object | None:
    """An instance with every required field filled with a plain value of its kind, or None."""
    args = {}
    for f in dataclasses.fields(cls):
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:  # type: ignore[misc]
            kind = str(f.type)
            args[f.name] = 0 if "int" in kind else 0.5 if "float" in kind else "" if "str" in kind else None
    try:
        return cls(**args)
    except TypeError:
        return None
