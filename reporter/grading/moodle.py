"""moodle-grades.csv: grades and feedback in the format of Moodle's offline grading worksheet.

Read from Moodle's code, not guessed (docs/grading.md "Moodle grading worksheet"):

- mod/assign/feedback/offline/importgradeslib.php, ``assignfeedback_offline_grade_importer``:
  ``init()`` finds its columns by comparing each header *exactly* with language strings of the
  person uploading: ``get_string('recordid', 'assign')`` ("Identifier"), ``get_string('gradenoun')``
  ("Grade"; ``get_string('grade')`` before Moodle 4.1, the same text) and
  ``get_string('lastmodifiedgrade', 'assign')`` ("Last modified (grade)"); all three are required,
  otherwise the upload fails with "invalidgradeimport". A feedback plugin's column is found by its
  editor field's description: ``assign_feedback_comments::get_editor_fields()`` gives
  ``get_string('pluginname', 'assignfeedback_comments')`` ("Feedback comments"); the importer skips a
  feedback column at index 0 (``!empty($details['index'])``), so it never comes first here.
- ``next()`` strips ``strlen(get_string('hiddenuser', 'assign'))`` characters off the identifier
  ("Participant " with its space in English, "Peserta" without one in Indonesian) and looks the
  rest up with ``get_user_id_for_uniqueid``: the participant id of the download's folder names.
  Rows it cannot map are skipped without a word.
- mod/assign/feedback/offline/locallib.php ``process_import_grades``: the grade goes through
  ``unformat_float`` (a dot always works: it only replaces the site's decimal separator), a grade
  above the assignment's maximum or below 0 is skipped, and a row is skipped as stale when Moodle's
  grade was modified more than 60 s after ``strtotime(Last modified (grade))`` unless the uploader
  ticks "ignore modified". We write the time of this run there, so grades entered in Moodle after
  the run are protected. Comments are stored as HTML (FORMAT_HTML): the text is escaped and lines
  are joined with ``<br>``.
- lib/csvlib.class.php ``csv_import_reader::load_csv_content``: UTF-8 (a BOM is removed), CR/LF
  normalised, fields read with ``fgetcsv`` (comma by default, ``"`` quotes) and every row must have
  as many fields as the header.
- mod/assign/gradingtable.php (the "Download grading worksheet" export) writes Identifier, Full
  name, (identity fields), Status, Grade, Maximum grade, Grade can be changed, Last modified
  (submission), (online text), Last modified (grade), Feedback comments: the columns below are
  that export's, minus the ones the importer ignores and we cannot know.

The headers must be in the language Moodle shows the lecturer *when uploading*: ``--moodle-lang``
(default: English). The Indonesian strings are those of Moodle's 5.0 language pack.
"""
from __future__ import annotations

import csv
import html
from datetime import datetime
from pathlib import Path
from typing import Any, Optional
from zoneinfo import ZoneInfo

from reporter.grading.classsummary import spreadsheet_cell
from reporter.grading.scores import SCALE, plain

# language -> (hiddenuser prefix, header per column key)
MOODLE_STRINGS: dict[str, dict[str, str]] = {
    "en": {"hiddenuser": "Participant ", "recordid": "Identifier", "fullname": "Full name", "grade": "Grade",
           "maxgrade": "Maximum grade", "lastmodifiedgrade": "Last modified (grade)",
           "comments": "Feedback comments"},
    "id": {"hiddenuser": "Peserta", "recordid": "Tanda pengenal", "fullname": "Nama lengkap", "grade": "Nilai",
           "maxgrade": "Nilai maksimum", "lastmodifiedgrade": "Terakhir diubah (nilai)",
           "comments": "Komentar umpan balik."},
}
COLUMNS = ("recordid", "fullname", "grade", "maxgrade", "lastmodifiedgrade", "comments")


def identifier(moodle_id: str, moodle_lang: str) -> str:
    """What the worksheet's Identifier column holds for a participant: "Participant 123456"."""
    return MOODLE_STRINGS[moodle_lang]["hiddenuser"] + str(moodle_id)


def modified_stamp(when: datetime, tz: str) -> str:
    """A time PHP's strtotime() reads exactly, in the lecturer's time zone: 2025-03-01 19:05:00 +07:00."""
    local = when.astimezone(ZoneInfo(tz))
    return local.strftime("%Y-%m-%d %H:%M:%S ") + local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:]


def feedback_html(lines: list[str]) -> str:
    """Comment lines as the HTML Moodle stores (escaped; one line each)."""
    return "<br>".join(html.escape(x, quote=False) for x in lines if x)


def write_worksheet(path: Path, students: list[dict[str, Any]], moodle_lang: str, when: datetime, tz: str,
                    feedback: dict[str, list[str]]) -> tuple[int, list[str]]:
    """Write moodle-grades.csv; returns (rows written, names of students left out for lack of an id).

    Students without a Moodle participant id (plain folders) get no row: a placeholder would be
    skipped by Moodle without a word, or worse, match someone else after a typo."""
    s = MOODLE_STRINGS[moodle_lang]
    stamp = modified_stamp(when, tz)
    left_out: list[str] = []
    n = 0
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow([s[c] for c in COLUMNS])
        for st in students:
            mid: Optional[str] = st.get("moodle_id")
            if not mid:
                left_out.append(st["student"])
                continue
            w.writerow([identifier(mid, moodle_lang), spreadsheet_cell(st["student"]), plain(st["score"]),
                        plain(SCALE), stamp, spreadsheet_cell(feedback_html(feedback.get(st["sid"], [])))])
            n += 1
    return n, left_out


def feedback_lines(s: dict[str, Any], tasks: list[str], assignment: Optional[str], lang: str) -> list[str]:
    """A student's feedback comment, line by line, in the grader's language: the score, then each
    task short of pass with the rubric's own reason and what to change; unreadable files said."""
    from reporter import assignments
    from reporter.assignments.wording import say
    from reporter.grading.classsummary import error_text, shown_files
    from reporter.grading.wording import NOT_A_CAPTURE, Words, not_capture_text

    w = Words(lang)
    a = assignments.find(assignment)
    title = say(a.title, {}, lang).split(":")[0] if a else (assignment or "")
    lines = [w.t("fb_head", a=title, score=w.score(s["score"]))]
    if not s["captures"]:
        others = s.get("others") or []
        lines.append(w.t("fb_none_others", n=w.num(len(others)), files=", ".join(shown_files(others))) if others
                     else w.t("fb_none"))
    for c in s["captures"]:
        name = c.get("rel") or c["file"]  # as the student named it (a cache of an older run has no rel)
        if c.get("error") and not c.get("digest"):
            what = not_capture_text(c.get("error_facts") or {}, lang) if c.get("error_code") == NOT_A_CAPTURE else None
            if what is not None:
                lines.append(w.t("fb_not_capture", file=name, why=what))
            else:
                lines.append(w.t("fb_unreadable", file=name, why=error_text(c, lang)))
        elif c.get("digest") and assignment and c["digest"].get("assignment") not in (None, assignment):
            lines.append(w.t("fb_other", file=name, other=c["digest"]["assignment"], a=assignment))
    short = [t for t in tasks if s["tasks"][t]["status"] != "pass"]
    for t in short:
        task = s["tasks"][t]
        reason = task.get("reason") or ""
        lines.append(w.t("fb_task", t=t, status=w.t(task["status"]), reason=reason).rstrip(": ").rstrip())
        if task.get("fix"):
            lines.append(w.t("fb_fix", fix=task["fix"]))
    if not short and s["captures"]:
        lines.append(w.t("fb_allpass"))
    return lines
