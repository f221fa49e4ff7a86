"""The class summary page (OUTDIR/index.html): one self-contained file, English or Indonesian.

Why hand-written HTML and no template folder: the page must open from a USB stick or an LMS
upload with no network and no extra files, so CSS and charts (inline SVG) live in the page. The
only script sorts by a column and filters rows ("T4 not passed", "something to check"); it fetches
nothing, and without it the page is the full table in name order. Every student-supplied string
passes through `html.escape`.

Why this layout: a lecturer grades on a laptop (1280x800). The table has fixed column widths that
add up to the window's width, short headers (the long name is the header's tooltip), and cells
that never grow a row beyond a few lines: long flags are clamped to three lines (the full text is
the tooltip and the "To check" list below), capture files are numbered links. Each task badge
links to that task in the student's combined report (``report.html#task-T4``).
"""
from __future__ import annotations

import html
from typing import Any, Optional

from reporter import assignments
from reporter.assignments.wording import say
from reporter.grading.classsummary import outlier_text
from reporter.grading.ets_class import ets_section
from reporter.grading.wording import Words

STATUSES = ("pass", "partial", "fail", "absent")

CSS = """
*{box-sizing:border-box}
body{font:13px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:12px 16px;color:#1d2330}
h1{font-size:1.35em;margin:0 0 .15em}h2{font-size:1.1em;margin:1.4em 0 .4em}
p{margin:.25em 0}.muted{color:#5a6270}.note{background:#fdf3e3;border-left:4px solid #c98a12;padding:.3em .6em}
.bar{display:flex;flex-wrap:wrap;gap:.6em;align-items:center;margin:.5em 0}
.bar select{font:inherit;padding:.1em .3em}
table{border-collapse:collapse}
table.cls{width:100%;table-layout:fixed}
.cls th,.cls td{border-bottom:1px solid #dde2ea;padding:.25em .35em;text-align:left;vertical-align:top;overflow:hidden;
overflow-wrap:anywhere}
.cls th{background:#f1f4f8;cursor:pointer;font-weight:600;font-size:.88em;line-height:1.2;overflow-wrap:normal;
hyphens:auto}
.cls td.n,.ets td.n{text-align:right;font-variant-numeric:tabular-nums}
.ets th,.ets td{border-bottom:1px solid #dde2ea;padding:.2em .5em;text-align:left;vertical-align:top}
.ets th{background:#f1f4f8;font-weight:600;font-size:.88em}
.cls td.score{font-weight:700;text-align:right;font-variant-numeric:tabular-nums}
.who .name{font-weight:600;display:-webkit-box;-webkit-box-orient:vertical;-webkit-line-clamp:2;line-clamp:2;
overflow:hidden}.who .id,.caps{color:#5a6270;font-size:.8em}.caps a,.caps span{margin-right:.35em}
.b{display:inline-block;max-width:100%;padding:0 .4em;border-radius:.7em;font-size:.82em;font-weight:600;line-height:1.3}
a.badge{text-decoration:none}
.pass{background:#d7f2dd;color:#135c26}.partial{background:#fff0c2;color:#6b4b00}
.fail{background:#ffd9d6;color:#8a1810}.absent{background:#eceff3;color:#5a6270}
.vd{display:block;font-size:.78em;color:#5a6270}
.clamp{display:-webkit-box;-webkit-box-orient:vertical;-webkit-line-clamp:3;line-clamp:3;overflow:hidden;font-size:.86em}
.flag{color:#8a1810}
.charts{display:flex;flex-wrap:wrap;gap:1.2em}.charts figure{margin:0}figcaption{font-size:.88em;color:#5a6270}
a{color:#0b57b0}ul{margin:.2em 0;padding-left:1.2em}
tr[hidden]{display:none}
@page{size:A4 landscape;margin:1cm}@media print{body{font-size:9px;margin:0}.bar{display:none}th{cursor:auto}
.clamp{-webkit-line-clamp:unset;display:block}}
"""

