"""Report rendering speed: a lab-size sample to JSON+HTML+PDF (target ≤ 3 s wall on the 2-core machine),
broken down per stage, and the 1,000,000-packet capture end to end (bounded by aggregation).

Each measurement runs in a fresh process so import costs count as a user sees them (WeasyPrint's import
is a large share, which is why it is imported only when a PDF is asked for). The baseline, measured in
the same run, is `progjar report --format json` on the same capture: the ratio says what the human-readable
reports add on top of the analysis.
"""
from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path

from tests.bench.measure import python_env

ROOT = Path(__file__).resolve().parents[2]
TARGET_S = 3.0

STAGES = r"""
import json, sys, time
from pathlib import Path
t0 = time.perf_counter()
from reporter.options import ReportOptions
from reporter.pipeline import analyse
t_imp = time.perf_counter()
rep, _ = analyse(sys.argv[1], ReportOptions())
t_an = time.perf_counter()
from reporter.render import write_json  # what write_reports runs: streamed, GC paused
out = Path(sys.argv[2]); out.mkdir(parents=True, exist_ok=True)
write_json(rep, out / "x.json")
t_js = time.perf_counter()
from reporter.render.html import render_html
html = render_html(rep, "en")
(out / "x.html").write_text(html, encoding="utf-8")
t_ht = time.perf_counter()
import weasyprint
t_wi = time.perf_counter()
from reporter.render.pdf import write_pdf_from_html
write_pdf_from_html(html, out / "x.pdf")
t_pdf = time.perf_counter()
print(json.dumps({"import": t_imp - t0, "analyse": t_an - t_imp, "json": t_js - t_an, "html": t_ht - t_js,
                  "weasyprint_import": t_wi - t_ht, "pdf": t_pdf - t_wi, "total": t_pdf - t0,
                  "connections": len(rep.connections), "html_kb": len(html) // 1024,
                  "pdf_kb": (out / "x.pdf").stat().st_size // 1024}))
"""


def _wall(cmd: list[str], timeout: float) -> float:
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False, env=python_env())
    took = time.perf_counter() - t
    if p.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd[:4])}: exit {p.returncode}: {p.stderr.strip()[-300:]}")
    return took


def _stages(python: str, capture: Path, out: Path, timeout: float) -> dict:
    p = subprocess.run([python, "-c", STAGES, str(capture), str(out)], cwd=ROOT, capture_output=True, text=True, env=python_env(),
                       timeout=timeout, check=False)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip()[-500:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def _fmt(d: dict) -> str:
    return (f"analyse {d['analyse']:.2f} s, json {d['json']:.3f} s, html {d['html']:.2f} s, "
            f"weasyprint import {d['weasyprint_import']:.2f} s, pdf {d['pdf']:.2f} s "
            f"(python+reporter import {d['import']:.2f} s; {d['connections']} connections, "
            f"html {d['html_kb']} KB, pdf {d['pdf_kb']} KB)")


def run(ctx: object) -> list[str]:
    lines: list[str] = []
    samples = sorted(Path(ctx.samples).glob("*.pcap*"))
    sample = next((p for p in samples if p.name.startswith("t4-serial")), samples[0] if samples else None)
    with tempfile.TemporaryDirectory(dir=ctx.outdir) as tmp:
        tmp = Path(tmp)
        if sample is not None:
            cli = [ctx.python, "-m", "reporter", "report", str(sample), "-o", str(tmp / "cli"), "--quiet"]
            base = min(_wall([*cli[:-1], "--format", "json"], 120) for _ in range(2))
            full = min(_wall([*cli[:-1], "--format", "json,html,pdf"], 120) for _ in range(2))
            ok = "meets" if full <= TARGET_S else "MISSES"
            lines.append(f"{sample.name} -> json+html+pdf: {full:.2f} s wall ({ok} target {TARGET_S:.0f} s); "
                         f"json only {base:.2f} s; ratio {full / base:.1f}x")
            d = _stages(ctx.python, sample, tmp / "stages", 120)
            lines.append(f"{sample.name} stages: {_fmt(d)}")
            print(lines[-2], lines[-1], sep="\n", flush=True)
        big = Path(ctx.big_capture)
        if big.exists():
            d = _stages(ctx.python, big, tmp / "big", 1800)
            render = d["json"] + d["html"] + d["weasyprint_import"] + d["pdf"]
            lines.append(f"{big.name} end to end {d['total']:.1f} s: rendering all three {render:.2f} s "
                         f"= {render / max(d['analyse'], 1e-9):.2f}x of the analysis; {_fmt(d)}")
            print(lines[-1], flush=True)
    return lines
