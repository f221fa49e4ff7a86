"""Report records straight to JSON text, byte for byte what ``json`` writes for ``_plain(record)``.

Why: a big report is written one record a line (render.iter_report_json), and turning each record
into dicts (``_plain``) for the encoder to walk again cost ~57 us a connection, a third of a
70,000-connection report's time. Here each model dataclass gets a function generated once from
its fields and their declared types: nested records are flattened into one ``%`` format, and each
value is converted by the rule its declared type allows (an int by int.__repr__, a string by
json's own C escaper). A value of another type than declared (None in an int field, a bool where
an int is declared, a non-finite float, a nested record of another class) sends that value, or
the whole record, to the generic path (``json`` on ``_plain``), so the text is identical whatever
the values; tests/test_jsonenc.py checks it on every report of the snapshot corpus.

The output is ``json.dumps(_plain(obj), ensure_ascii=False, separators=(",", ":"))``.
"""
from __future__ import annotations

import json
import typing
from dataclasses import fields, is_dataclass
from typing import Any, Callable, Union

from reporter import model as _model

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_INF = float("inf")
_int = int.__repr__

_ENCODERS: dict[type, Callable[[Any], str]] = {}


def generic(v: Any) -> str:
    """Any model value, the slow and obviously right way."""
    return _dumps(_model._plain(v))


def _ints(v: Any) -> str:
    """A list of ints (frame numbers); anything else generically (a bool is not an int in JSON)."""
    if type(v) is list:
        try:
            s = ",".join(map(_int, v))
        except TypeError:
            return generic(v)
        if True not in v and False not in v:  # 1 and 0 also match: those lists take the slow path
            return f"[{s}]"
    return generic(v)


def _strs(v: Any) -> str:
    """A list of strings; anything else generically (json's escaper refuses what is not a str)."""
    if type(v) is list:
        try:
            return "[" + ",".join(map(_esc, v)) + "]"
        except TypeError:
            pass
    return generic(v)


_esc = json.encoder.encode_basestring


def _optional(tp: Any) -> tuple[Any, bool]:
    """(inner type, True) for Optional[X], else (tp, False)."""
    if typing.get_origin(tp) is Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


class _Gen:
    """Builds one record's function: a format string, the value expressions, the type checks."""

    def __init__(self) -> None:
        self.env: dict[str, Any] = {"_i": _int, "_s": json.encoder.encode_basestring, "_f": float.__repr__,
                                    "_g": generic, "_INF": _INF, "_ints": _ints, "_strs": _strs}
        self.binds: list[str] = []  # statements binding names to nested records
        self.checks: list[str] = []  # conditions under which the flattened format is right
        self.n = 0

    def name(self) -> str:
        self.n += 1
        return f"v{self.n}"

    def record(self, cls: type, o: str) -> tuple[str, list[str]]:
        """Format text and value expressions of record ``o`` (already checked to be a ``cls``)."""
        hints = typing.get_type_hints(cls, vars(_model))
        parts, values = [], []
        for f in fields(cls):
            tp, opt = _optional(hints[f.name])
            x = self.name()
            self.binds.append(f"{x} = {o}.{f.name}")
            key = json.dumps(f.name).replace("%", "%%")
            if isinstance(tp, type) and is_dataclass(tp) and not opt:
                self.env[f"_T_{tp.__name__}"] = tp
                self.checks.append(f"type({x}) is _T_{tp.__name__}")
                fmt, vals = self.record(tp, x)
                parts.append(f"{key}:{fmt}")
                values += vals
                continue
            parts.append(f"{key}:%s")
            body = self.value(tp, x)
            values.append(f"('null' if {x} is None else {body})" if opt else body)
        return "{" + ",".join(parts) + "}", values

    def value(self, tp: Any, x: str) -> str:
        if tp is int:
            return f"(_i({x}) if type({x}) is int else _g({x}))"
        if tp is str:
            return f"(_s({x}) if type({x}) is str else _g({x}))"
        if tp is bool:
            return f"('true' if {x} is True else 'false' if {x} is False else _g({x}))"
        if tp is float:
            return f"(_f({x}) if type({x}) is float and -_INF < {x} < _INF else _g({x}))"
        if tp is Any:  # PerDirection: ints or strings, whichever a field pairs
            return (f"(_i({x}) if type({x}) is int else _s({x}) if type({x}) is str else "
                    f"'null' if {x} is None else _g({x}))")
        if isinstance(tp, type) and is_dataclass(tp):  # an Optional record: its own function
            self.env[f"_e_{tp.__name__}"] = encoder(tp)
            self.env[f"_T_{tp.__name__}"] = tp
            return f"(_e_{tp.__name__}({x}) if type({x}) is _T_{tp.__name__} else _g({x}))"
        if typing.get_origin(tp) is list:
            (item,) = typing.get_args(tp) or (Any,)
            if item is int:
                return f"_ints({x})"
            if item is str:
                return f"_strs({x})"
            if isinstance(item, type) and is_dataclass(item):
                self.env[f"_e_{item.__name__}"] = encoder(item)
                self.env[f"_T_{item.__name__}"] = item
                return (f"('[' + ','.join([_e_{item.__name__}(y) if type(y) is _T_{item.__name__} else _g(y) "
                        f"for y in {x}]) + ']' if type({x}) is list else _g({x}))")
        return f"_g({x})"


def encoder(cls: type) -> Callable[[Any], str]:
    """The JSON-text function of a model dataclass (made once per class)."""
    enc = _ENCODERS.get(cls)
    if enc is not None:
        return enc
    _ENCODERS[cls] = generic  # a recursive type meets the generic path, not an endless loop
    g = _Gen()
    fmt, values = g.record(cls, "o")
    # bind the nested records first, check their classes, then bind and format the leaves
    lines = ["def _enc(o):"]
    nested = {c.split()[0][5:-1] for c in g.checks}  # names checked: "type(vN) is ..."
    pending = list(g.binds)
    while pending:  # a check may only run once its name is bound; leaves come after all checks
        b = pending.pop(0)
        lines.append(f"    {b}")
        if b.split(" = ")[0] in nested:
            chk = next(c for c in g.checks if c.startswith(f"type({b.split(' = ')[0]})"))
            lines.append(f"    if not {chk}:\n        return _g(o)")
    lines.append(f"    return {fmt!r} % ({', '.join(values)}{',' if len(values) == 1 else ''})")
    src = "\n".join(lines) + "\n"
    exec(compile(src, f"<jsonenc {cls.__name__}>", "exec"), g.env)  # noqa: S102 - built from field names
    enc = _ENCODERS[cls] = g.env["_enc"]
    return enc


def register(cls: type, fn: Callable[[Any], str]) -> None:
    """JSON text of a class that stands in for a model record (the fast path's PlainConnection)."""
    _ENCODERS[cls] = fn


def dumps(obj: Any) -> str:
    """JSON text of one model value: a dataclass through its generated function, others generically."""
    enc = _ENCODERS.get(type(obj)) or (encoder(type(obj)) if is_dataclass(obj) else generic)
    return enc(obj)
