"""The class summary page (OUTDIR/index.html): one self-contained file, English or Indonesian.

Why hand-written HTML and no template folder: the page must open from a USB stick or an LMS
upload with no network and no extra files, so CSS and charts (inline SVG) live in the page, and
the only script (click a column header to sort) is optional; without it the table is already in
name order. Every student-supplied string passes through `html.escape`.
"""
from __future__ import annotations

import html
from typing import Any

from reporter.grading.classsummary import TASKS, outlier_text
from reporter.grading.ets_class import ets_section
from reporter.grading.wording import CLASS_CATALOGUES
from reporter.render.i18n import Lang

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5em;color:#1d2330}
h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.6em 0 .5em}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #dde2ea;padding:.3em .45em;
text-align:left;vertical-align:top}th{background:#f1f4f8;cursor:pointer;white-space:nowrap}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.b{display:inline-block;white-space:nowrap;padding:0 .45em;border-radius:.7em;font-size:.85em;font-weight:600}
.pass{background:#d7f2dd;color:#135c26}.partial{background:#fff0c2;color:#6b4b00}
.fail{background:#ffd9d6;color:#8a1810}.absent{background:#eceff3;color:#5a6270}
.flag{color:#8a1810}.muted{color:#5a6270}.charts{display:flex;flex-wrap:wrap;gap:1.5em}
.charts figure{margin:0}figcaption{font-size:.9em;color:#5a6270}a{color:#0b57b0}
ul{margin:.2em 0;padding-left:1.2em}
.wide{overflow-x:auto}
@page{size:A4 landscape;margin:1cm}@media print{body{font-size:10px;margin:0}th{cursor:auto}}
"""

SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(function(th,i){th.addEventListener("click",function(){
var tb=th.closest("table").tBodies[0],rows=Array.from(tb.rows),dir=th.dataset.dir==="a"?-1:1;th.dataset.dir=dir>0?"a":"d";
rows.sort(function(a,b){var x=a.cells[i].dataset.s||a.cells[i].textContent,y=b.cells[i].dataset.s||b.cells[i].textContent;
var nx=parseFloat(x),ny=parseFloat(y);if(!isNaN(nx)&&!isNaN(ny))return (nx-ny)*dir;return x.localeCompare(y)*dir;});
rows.forEach(function(r){tb.appendChild(r);});});});
"""


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def _pair_text(sim: dict, L: Lang) -> str:
    t = L.cat
    bits = [t.get(k, k) for k in sim["kinds"] if k != "shared-values" or len(sim["kinds"]) == 1]
    if "same-content" in sim["kinds"] and sim.get("start_offset_s"):
        bits.append(L.t("shift", s=L.fmt(sim["start_offset_s"], "+.0f")))
    for k, vals in sim["shared"].items():
        name = t.get("dnsid" if k == "dns" else k, k)
        bits.append(f"{len(vals)} {name}: {', '.join(vals[:3])}{' …' if len(vals) > 3 else ''}")
    return "; ".join(bits)


def _histogram(values: list[float], label: str, L: Lang, names: list[str]) -> str:
    """A small inline-SVG histogram; each bar's tooltip lists its students."""
    t = L.cat
    w, h, pad = 300, 120, 24
    if not values:
        return f'<figure><svg width="{w}" height="40" role="img" aria-label="{_e(label)}"><text x="4" y="24" ' \
               f'font-size="12" fill="#5a6270">{_e(t["no_data"])}</text></svg><figcaption>{_e(label)}</figcaption></figure>'
    lo, hi = min(values), max(values)
    nb = max(1, min(12, len(set(values))))
    width = (hi - lo) / nb or 1.0
    bins: list[list[str]] = [[] for _ in range(nb)]
    for v, n in zip(values, names):
        bins[min(nb - 1, int((v - lo) / width))].append(f"{n}: {L.fmt(v, 'g')}")
    top = max(len(b) for b in bins)
    bw = (w - 2 * pad) / nb
    bars = []
    for i, b in enumerate(bins):
        bh = (h - 2 * pad) * len(b) / top
        x, y = pad + i * bw, h - pad - bh
        bars.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(bw - 2, 1):.1f}" height="{bh:.1f}" fill="#5b8def">'
                    f'<title>{_e(chr(10).join(b))}</title></rect>')
        if b:
            bars.append(f'<text x="{x + bw / 2 - 1:.1f}" y="{y - 3:.1f}" font-size="10" text-anchor="middle">{len(b)}</text>')
    axis = (f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="#8892a0"/>'
            f'<text x="{pad}" y="{h - 8}" font-size="10">{L.fmt(lo, ".3g")}</text>'
            f'<text x="{w - pad}" y="{h - 8}" font-size="10" text-anchor="end">{L.fmt(hi, ".3g")}</text>')
    return (f'<figure><svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{_e(label)}">'
            f'{"".join(bars)}{axis}</svg><figcaption>{_e(label)} · n={len(values)}</figcaption></figure>')


def _rates(rates: dict, n: int, t: dict) -> str:
    rows = []
    for tid in TASKS:
        r = rates[tid]
        segs, x = [], 0.0
        for k, color in (("pass", "#3aa757"), ("partial", "#f2b705"), ("fail", "#d93025"), ("absent", "#c3c9d2")):
            wdt = 200 * r[k] / n if n else 0
            if wdt:
                segs.append(f'<rect x="{x:.1f}" y="0" width="{wdt:.1f}" height="14" fill="{color}">'
                            f'<title>{_e(t[k])}: {r[k]}</title></rect>')
            x += wdt
        pct = f"{100 * r['pass'] / n:.0f}%" if n else "–"
        rows.append(f'<tr><th scope="row">{tid}</th><td><svg width="200" height="14" role="img" '
                    f'aria-label="{tid} {_e(t["pass"])} {pct}">{"".join(segs)}</svg></td><td class="n">{pct}</td>'
                    f'<td>{" · ".join(f"{_e(t[k])} {r[k]}" for k in ("pass", "partial", "fail", "absent"))}</td></tr>')
    return f'<table style="width:auto">{"".join(rows)}</table>'


def _num(v: float | None, fmt: str, L: Lang) -> tuple[str, str]:
    """(shown in the grader's language, raw for sorting)."""
    return ("", "") if v is None else (L.fmt(v, fmt), f"{v}")


def render_class_page(summary: dict, lang: str) -> str:
    """The whole index.html for a class, from summary.json's dict."""
    L = Lang(lang, CLASS_CATALOGUES)
    t = L.cat
    students = summary["students"]
    head = [t["student"], *TASKS, t["verdict"], t["captures"], t["rtt"], t["dns"], t["wait"], t["warnings"],
            t["flags"], t["similar"]]
    rows = []
    for s in students:
        caps = " ".join(f'<a href="{_e(c["outputs"][0])}">{_e(c["file"].split("/")[-1])}</a>' if c["outputs"]
                        else f'<span class="flag" title="{_e(c.get("error"))}">{_e(c["file"].split("/")[-1])} ✗</span>'
                        for c in s["captures"])
        cells = [f'<td data-s="{_e(s["student"].casefold())}">{_e(s["student"])}</td>']
        for tid in TASKS:
            task = s["tasks"][tid]
            badge = f'<span class="b {_e(task["status"])}">{_e(t.get(task["status"], task["status"]))}</span>'
            if task.get("report"):
                badge = f'<a href="{_e(task["report"])}" title="{_e(task.get("summary"))}">{badge}</a>'
            cells.append(f'<td data-s="{3 - ["pass", "partial", "fail", "absent"].index(task["status"])}">{badge}</td>')
        v = s["tasks"]["T4"]["verdict"]
        cells.append(f'<td>{_e(t.get(v, v) if v else "")}</td><td>{caps}</td>')
        for key, fmt in (("rtt_ms", ".3g"), ("dns_latency_ms", ".3g"), ("t4_wait_s", ".2f")):
            shown, raw = _num(s[key], fmt, L)
            cells.append(f'<td class="n" data-s="{_e(raw or -1)}">{_e(shown)}</td>')
        cells.append(f'<td class="n">{s["warnings"]}</td>')
        flags = "".join(f"<li>{_e(outlier_text(o, lang))}</li>" for o in s["outliers"])
        cells.append(f'<td class="flag"><ul>{flags}</ul></td>' if flags else "<td></td>")
        sim = "".join(f'<li title="{_e(x["detail"])}">{_e(x["student"])}</li>' for x in s["similar"])
        cells.append(f'<td class="flag"><ul>{sim}</ul></td>' if sim else "<td></td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    names = [s["student"] for s in students]

    def series(key: str) -> tuple[list[float], list[str]]:
        pairs = [(s[key], n) for s, n in zip(students, names) if s[key] is not None]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    charts = "".join(_histogram(*series(k)[:1], t[c], L, series(k)[1])
                     for k, c in (("rtt_ms", "rtt_c"), ("dns_latency_ms", "dns_c"), ("t4_wait_s", "wait_c")))
    outl = "".join(f"<li><b>{_e(s['student'])}</b>: {_e('; '.join(outlier_text(o, lang) for o in s['outliers']))}</li>"
                   for s in students if s["outliers"])
    pairs = "".join(f"<li><b>{_e(p['student_a'])}</b> ({_e(p['a'].split('/', 1)[-1])}) ↔ <b>{_e(p['student_b'])}</b> "
                    f"({_e(p['b'].split('/', 1)[-1])}): {_e(_pair_text(p, L))}</li>" for p in summary["similarities"])
    errs = "".join(f"<li>{_e(e)}</li>" for s in students for e in s["errors"])
    none = f'<p class="muted">{_e(t["none"])}</p>'
    return f"""<!DOCTYPE html>
<html lang="{_e(lang)}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{_e(t["title"])} — progjar-lab</title><style>{CSS}</style></head><body>
<h1>{_e(t["title"])}</h1>
<p class="muted">{len(students)} {_e(t["students"])} · progjar-lab {_e(summary["tool"]["version"])} · {_e(summary["generated"])} · {_e(t["sortnote"])}</p>
<div class="wide"><table class="sortable"><thead><tr>{"".join(f'<th scope="col">{_e(h)}</th>' for h in head)}</tr></thead>
<tbody>{"".join(rows)}</tbody></table></div>
<h2>{_e(t["rates"])}</h2>{_rates(summary["pass_rates"], len(students), t)}
<h2>{_e(t["dist"])}</h2><div class="charts">{charts}</div>
{ets_section(summary, lang)}
<h2>{_e(t["outliers"])}</h2>{f"<ul>{outl}</ul>" if outl else none}
<h2>{_e(t["pairs"])}</h2>{f"<ul>{pairs}</ul>" if pairs else none}
<h2>{_e(t["errors"])}</h2>{f"<ul>{errs}</ul>" if errs else none}
<script>{SCRIPT}</script>
</body></html>
"""
