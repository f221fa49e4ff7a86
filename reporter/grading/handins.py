"""Who handed in what: a class folder or zip -> one hand-in per student, with their captures.

Three layouts, mixed freely at the top level of CLASSDIR (a folder or a zip):

- ``<student>/**`` (a folder per student) and ``<student>.pcap*`` or ``<student>.zip`` (a file per
  student): the folder or file name is the student's name; there is no Moodle id.
- Moodle's "Download all submissions", read from Moodle's own code (mod/assign/classes/
  downloader.php, ``get_student_prefix`` and ``load_submissionplugin_filelist``; before Moodle 4.1
  mod/assign/locallib.php ``download_submissions``): a folder per student and submission plugin,
  ``<full name>_<participant id>_assignsubmission_<plugin>`` (Moodle 4.1 and later) or the same with
  a trailing ``_`` (Moodle 3.1 to 4.0), holding the student's files in their own sub-folders. The
  name had every ``_`` replaced by a space before, so the last ``_<digits>_assignsubmission_``
  splits name and id unambiguously. Under blind marking the name is Moodle's word "Participant"
  (in the site's language: "Peserta" in Indonesian). With "Download submissions in folders" turned
  off the files are flat: ``<full name>_<id>_assignsubmission_file_<file name>``.
- Only ``assignsubmission_file`` holds handed-in files; ``_onlinetext`` (and any other plugin) is the
  same participant's text, merged into their hand-in by the participant id, never a student of
  its own. The id is Moodle's *participant* id (``get_uniqueid_for_user``), the number its grading
  worksheet calls ``Participant <id>``.

Team submissions are named after the group (``<group>_<group id>_...``): their number is a group id,
not a participant id, so grades for them must be entered by hand (docs/grading.md).
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from reporter.reading.archive import Item, Unpacker, capture_stem, is_capture_name, is_zip_name

FILE_PLUGIN = "file"
_MOODLE_DIR = re.compile(r"^(?P<name>.*)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z0-9]+)_?$")
BLIND_WORDS = ("Participant", "Peserta")  # Moodle's get_string('participant', 'assign'): en, id
_MOODLE_FLAT = re.compile(r"^(?P<name>.*)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z0-9]+)_(?P<file>.+)$")


@dataclass
class HandIn:
    """One student's hand-in: who (name as shown, Moodle participant id if any) and their files."""

    key: str  # unique per student: "moodle:<id>" or the plain folder/file name
    name: str  # as the class table shows it
    moodle_id: Optional[str] = None
    items: list[tuple[str, Item]] = field(default_factory=list)  # (path under the student, item)
    others: list[str] = field(default_factory=list)  # files that are not captures (path under the student)
    top: list[str] = field(default_factory=list)  # the top-level folder/file names it came from


@dataclass(frozen=True)
class MoodleName:
    name: str
    id: str
    plugin: str
    file: Optional[str] = None  # flat layout: the handed-in file's own name


def parse_moodle(entry: str, is_dir: bool) -> Optional[MoodleName]:
    """Moodle's name for a student's folder (or, flat, file); None for a name Moodle did not make."""
    m = (_MOODLE_DIR if is_dir else _MOODLE_FLAT).match(entry)
    if not m:
        return None
    name = " ".join(m["name"].split()) or "?"
    if name in BLIND_WORDS:  # blind marking: the name is hidden, "Participant 123456" is all we may show
        name = f"{name} {m['id']}"
    return MoodleName(name, m["id"], m["plugin"], m["file"] if not is_dir else None)


def _plain_student(entry: str, is_dir: bool) -> str:
    if is_dir:
        return entry
    low = entry.lower()
    if is_capture_name(low):
        return capture_stem(entry) or entry
    if low.endswith(".zip"):
        return entry[:-4] or entry
    return entry.rsplit(".", 1)[0] or entry


def collect(root: Path, unpacker: Unpacker, skip: Callable[[Path], bool] = lambda p: False) -> list[HandIn]:
    """Every student's hand-in under a class folder or zip, in name order (case-insensitive).

    A student is every top-level folder, every top-level capture or zip, and every Moodle folder or
    flat file (merged by participant id), with or without captures in it."""
    items = unpacker.items(root, skip)
    wrapper = _wrapper(unpacker.tops)
    strip = len(wrapper)
    tops = {k[strip:]: v for k, v in unpacker.tops.items() if len(k) == strip + 1 and k[:strip] == wrapper}
    students: dict[str, HandIn] = {}

    def student(top: str, is_dir: bool, wanted: bool) -> tuple[Optional[HandIn], Optional[MoodleName]]:
        moodle = parse_moodle(top, is_dir)
        if moodle is not None:
            key = f"moodle:{moodle.id}"
            h = students.setdefault(key, HandIn(key, moodle.name, moodle.id))
            if moodle.plugin == FILE_PLUGIN:
                h.name = moodle.name  # the files' folder names the student (an online-text one may differ)
        elif is_dir or wanted or is_capture_name(top) or is_zip_name(top):
            name = _plain_student(top, is_dir)
            h = students.setdefault(name, HandIn(name, name))
        else:
            return None, None  # a README or a spreadsheet next to the students' folders
        if top not in h.top:
            h.top.append(top)
        return h, moodle

    def place(parts: tuple[str, ...], wanted: bool) -> Optional[tuple[HandIn, str]]:
        """Whose a file under the root is, and its path under that student (as they named it); None
        for nobody's (a README beside the students) and for other submission plugins' files (online
        text: the participant, not their files)."""
        top, rest = parts[0], parts[1:]
        h, moodle = student(top, tops.get((top,), bool(rest)), wanted)
        if h is None or (moodle is not None and moodle.plugin != FILE_PLUGIN):
            return None
        head = (moodle.file,) if moodle is not None and moodle.file else ()
        return h, "/".join(head + rest) or top

    for (top,), is_dir in sorted(tops.items()):
        student(top, is_dir, False)
    for item in items:
        parts = item.parts[strip:]
        if not parts:  # the root itself could not be read: the caller checks the root first
            continue
        found = place(parts, True)
        if found is not None:
            found[0].items.append((found[1], dataclasses.replace(item, parts=parts)))
    for parts in unpacker.others:
        found = place(parts[strip:], False) if parts[strip:] else None
        if found is not None:
            found[0].others.append(found[1])
    return sorted(students.values(), key=lambda h: (h.name.casefold(), h.name, h.key))


def _wrapper(tops: dict[tuple[str, ...], bool]) -> tuple[str, ...]:
    """The one folder around Moodle's folders when a download was re-zipped by hand, else ().

    Only when the level below follows Moodle's naming, so a class of one plain student folder is
    never mistaken for a wrapper."""
    first = [k for k in tops if len(k) == 1]
    if len(first) != 1 or not tops[first[0]]:
        return ()
    below = [(k[1], v) for k, v in tops.items() if len(k) == 2]
    return first[0] if below and any(parse_moodle(n, d) for n, d in below) else ()


def student_files(h: HandIn) -> list[tuple[str, Item]]:
    """The hand-in's files in a stable order (by path under the student)."""
    return sorted(h.items, key=lambda x: x[0])
