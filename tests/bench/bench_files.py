"""The file server's messages at ETS size: report time and peak RSS on a generated capture holding a
100 MB GET (133 MB of base64 in one JSON reply), optionally a 100 MB UPLOAD too. The target: peak RSS
under 200 MB, i.e. the base64 decoded while it streams, never held (DESIGN.md "Messages").

Runs alone (`python -m tests.bench.bench_files [--mb 100] [--upload] [--pdf]`) or from the bench runner
as `run(ctx)`. The capture is made once per size in bench-out/ (about 150 MB per 100 MB file moved)
and checked after the run: the report must give the file's size and sha256 exactly.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import struct
import sys
import tempfile
from pathlib import Path

from tests.bench.measure import measure as measure_run, python_env
from tests.craft import ACK, PSH, SYN, FIN, ethernet, ip_packet, tcp_options, tcp_segment

ROOT = Path(__file__).resolve().parents[2]
MSS = 1448
LIMIT_MB = 200
CLIENT, SERVER, PORT = "172.16.16.102", "172.16.16.101", 6666


class _Writer:
    """A pcap written as it is generated: records never pile up in memory."""

    def __init__(self, path: Path) -> None:
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        self.t_us = 1_700_000_000 * 1_000_000
        self.n = 0
        self.ip_id = 1

    def seg(self, c2s: bool, cport: int, seq: int, ack: int, flags: int, payload: bytes = b"",
            opts: bytes = b"", dt_us: int = 20) -> None:
        src, dst, sp, dp = (CLIENT, SERVER, cport, PORT) if c2s else (SERVER, CLIENT, PORT, cport)
        frame = ethernet(ip_packet(src, dst, 6, tcp_segment(src, dst, sp, dp, seq, ack, flags, payload,
                                                            options=opts), ip_id=self.ip_id))
        self.ip_id = (self.ip_id + 1) & 0xFFFF
        self.t_us += dt_us
        self.f.write(struct.pack("<IIII", self.t_us // 1_000_000, self.t_us % 1_000_000, len(frame), len(frame)))
        self.f.write(frame)
        self.n += 1

    def close(self) -> None:
        self.f.close()


def _content(n: int, seed: int):
    """n deterministic bytes in 3-aligned pieces (each encodes to base64 without padding)."""
    block = random.Random(seed).randbytes(3 * 21845)
    left = n
    while left:
        piece = block[:min(left, len(block))]
        left -= len(piece)
        yield piece


def _stream(w: _Writer, cport: int, request: list[bytes], reply: list[bytes]) -> None:
    """One connection: handshake, request and reply cut into MSS segments (an ACK every other one), close."""
    ci, si = 1000, 5000
    w.seg(True, cport, ci, 0, SYN, opts=tcp_options())
    w.seg(False, cport, si, ci + 1, SYN | ACK, opts=tcp_options())
    w.seg(True, cport, ci + 1, si + 1, ACK)
    sent = {True: 0, False: 0}
    for c2s, parts in ((True, request), (False, reply)):
        buf, k = b"", 0
        for part in parts + [None]:
            if part is not None:
                buf += part
            while len(buf) >= MSS or (part is None and buf):
                payload, buf = buf[:MSS], buf[MSS:]
                seq = (ci if c2s else si) + 1 + sent[c2s]
                w.seg(c2s, cport, seq, (si if c2s else ci) + 1 + sent[not c2s], PSH | ACK, payload)
                sent[c2s] += len(payload)
                k += 1
                if k % 2 == 0 or (part is None and not buf):
                    w.seg(not c2s, cport, (si if c2s else ci) + 1 + sent[not c2s], (ci if c2s else si) + 1 + sent[c2s],
                          ACK)
    w.seg(True, cport, ci + 1 + sent[True], si + 1 + sent[False], FIN | ACK)
    w.seg(False, cport, si + 1 + sent[False], ci + 2 + sent[True], FIN | ACK)
    w.seg(True, cport, ci + 2 + sent[True], si + 2 + sent[False], ACK)


def generate(path: Path, mb: int, upload: bool) -> dict:
    """The capture, and what the report must find in it (file size, sha256)."""
    n = mb << 20
    sha = hashlib.sha256()
    for piece in _content(n, 7):
        sha.update(piece)
    head = b'{"status": "OK", "data_namafile": "big.bin", "data_size": %d, "data_file": "' % n
    w = _Writer(path)
    _stream(w, 40001, [b"GET big.bin\r\n\r\n"],
            [head, *(base64.b64encode(p) for p in _content(n, 7)), b'"}\r\n\r\n'])
    if upload:
        _stream(w, 40002, [b"UPLOAD big.bin ", *(base64.b64encode(p) for p in _content(n, 7)), b"\r\n\r\n"],
                [json.dumps({"status": "OK", "data": "big.bin uploaded"}).encode() + b"\r\n\r\n"])
    w.close()
    return {"bytes": n, "sha256": sha.hexdigest(), "packets": w.n}


def measure(mb: int = 100, upload: bool = False, pdf: bool = False, outdir: Path | None = None) -> list[str]:
    out = outdir or ROOT / "bench-out"
    out.mkdir(exist_ok=True)
    cap = out / f"files-{mb}mb{'-up' if upload else ''}.pcap"
    facts = out / (cap.stem + ".json")
    if not cap.exists() or not facts.exists():
        facts.write_text(json.dumps(generate(cap, mb, upload)))
        print(f"generated {cap.name}: {cap.stat().st_size / 1e6:.0f} MB", flush=True)
    want = json.loads(facts.read_text())
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for formats in ("json", "json,html") + (("json,html,pdf",) if pdf else ()):
            r = measure_run([sys.executable, "-m", "reporter", "report", str(cap), "-o", tmp, "--format", formats],
                            env=python_env())
            wall, rss = r.wall, r.rss_mb
            if not r.ok:
                raise SystemExit(f"bench_files: progjar report failed ({r.rc}): {r.err[-400:]}")
            report = json.loads((Path(tmp) / f"{cap.stem}.json").read_text())
            files = [m["file"] for c in report["connections"] for m in c["messages"] if m["file"]]
            assert all((f["bytes"], f["sha256"]) == (want["bytes"], want["sha256"]) for f in files), files
            assert len(files) == (2 if upload else 1)
            verdict = "ok" if rss < LIMIT_MB else f"OVER {LIMIT_MB} MB"
            lines.append(f"{mb} MB {'download + upload' if upload else 'download'} ({want['packets']:,} packets, "
                         f"--format {formats}): {wall:.1f} s, peak RSS {rss} MB ({verdict})")
            print(lines[-1], flush=True)
    return lines


def run(ctx) -> list[str]:
    """The bench runner's entry (tests/bench/run.py)."""
    return measure(outdir=ctx.outdir)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mb", type=int, default=100)
    p.add_argument("--upload", action="store_true", help="a second connection uploads the same file")
    p.add_argument("--pdf", action="store_true", help="also measure --format json,html,pdf")
    a = p.parse_args(argv)
    lines = measure(a.mb, a.upload, a.pdf)
    return 0 if all("OVER" not in x for x in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