SCRIPT = """
(function(){
var table=document.querySelector("table.cls");if(!table)return;var tb=table.tBodies[0];
table.querySelectorAll("thead th").forEach(function(th,i){th.addEventListener("click",function(){
var rows=Array.from(tb.rows),dir=th.dataset.dir==="a"?-1:1;th.dataset.dir=dir>0?"a":"d";
rows.sort(function(a,b){var x=a.cells[i].dataset.s||a.cells[i].textContent,y=b.cells[i].dataset.s||b.cells[i].textContent;
var nx=parseFloat(x),ny=parseFloat(y);if(!isNaN(nx)&&!isNaN(ny))return (nx-ny)*dir;return x.localeCompare(y)*dir;});
rows.forEach(function(r){tb.appendChild(r);});});});
var sel=document.getElementById("show"),count=document.getElementById("shown");
function apply(){var v=sel.value,n=0,rows=Array.from(tb.rows);rows.forEach(function(r){var ok=true;
if(v==="flagged")ok=r.dataset.flagged==="1";else if(v==="similar")ok=r.dataset.similar==="1";
else if(v.indexOf("np:")===0)ok=(" "+r.dataset.notpass+" ").indexOf(" "+v.slice(3)+" ")>=0;
r.hidden=!ok;if(ok)n++;});
count.textContent=count.dataset.tpl.replace("{n}",n).replace("{m}",rows.length);}
if(sel){sel.addEventListener("change",apply);apply();}
})();
"""


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def _histogram(values: list[float], label: str, w: Words, names: list[str]) -> str:
    """A small inline-SVG histogram; each bar's tooltip lists its students."""
    wd, h, pad = 300, 110, 22
    if not values:
        return f'<figure><svg width="{wd}" height="40" role="img" aria-label="{_e(label)}"><text x="4" y="24" ' \
               f'font-size="12" fill="#5a6270">{_e(w.t("no_data"))}</text></svg><figcaption>{_e(label)}</figcaption></figure>'
    lo, hi = min(values), max(values)
    nb = max(1, min(12, len(set(values))))
    width = (hi - lo) / nb or 1.0
    bins: list[list[str]] = [[] for _ in range(nb)]
    for v, n in zip(values, names):
        bins[min(nb - 1, int((v - lo) / width))].append(f"{n}: {w.num(v, '.3g')}")
    top = max(len(b) for b in bins)
    bw = (wd - 2 * pad) / nb
    bars = []
    for i, b in enumerate(bins):
        bh = (h - 2 * pad) * len(b) / top
        x, y = pad + i * bw, h - pad - bh
        bars.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(bw - 2, 1):.1f}" height="{bh:.1f}" fill="#5b8def">'
                    f'<title>{_e(chr(10).join(b))}</title></rect>')
        if b:
            bars.append(f'<text x="{x + bw / 2 - 1:.1f}" y="{y - 3:.1f}" font-size="10" text-anchor="middle">{len(b)}</text>')
    axis = (f'<line x1="{pad}" y1="{h - pad}" x2="{wd - pad}" y2="{h - pad}" stroke="#8892a0"/>'
            f'<text x="{pad}" y="{h - 8}" font-size="10">{_e(w.num(lo, ".3g"))}</text>'
            f'<text x="{wd - pad}" y="{h - 8}" font-size="10" text-anchor="end">{_e(w.num(hi, ".3g"))}</text>')
    return (f'<figure><svg width="{wd}" height="{h}" viewBox="0 0 {wd} {h}" role="img" aria-label="{_e(label)}">'
            f'{"".join(bars)}{axis}</svg><figcaption>{_e(label)} · n={len(values)}</figcaption></figure>')


def _rates(rates: dict, tasks: list[str], n: int, w: Words) -> str:
    rows = []
    for tid in tasks:
        r = rates[tid]
        segs, x = [], 0.0
        for k, color in (("pass", "#3aa757"), ("partial", "#f2b705"), ("fail", "#d93025"), ("absent", "#c3c9d2")):
            wdt = 200 * r[k] / n if n else 0
            if wdt:
                segs.append(f'<rect x="{x:.1f}" y="0" width="{wdt:.1f}" height="14" fill="{color}">'
                            f'<title>{_e(w.t(k))}: {r[k]}</title></rect>')
            x += wdt
        pct = f"{w.num(100 * r['pass'] / n, '.0f')}%" if n else "–"
        rows.append(f'<tr><th scope="row">{_e(tid)}</th><td><svg width="200" height="14" role="img" '
                    f'aria-label="{_e(tid)} {_e(w.t("pass"))} {_e(pct)}">{"".join(segs)}</svg></td><td class="n">{_e(pct)}</td>'
                    f'<td>{" · ".join(f"{_e(w.t(k))} {r[k]}" for k in STATUSES)}</td></tr>')
    return f'<table>{"".join(rows)}</table>'


def _num(v: Optional[float], spec: str, w: Words) -> tuple[str, str]:
    """(shown in the grader's language, raw for sorting)."""
    return ("", "") if v is None else (w.num(v, spec), f"{v}")


def _task_href(s: dict, tid: str) -> Optional[str]:
    """That task in the student's combined report, else in the capture's own report."""
    if s.get("report_html"):
        return f"{s['report_html']}#task-{tid}"
    task = s["tasks"][tid]
    return f"{task['report']}#task-{tid}" if task.get("report") else None


