"""The ETS table of a class: every student's stress-test rows side by side, for the class page.

Why its own module: the ETS is the only assignment with a table over the class, so the class
summary and page stay assignment-neutral and call two pieces of this one: `ets_digest` (what a
capture's digest keeps of its report's ets_table, in the worker) and `ets_section` (the class
page's section, from summary.json's students). A student's row for one operation, size and client
count comes from the capture with the most transfers of it (their best run, not a sum over reruns).
"""
from __future__ import annotations

import html
import statistics
from typing import Any

from reporter.model import Report
from reporter.render.files_view import rate_text, size_text
from reporter.render.i18n import Lang

WORDS = {
    "en": {"title": "ETS: the stress-test table of the class",
           "hint": "One row per operation, file size and number of clients; each student's best run of it "
                   "(the capture with the most transfers). Throughput per client: the file size over the mean "
                   "transfer time.",
           "op": "Operation", "size": "File size", "clients": "Clients", "students": "Students",
           "median": "Median throughput per client", "range": "Slowest – fastest", "ok": "Successes",
           "failed": "Failures", "who_failed": "Students with failures",
           "upload": "upload", "download": "download"},
    "id": {"title": "ETS: tabel uji beban satu kelas",
           "hint": "Satu baris untuk setiap operasi, ukuran berkas, dan jumlah klien; untuk setiap mahasiswa "
                   "diambil pengujian terbaiknya (rekaman dengan transfer terbanyak). Throughput per klien: ukuran "
                   "berkas dibagi rata-rata waktu transfer.",
           "op": "Operasi", "size": "Ukuran berkas", "clients": "Klien", "students": "Mahasiswa",
           "median": "Median throughput per klien", "range": "Paling lambat – paling cepat", "ok": "Berhasil",
           "failed": "Gagal", "who_failed": "Mahasiswa dengan kegagalan",
           "upload": "unggah", "download": "unduh"},
}
KEYS = ("operation", "file_bytes", "clients", "transfers", "time_s", "mean_duration_s", "throughput_Bps",
        "successes", "failures")


def ets_digest(report: Report) -> list[dict[str, Any]]:
    """What a capture digest keeps of its ETS table (empty for any other assignment)."""
    return [{k: getattr(r, k) for k in KEYS} for r in report.ets_table]


def class_table(students: list[dict]) -> list[dict[str, Any]]:
    """One row per operation, file size and client count over the class: how many students ran it,
    the median and range of their throughput per client, successes and failures summed."""
    best: dict[tuple, dict[str, dict]] = {}
    for s in students:
        for c in s.get("captures", ()):
            for r in (c.get("digest") or {}).get("ets") or ():
                key = (r["operation"], r["file_bytes"], r["clients"])
                mine = best.setdefault(key, {})
                have = mine.get(s["student"])
                if have is None or r["transfers"] > have["transfers"]:
                    mine[s["student"]] = r
    order = {"upload": 0, "download": 1}
    out = []
    for (op, size, clients), per in sorted(best.items(), key=lambda kv: (order.get(kv[0][0], 2), kv[0][1], kv[0][2])):
        rates = [r["throughput_Bps"] for r in per.values() if r["throughput_Bps"] is not None]
        out.append({"operation": op, "file_bytes": size, "clients": clients, "students": len(per),
                    "median_Bps": statistics.median(rates) if rates else None,
                    "min_Bps": min(rates) if rates else None, "max_Bps": max(rates) if rates else None,
                    "successes": sum(r["successes"] for r in per.values()),
                    "failures": sum(r["failures"] for r in per.values()),
                    "failed_students": sorted(n for n, r in per.items() if r["failures"])})
    return out


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def ets_section(summary: dict, lang: str) -> str:
    """The class page's ETS section (an empty string when no capture of the class has ETS rows)."""
    rows = class_table(summary.get("students", []))
    if not rows:
        return ""
    w = WORDS.get(lang, WORDS["en"])
    L = Lang(lang)
    head = [w["op"], w["size"], w["clients"], w["students"], w["median"], w["range"], w["ok"], w["failed"],
            w["who_failed"]]
    body = []
    for r in rows:
        rng = f'{rate_text(r["min_Bps"], L)} – {rate_text(r["max_Bps"], L)}' if r["min_Bps"] is not None else "–"
        body.append("<tr>" + "".join([
            f'<td>{_e(w.get(r["operation"], r["operation"]))}</td>',
            f'<td class="n">{_e(size_text(r["file_bytes"], L))}</td>',
            f'<td class="n">{r["clients"]}</td>', f'<td class="n">{r["students"]}</td>',
            f'<td class="n">{_e(rate_text(r["median_Bps"], L))}</td>',
            f'<td class="n">{_e(rng)}</td>', f'<td class="n">{r["successes"]}</td>',
            f'<td class="n{" flag" if r["failures"] else ""}">{r["failures"]}</td>',
            f'<td>{_e(", ".join(r["failed_students"][:8]))}{" …" if len(r["failed_students"]) > 8 else ""}</td>',
        ]) + "</tr>")
    return (f'<h2>{_e(w["title"])}</h2><p class="muted">{_e(w["hint"])}</p><table class="ets">'
            f'<thead><tr>{"".join(f"<th scope=col>{_e(h)}</th>" for h in head)}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')

