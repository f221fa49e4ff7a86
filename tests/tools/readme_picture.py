"""Make the README picture: page 1 (summary, checklist, T4 timeline) and the queued client's connection
page of a report, side by side, as a small PNG; and the class page picture of docs/grading.md.

    python -m tests.tools.readme_picture samples/tugas1/t4-serial.pcap docs/img/report-example.png
    python -m tests.tools.readme_picture --class ets docs/img/class-page-ets.png

Needs pdftoppm (poppler) and Pillow (a WeasyPrint dependency). A developer tool, not used by `progjar`.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path


def make_picture(capture: str, out: Path, lang: str = "en", dpi: int = 80) -> Path:
    from PIL import Image, ImageDraw

    from reporter.options import ReportOptions
    from reporter.pipeline import analyse
    from reporter.render.html import render_html
    from reporter.render.pdf import write_pdf_from_html

    report, _ = analyse(capture, ReportOptions(lang=lang))
    queued = next((c for c in report.connections if c.echo.queued_behind is not None), None)
    with tempfile.TemporaryDirectory() as tmp:
        pdf = write_pdf_from_html(render_html(report, lang), Path(tmp) / "r.pdf")
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True,
                              timeout=60).stdout.split("\f")
        want = f"#{queued.id}:" if queued else "#0:"
        second = next((i + 1 for i, t in enumerate(text) if want in t and i > 0), 2)
        pages = []
        for n in (1, second):
            stem = Path(tmp) / f"p{n}"
            subprocess.run(["pdftoppm", "-png", "-r", str(dpi), "-f", str(n), "-l", str(n), "-singlefile", str(pdf),
                            str(stem)], check=True, timeout=60)
            pages.append(Image.open(f"{stem}.png").convert("RGB"))
    pad = 18
    a, b = pages
    im = Image.new("RGB", (a.width + b.width + 3 * pad, max(a.height, b.height) + 2 * pad), (226, 230, 236))
    draw = ImageDraw.Draw(im)
    for x, page in ((pad, a), (2 * pad + a.width, b)):
        draw.rectangle([x + 3, pad + 3, x + page.width + 3, pad + page.height + 3], fill=(190, 196, 205))
        im.paste(page, (x, pad))
    im.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(out, optimize=True)
    return out


def class_picture(assignment: str, out: Path, lang: str = "en") -> Path:
    """`progjar batch samples/<assignment>` (each sample one student's hand-in), its class page as
    headless Chromium shows it on a 1280x800 laptop screen."""
    from PIL import Image

    from reporter.cli import main
    from tests.test_classpage import screenshot

    root = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory() as tmp:
        cls = Path(tmp) / "class"
        if main(["batch", str(root / "samples" / assignment), "-o", str(cls), "--assignment", assignment,
                 "--lang", lang, "--format", "html"]) != 0:
            raise SystemExit(f"progjar batch failed on samples/{assignment}")
        png = Path(tmp) / "shot.png"
        screenshot(cls / "index.html", png, Path(tmp))
        Image.open(png).convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT,
                                                dither=Image.Dither.NONE).save(out, optimize=True)
    return out


if __name__ == "__main__":
    if sys.argv[1] == "--class":
        print(class_picture(sys.argv[2], Path(sys.argv[3]), *(sys.argv[4:5] or ["en"])))
    else:
        print(make_picture(sys.argv[1], Path(sys.argv[2]), *(sys.argv[3:4] or ["en"])))