def _row(s: dict, tasks: list[str], w: Words, lang: str, metrics: tuple[str, ...]) -> str:
    who = f'<a class="name" href="{_e(s["report_html"])}" title="{_e(s["student"])}">{_e(s["student"])}</a>' \
        if s.get("report_html") else f'<span class="name" title="{_e(s["student"])}">{_e(s["student"])}</span>'
    # each capture a numbered link (its path is the tooltip; the combined report lists them all)
    caps = []
    for n, c in enumerate(s["captures"], 1):
        html_out = next((o for o in c.get("outputs", []) if o.endswith(".html")), None)
        if c.get("error") and not c.get("digest"):
            caps.append(f'<span class="flag" title="{_e(c["file"])}: {_e(c.get("error"))}">{n}✗</span>')
        elif html_out:
            caps.append(f'<a href="{_e(html_out)}" title="{_e(c["file"])}">{n}</a>')
        else:
            caps.append(f'<span title="{_e(c["file"])}">{n}</span>')
    line = (f'#{_e(s["moodle_id"])} · ' if s.get("moodle_id") else "") + (
        f'{_e(w.t("captures"))}: {"".join(caps) if caps else "–"}')
    cells = [f'<td class="who" data-s="{_e(s["student"].casefold())}">{who}<div class="caps">{line}</div></td>',
             f'<td class="score" data-s="{s["score"]}">{_e(w.score(s["score"]))}</td>']
    for tid in tasks:
        task = s["tasks"][tid]
        st = task["status"]
        badge = f'<span class="b {_e(st)}">{_e(w.t(st))}</span>'
        href = _task_href(s, tid)
        if href:
            tip = task.get("reason") or task.get("summary") or ""
            badge = f'<a class="badge" href="{_e(href)}" title="{_e(tip)}">{badge}</a>'
        vd = f'<span class="vd">{_e(w.t(task["verdict"]))}</span>' if task.get("verdict") else ""
        cells.append(f'<td data-s="{3 - STATUSES.index(st) if st in STATUSES else 0}">{badge}{vd}</td>')
    for key in metrics:  # one decimal count a column
        shown, raw = _num(s.get(key), ".2f", w)
        cells.append(f'<td class="n" data-s="{_e(raw or -1)}">{_e(shown)}</td>')
    cells.append(f'<td class="n">{s["warnings"]}</td>')
    flags = "; ".join(outlier_text(o, lang) for o in s["outliers"])
    cells.append(f'<td class="flag"><div class="clamp" title="{_e(flags)}">{_e(flags)}</div></td>' if flags else "<td></td>")
    sim = ", ".join(dict.fromkeys(x["student"] for x in s["similar"]))
    tip = "\n".join(f'{x["student"]}: {x["detail"]}' for x in s["similar"])
    cells.append(f'<td class="flag"><div class="clamp" title="{_e(tip)}">{_e(sim)}</div></td>' if sim else "<td></td>")
    notpass = " ".join(t for t in tasks if s["tasks"][t]["status"] != "pass")
    return (f'<tr data-flagged="{1 if s["outliers"] else 0}" data-similar="{1 if s["similar"] else 0}" '
            f'data-notpass="{_e(notpass)}">{"".join(cells)}</tr>')


# the per-student figures the table and the charts show: key -> (column width %, header, tip, chart caption)
METRICS = ("rtt_ms", "dns_latency_ms", "wait_s")
_METRIC_WORDS = {"rtt_ms": (5, "h_rtt", "rtt", "rtt_c"), "dns_latency_ms": (5, "h_dns", "dns", "dns_c"),
                 "wait_s": (5.5, "h_wait", "wait", "wait_c")}


def _metrics(summary: dict, aid: Optional[str]) -> tuple[str, ...]:
    """The figures worth a column: DNS latency only for an assignment with DNS lookups (Tugas 1) or a
    class where some capture has one; an empty column and a "no data" chart say nothing."""
    entry = assignments.find(aid)
    uses_dns = any(svc.name == "dns" for svc in entry.services) if entry else bool(aid)  # unknown: maybe
    if uses_dns or any(s.get("dns_latency_ms") is not None for s in summary["students"]):
        return METRICS
    return tuple(k for k in METRICS if k != "dns_latency_ms")


