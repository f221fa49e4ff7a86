"""Sentences a rubric says, in English and Indonesian, with numbers written the reader's way.

Why here and not in the renderers: a task's reason is a fact the rubric found ("echo differs at
byte 41"), so the rubric owns its wording; it stores a stable code and the facts in the report
(JSON `code`, `facts`) plus the English sentence (`reason`, `fix`), and every renderer says the
same sentence in the reader's language from code and facts. Cached JSON (class grading) carries
code and facts too, so a report can be re-rendered in the other language without the capture.

Templates are `str.format` strings over the facts. Numbers follow the language: `{n:,}` gives
4,920 in English and 4.920 in Indonesian, `{t:.1f}` gives 6.0 and 6,0; a list becomes "a, b".
"""
from __future__ import annotations

import string
from typing import Any, NamedTuple, Optional


class Say(NamedTuple):
    """One sentence in both languages."""

    en: str
    id: str


class Wording(NamedTuple):
    """What a rubric says for one reason code: the fact, and what a student should change."""

    reason: Say
    fix: Optional[Say] = None


_SWAP = str.maketrans({",": ".", ".": ","})


class _Formatter(string.Formatter):
    def __init__(self, lang: str) -> None:
        self.lang = lang

    def format_field(self, value: Any, spec: str) -> str:
        if isinstance(value, (list, tuple)):
            return ", ".join(self.format_field(v, spec) for v in value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return format(value, spec) if spec else str(value)
        text = format(value, spec)
        return text.translate(_SWAP) if self.lang == "id" else text


def say(text: Say, facts: dict[str, Any], lang: str = "en") -> str:
    """The sentence in `lang` ("en" or "id") with the facts filled in."""
    template = text.id if lang == "id" else text.en
    return _Formatter(lang).format(template, **facts)


def number(value: float | int, spec: str = ",", lang: str = "en") -> str:
    """One number the reader's way (4,920 / 4.920; 6.0 / 6,0)."""
    return _Formatter(lang).format_field(value, spec)
