"""Report snapshots: every report JSON of a fixed corpus, to prove a change kept the output.

Why: a refactoring (the reporter's move into stage subpackages) or a faster path must leave the
facts alone. This writes the corpus (bundled samples, the plugin tests' crafted edge cases, the
crafted sources of every format/link type, seeded damaged mutants, seeded class captures), runs
the CLI on all of it (`--format json`, with and without `--frames`), and compares two such runs
key by key, ignoring only what a deliberate schema change added.

    python -m tests.tools.snapshot corpus DIR          # write the capture corpus (deterministic)
    python -m tests.tools.snapshot run DIR OUT          # reports of DIR's captures into OUT/{plain,frames}
    python -m tests.tools.snapshot compare A B [--ignore-key K ...] [--schema-only]

`compare` prints one line per differing report and a summary; exit 1 when any differs.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def write_corpus(out: Path, mutants: int = 300) -> list[Path]:
    """Deterministic captures covering samples, edge cases, formats and damage."""
    from tests import classgen, mutants as mut
    from tests.conftest import ALL_SAMPLES
    from tests.test_dissector import build_crafted

    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for p in ALL_SAMPLES:
        dst = out / f"sample-{p.name}"
        dst.write_bytes(p.read_bytes())
        paths.append(dst)
    crafted = out / "crafted"
    crafted.mkdir(exist_ok=True)
    for name, p in sorted(build_crafted(crafted).items()):
        dst = out / f"crafted-{name}{p.suffix}"
        p.replace(dst)
        paths.append(dst)
    crafted.rmdir()
    for name, data in sorted(mut.crafted_sources().items()):
        dst = out / f"source-{name}"
        dst.write_bytes(data)
        paths.append(dst)
    for i, kw in enumerate([{}, {"aaaa": False}, {"tasks": "12"}, {"fmt": "pcapng"}, {"other_port": 5000},
                            {"retransmits": 3}]):
        paths.append(classgen.kernel_like_capture(out / f"class-{i}.pcap", seed=100 + i, **kw))
    mdir = out / "mutants"
    for p in mut.make_mutants(mdir, n=mutants, seed=3):
        dst = out / f"mutant-{p.name}"
        p.replace(dst)
        paths.append(dst)
    mdir.rmdir()
    return paths


def run_reports(corpus: Path, out: Path) -> None:
    """One CLI run per mode over the whole corpus (the CLI keeps going past bad files)."""
    caps = sorted(str(p) for p in corpus.iterdir() if p.is_file())
    for mode, extra in (("plain", []), ("frames", ["--frames"])):
        dst = out / mode
        dst.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "reporter", "report", *caps, "--format", "json", "-o", str(dst),
                        "-q", *extra], cwd=ROOT, stdin=subprocess.DEVNULL, check=False)


def _strip(d: Any, ignore: set[str], path: str = "") -> Any:
    """The report with ignored keys removed (a key is ignored by its name or its dotted path)."""
    if isinstance(d, dict):
        return {k: _strip(v, ignore, f"{path}.{k}" if path else k) for k, v in d.items()
                if k not in ignore and (f"{path}.{k}" if path else k) not in ignore}
    if isinstance(d, list):
        return [_strip(x, ignore, path) for x in d]
    return d


def _first_difference(a: Any, b: Any, path: str = "") -> str:
    if type(a) is not type(b):
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, dict):
        for k in list(dict.fromkeys([*a, *b])):
            if k not in a or k not in b:
                return f"{path}.{k}: only in {'B' if k not in a else 'A'}"
            d = _first_difference(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return ""
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = _first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return ""
    return "" if a == b else f"{path}: {a!r} != {b!r}"


def compare(a: Path, b: Path, ignore: set[str]) -> int:
    """Compare every report of run A with run B; returns how many differ (missing counts)."""
    bad = same = 0
    for mode in ("plain", "frames"):
        names = sorted({p.name for p in (a / mode).glob("*.json")} | {p.name for p in (b / mode).glob("*.json")})
        for name in names:
            pa, pb = a / mode / name, b / mode / name
            if not pa.exists() or not pb.exists():
                print(f"{mode}/{name}: only in {'B' if not pa.exists() else 'A'}")
                bad += 1
                continue
            ja = _strip(json.loads(pa.read_text(encoding="utf-8")), ignore)
            jb = _strip(json.loads(pb.read_text(encoding="utf-8")), ignore)
            if ja != jb:
                print(f"{mode}/{name}: {_first_difference(ja, jb)}")
                bad += 1
            else:
                same += 1
    print(f"{same} reports identical, {bad} differ (ignoring keys: {', '.join(sorted(ignore)) or 'none'})")
    return bad


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.tools.snapshot", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("corpus")
    c.add_argument("dir", type=Path)
    c.add_argument("--mutants", type=int, default=300)
    r = sub.add_parser("run")
    r.add_argument("dir", type=Path)
    r.add_argument("out", type=Path)
    k = sub.add_parser("compare")
    k.add_argument("a", type=Path)
    k.add_argument("b", type=Path)
    k.add_argument("--ignore-key", action="append", default=[], help="key name or dotted path to ignore")
    args = p.parse_args(argv)
    if args.cmd == "corpus":
        print(f"{len(write_corpus(args.dir, args.mutants))} captures in {args.dir}")
        return 0
    if args.cmd == "run":
        run_reports(args.dir, args.out)
        return 0
    return 1 if compare(args.a, args.b, set(args.ignore_key)) else 0


if __name__ == "__main__":
    sys.exit(main())