def render_class_page(summary: dict, lang: str) -> str:
    """The whole index.html for a class, from summary.json's dict."""
    w = Words(lang)
    students = summary["students"]
    tasks = summary["tasks"]
    aid = summary.get("assignment")
    entry = assignments.find(aid)
    title = say(entry.title, {}, lang) if entry else (aid or "")
    metrics = _metrics(summary, aid)
    # column widths (px at 1280, as % so narrower windows scale): who, score, tasks, figures, warn, flags, similar
    fixed = {"who": 17, "score": 5, "warn": 6.5, "similar": 8}
    figure_w = [_METRIC_WORDS[k][0] for k in metrics]
    task_w = min(7.5, 36 / max(len(tasks), 1))
    flags_w = 100 - sum(fixed.values()) - sum(figure_w) - task_w * len(tasks)
    cols = [fixed["who"], fixed["score"], *([task_w] * len(tasks)), *figure_w, fixed["warn"], flags_w, fixed["similar"]]
    head = [(w.t("student"), ""), (w.t("score"), ""), *((t, _task_title(aid, t, lang)) for t in tasks),
            *((w.t(_METRIC_WORDS[k][1]), w.t(_METRIC_WORDS[k][2])) for k in metrics),
            (w.t("warnings"), w.t("warn_note")), (w.t("flags"), ""), (w.t("similar"), "")]
    ths = "".join(f'<th scope="col"{f" title={chr(34)}{_e(tip)}{chr(34)}" if tip else ""}>{_e(h)}</th>' for h, tip in head)
    colgroup = "".join(f'<col style="width:{c:.2f}%">' for c in cols)
    rows = "".join(_row(s, tasks, w, lang, metrics) for s in students)
    names = [s["student"] for s in students]

    def series(key: str) -> tuple[list[float], list[str]]:
        pairs = [(s[key], n) for s, n in zip(students, names) if s.get(key) is not None]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    charts = "".join(_histogram(series(k)[0], w.t(_METRIC_WORDS[k][3]), w, series(k)[1]) for k in metrics)
    outl = "".join(f"<li><b>{_e(s['student'])}</b>: {_e('; '.join(outlier_text(o, lang) for o in s['outliers']))}</li>"
                   for s in students if s["outliers"])
    pairs = "".join(f"<li><b>{_e(p['student_a'])}</b> ({_e(p['a_file'])}) ↔ <b>{_e(p['student_b'])}</b> "
                    f"({_e(p['b_file'])}): {_e(p['detail'])}</li>" for p in summary["similarities"])
    errs = "".join(f"<li>{_e(s['student'])}: {_e(e)}</li>" for s in students for e in s["errors"])
    none = f'<p class="muted">{_e(w.t("none"))}</p>'
    options = [("all", w.t("f_all")), ("flagged", w.t("f_flagged")), ("similar", w.t("f_similar"))]
    options += [(f"np:{t}", w.t("f_notpass", t=t)) for t in tasks]
    select = "".join(f'<option value="{_e(v)}">{_e(label)}</option>' for v, label in options)
    mixed = ""
    counts = summary.get("assignment_counts") or {}
    if len(counts) > 1:
        mixed = f'<p class="note">{_e(w.t("mixed", counts=", ".join(f"{k}: {v}" for k, v in counts.items()), a=aid))}</p>'
    return f"""<!DOCTYPE html>
<html lang="{_e(lang)}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{_e(w.t("title"))} — progjar-lab</title><style>{CSS}</style></head><body>
<h1>{_e(w.t("title"))}{f" · {_e(title)}" if title else ""}</h1>
<p class="muted">{len(students)} {_e(w.t("students"))} · progjar-lab {_e(summary["tool"]["version"])} · {_e(summary["generated"])} · {_e(w.t("sortnote"))}</p>
{mixed}
<div class="bar"><label for="show">{_e(w.t("filter"))}</label> <select id="show">{select}</select>
<span id="shown" class="muted" data-tpl="{_e(w.t("f_shown", n="{n}", m="{m}"))}"></span></div>
<table class="cls"><colgroup>{colgroup}</colgroup><thead><tr>{ths}</tr></thead>
<tbody>{rows}</tbody></table>
<h2>{_e(w.t("rates"))}</h2>{_rates(summary["pass_rates"], tasks, len(students), w)}
<h2>{_e(w.t("dist"))}</h2><div class="charts">{charts}</div>
{ets_section(summary, lang)}
<h2>{_e(w.t("outliers"))}</h2>{f"<ul>{outl}</ul>" if outl else none}
<h2>{_e(w.t("pairs"))}</h2>{f"<ul>{pairs}</ul>" if pairs else none}
<h2>{_e(w.t("errors"))}</h2>{f"<ul>{errs}</ul>" if errs else none}
<script>{SCRIPT}</script>
</body></html>
"""


def _task_title(aid: Optional[str], tid: str, lang: str) -> str:
    entry = assignments.find(aid)
    return assignments.task_name(entry, tid, assignments.service_ports(), lang) if entry else tid
