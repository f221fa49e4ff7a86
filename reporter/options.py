"""What the user asked for, shared by the command line and class grading.

Why a module of its own: `progjar report` (cli, pipeline) and `progjar batch` (grading) both pass
these options down to the analyses and renderers; keeping them here means neither imports the
other (the command line imports grading, grading never imports the command line).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

FORMATS = ("json", "html", "pdf")
DEFAULT_FORMATS = ("html", "pdf", "json")
DEFAULT_HOST = "www.its.ac.id"
DEFAULT_TZ = "Asia/Jakarta"


class UsageError(Exception):
    """A problem with what the user asked for: one line on stderr, exit 2."""


@dataclass(frozen=True)
class Student:
    """Whose hand-in a report is: a name and an id (NRP, or Moodle's participant id)."""

    name: str
    id: Optional[str] = None

    @classmethod
    def parse(cls, text: str) -> "Student":
        """'Name / NRP' (or just a name) as typed after --student."""
        name, sep, sid = text.partition("/")
        name, sid = " ".join(name.split()), sid.strip()
        if not name:
            raise ValueError(f"--student needs a name, like \"Ana Putri / 5025211001\", not {text!r}")
        return cls(name, sid or None)

    def to_dict(self) -> dict:
        return {"name": self.name, "id": self.id}


@dataclass
class ReportOptions:
    """Everything `progjar report` and `progjar batch` pass down to the analyses and renderers.

    `port_overrides` maps a service name to the port the user moved it to (`--port time=45001`,
    or `--ports 10000,32444` for echo and file-echo); the catalogue supplies every other port.
    """

    host: str = DEFAULT_HOST
    port_overrides: dict[str, int] = field(default_factory=dict)
    assignment: str = "auto"
    frames: bool = False
    lang: str = "en"
    formats: tuple[str, ...] = DEFAULT_FORMATS
    student: Optional[Student] = None
    tz: str = DEFAULT_TZ
