"""Hand-ins as they arrive: a folder, a zip, a zip inside a zip; read safely, one file at a time.

Both `progjar report caps.zip` and `progjar batch moodle.zip` read their input here, so a zip is
opened the same careful way everywhere:

- Member names are only ever *shown* (``caps.zip/inner/t1.pcapng``), never used as paths: a member
  is copied into a temporary file with a name of our own, so ``../../x`` or ``/etc/x`` (zip-slip)
  cannot write anywhere. Such names are still refused, and said, because no honest tool makes them.
- Sizes are counted while copying, never taken from the zip's own header: a member that lies about
  its size, a zip bomb (a high compression ratio) or too many members stops at a limit with a
  one-line reason instead of filling the disk.
- Zips inside a zip are opened one level deep (a student's ``caps.zip`` inside Moodle's download).
- Encrypted members and broken zips become one-line problems, not tracebacks.
- Everything copied lives in one temporary folder that ``Unpacker`` removes when it closes, also on
  an error or Ctrl-C (it is a context manager).

A file counts as a capture when its name ends in .pcap/.pcapng/.cap (or the same with .gz), or when
its first bytes are a pcap or pcapng magic, also inside gzip (a capture renamed ``tugas1.txt`` is
still found; a PDF is not). A gzip-compressed capture (Wireshark's Save As "Compress with gzip")
is decompressed into the temporary folder under the same limits as a zip member.
"""
from __future__ import annotations

import gzip
import os
import shutil
import stat
import struct
import tempfile
import typing
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from reporter.reading.capture import PCAP_MAGIC
from reporter.reading.filekind import GZIP_MAGIC
from reporter.reading.pcapng import PCAPNG_SHB

CAPTURE_EXTS = (".pcapng", ".pcap", ".cap")
GZIP_EXTS = (".pcapng.gz", ".pcap.gz", ".cap.gz")  # Wireshark's Save As "Compress with gzip"
ZIP_EXT = ".zip"

# Limits (docs/grading.md "Safety limits"). A class of 40 hands in a few hundred MB at most; an ETS
# capture of 100 MB transfers is the biggest single file the course produces.
MAX_MEMBERS = 20_000  # entries in one zip
MAX_MEMBER_BYTES = 4 << 30  # one member, uncompressed
MAX_TOTAL_BYTES = 16 << 30  # everything copied out of zips in one run
MAX_RATIO = 200  # uncompressed / compressed; real captures stay far below (headers differ per frame)
RATIO_FLOOR = 1 << 20  # members smaller than this are too small to be a bomb, whatever their ratio
MAX_DEPTH = 1  # zips inside a zip are opened one level deep; deeper ones are said and skipped
MAX_OTHERS = 5_000  # names of files that are not captures kept per run (bounded memory)

_MAGICS = {struct.pack("<I", m) for m in PCAP_MAGIC} | {struct.pack("<I", PCAPNG_SHB)}
_JUNK = {"__MACOSX", ".git", "__pycache__", ".DS_Store", "Thumbs.db", "desktop.ini", ".", ".."}


# Every problem as a code with its facts (class grading says them in the grader's language,
# grading/wording.py ARCHIVE_ID) and its English sentence (the command line's one-line message).
PROBLEMS: dict[str, str] = {
    "folder-unreadable": "cannot read the folder: {why}",
    "unreadable": "cannot read: {why}",
    "zip-broken": "not a readable zip ({why})",
    "zip-members": "the zip has {n:,} entries, more than the limit of {limit:,}",
    "zip-climbs": "refused: a path that climbs out of the zip (..)",
    "zip-absolute": "refused: an absolute path",
    "zip-nul": "refused: a NUL byte in the name",
    "zip-symlink": "refused: a symbolic link",
    "zip-depth": "a zip inside a zip inside a zip: only one level of nesting is opened",
    "zip-encrypted": "encrypted (password-protected) in the zip: cannot be read; ask for it without a password",
    "zip-member-size": "refused: {size:,} bytes uncompressed, more than the limit of {limit:,}",
    "zip-bomb": "refused: expands more than {ratio} times (a zip bomb?)",
    "zip-method": "compressed with method {method}, which cannot be read here; re-zip it with a standard tool",
    "zip-total": "refused: the zips of this run expand to more than {limit:,} bytes in all",
    "zip-member-damaged": "damaged zip member ({why})",
    "zip-member-unreadable": "cannot be read: {why}",
    "gzip-broken": "not a readable gzip file ({why})",
}


@dataclass(frozen=True)
class Problem:
    """Why a file cannot be read: a stable code, its facts, and the English sentence."""

    code: str
    facts: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        return PROBLEMS[self.code].format(**self.facts)

    def __str__(self) -> str:
        return self.text


class ArchiveError(Exception):
    """A zip or member that cannot be read safely; the message is one line without the path."""

    def __init__(self, problem: "Problem") -> None:
        super().__init__(problem.text)
        self.problem = problem


def is_capture_name(name: str) -> bool:
    return name.lower().endswith(GZIP_EXTS + CAPTURE_EXTS)


def capture_stem(name: str) -> str:
    """A capture's file name without its extension (``t1.pcapng.gz`` -> ``t1``); other names unchanged."""
    low = name.lower()
    ext = next((e for e in GZIP_EXTS + CAPTURE_EXTS if low.endswith(e)), "")
    return name[: len(name) - len(ext)] if ext else name


def is_zip_name(name: str) -> bool:
    return name.lower().endswith(ZIP_EXT)


def looks_like_capture(head: bytes) -> bool:
    """pcap (any byte order, µs or ns, Kuznetsov's) or pcapng by the first four bytes."""
    return head[:4] in _MAGICS


def _capture_inside(f: typing.BinaryIO) -> bool:
    """A capture, or a gzip-compressed one, by its first bytes (f at its start)."""
    head = f.read(4)
    if looks_like_capture(head):
        return True
    if head[:2] != GZIP_MAGIC:
        return False
    f.seek(0)
    try:
        with gzip.GzipFile(fileobj=f) as g:
            return looks_like_capture(g.read(4))
    except (OSError, EOFError, zlib.error):
        return False


def _junk(name: str) -> bool:
    """Files and folders nobody hands in on purpose: macOS resource forks and folder files, caches.
    (Other names starting with a dot are students' own: "..pcap" is still a hand-in.)"""
    return name.startswith("._") or name in _JUNK


def unsafe_member_name(name: str) -> Optional[str]:
    """Why a zip member's name is refused (zip-slip and friends) as a problem code, or None."""
    if "\0" in name:
        return "zip-nul"
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "zip-absolute"
    if ".." in name.replace("\\", "/").split("/"):
        return "zip-climbs"
    return None


@dataclass
class Item:
    """One file found in a hand-in.

    ``parts`` are its path components under the root as the user sees them, a zip counting as a
    folder (``("Ana_7_assignsubmission_file", "caps.zip", "t1.pcapng")``). ``problem`` says why it
    cannot be read (encrypted, unsafe name, over a limit, a broken zip); such items carry no data.
    """

    parts: tuple[str, ...]
    why: Optional[Problem] = None
    _path: Optional[Path] = None  # a real file (folder input)
    _zip: Optional[zipfile.ZipFile] = None  # or a member of an open zip
    _info: Optional[zipfile.ZipInfo] = None

    @property
    def shown(self) -> str:
        return "/".join(self.parts)

    @property
    def problem(self) -> Optional[str]:
        """The problem in English (one line), or None for a file that can be read."""
        return self.why.text if self.why else None


@dataclass
class Unpacker:
    """Walks hand-ins and copies zip members into one temporary folder it removes on close.

    ``tmp_parent``: where the temporary folder goes (batch puts it in OUTDIR, on the disk the user
    chose for the results; None means the system's temporary folder)."""

    tmp_parent: Optional[Path] = None
    max_total: int = MAX_TOTAL_BYTES
    copied: int = 0
    _tmp: Optional[Path] = None
    tops: dict[tuple[str, ...], bool] = field(default_factory=dict)  # first two path levels -> is a folder
    # files that are neither captures nor zips (a PDF report, a screenshot), up to MAX_OTHERS: a
    # student without a capture is told what they handed in instead
    others: list[tuple[str, ...]] = field(default_factory=list)
    _zips: list[zipfile.ZipFile] = field(default_factory=list)
    _done: dict[tuple, Path] = field(default_factory=dict)  # _keys(item) -> its temporary copy
    _n: int = 0

    def __enter__(self) -> "Unpacker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for z in self._zips:
            try:
                z.close()
            except OSError:
                pass
        self._zips.clear()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        self._done.clear()

    # --- walking -----------------------------------------------------------------------------

    def items(self, root: Path, skip: Callable[[Path], bool] = lambda p: False) -> list[Item]:
        """Every capture (and every problem) under a folder or in a zip, in a stable order.

        ``skip`` leaves out real folders (batch's own output folder inside the class folder)."""
        if root.is_dir():
            return list(self._walk_dir(root, (), skip))
        return list(self._walk_zip_file(root, (), 0))

    def _walk_dir(self, folder: Path, prefix: tuple[str, ...], skip: Callable[[Path], bool]) -> Iterator[Item]:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            yield Item(prefix, Problem("folder-unreadable", {"why": str(e.strerror or e)}))
            return
        for e in entries:
            if _junk(e.name) or e.is_symlink():  # a link could point anywhere outside the class folder
                continue
            parts = prefix + (e.name,)
            p = Path(e.path)
            if e.is_dir():
                if not skip(p):
                    self._seen(parts, True)
                    yield from self._walk_dir(p, parts, skip)
            elif e.is_file():
                self._seen(parts, False)
                if is_zip_name(e.name):
                    yield from self._walk_zip_file(p, parts, 0)
                elif is_capture_name(e.name) or _sniff_file(p):
                    yield Item(parts, _path=p)
                else:
                    self._other(parts)

    def _walk_zip_file(self, path: Path, parts: tuple[str, ...], depth: int) -> Iterator[Item]:
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile) as e:
            yield Item(parts, Problem("zip-broken", {"why": _one_line(e)}))
            return
        except OSError as e:
            yield Item(parts, Problem("unreadable", {"why": str(e.strerror or e)}))
            return
        self._zips.append(zf)
        yield from self._walk_zip(zf, parts, depth)

    def _walk_zip(self, zf: zipfile.ZipFile, prefix: tuple[str, ...], depth: int) -> Iterator[Item]:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            yield Item(prefix, Problem("zip-members", {"n": len(infos), "limit": MAX_MEMBERS}))
            return
        for info in sorted(infos, key=lambda i: i.filename):
            name = info.filename
            bad = unsafe_member_name(name)
            clean = tuple(p for p in name.replace("\\", "/").split("/") if p and p != ".")
            if bad:  # shown whole, as one name: its parts must not pose as folders (or students)
                yield Item(prefix + (name,), Problem(bad))
                continue
            if not clean or any(_junk(p) for p in clean):
                continue
            for n in range(1, len(clean)):
                self._seen(prefix + clean[:n], True)
            if info.is_dir():
                self._seen(prefix + clean, True)
                continue
            self._seen(prefix + clean, False)
            if stat.S_ISLNK(info.external_attr >> 16):
                yield Item(prefix + clean, Problem("zip-symlink"))
                continue
            parts = prefix + clean
            leaf = clean[-1]
            if is_zip_name(leaf):
                if depth >= MAX_DEPTH:
                    yield Item(parts, Problem("zip-depth"))
                    continue
                try:
                    inner = self._copy(zf, info, ".zip")
                except ArchiveError as e:
                    yield Item(parts, e.problem)
                    continue
                yield from self._walk_zip_file(inner, parts, depth + 1)
            elif is_capture_name(leaf):
                yield Item(parts, _member_problem(info), _zip=zf, _info=info)
            elif not info.flag_bits & 0x1 and info.file_size >= 24 and _sniff_member(zf, info):
                yield Item(parts, _member_problem(info), _zip=zf, _info=info)
            else:
                self._other(parts)

    def _seen(self, parts: tuple[str, ...], is_dir: bool) -> None:
        """Note the first two levels of what the root holds (students without any capture are
        students too: the class table must say "no capture handed in")."""
        if 0 < len(parts) <= 2:
            self.tops.setdefault(parts, is_dir)

    def _other(self, parts: tuple[str, ...]) -> None:
        if len(self.others) < MAX_OTHERS:
            self.others.append(parts)

    # --- reading -----------------------------------------------------------------------------

    def materialize(self, item: Item) -> Path:
        """A real file with the item's bytes: the file itself, or a temporary copy of a zip member;
        a gzip-compressed file is decompressed into a temporary copy (Wireshark reads them as they are).

        Raises ArchiveError (one line) for a member that cannot be read safely."""
        if item.why:
            raise ArchiveError(item.why)
        source, unzipped = _keys(item)
        if unzipped in self._done:
            return self._done[unzipped]
        if item._path is not None:
            path = item._path
        else:
            assert item._zip is not None and item._info is not None
            if source not in self._done:
                ext = Path(item.parts[-1]).suffix.lower()
                self._done[source] = self._copy(item._zip, item._info, ext if ext in CAPTURE_EXTS else ".cap")
            path = self._done[source]
        if not _is_gzip(path):
            return path
        self._done[unzipped] = self._gunzip(path)
        if source in self._done:  # a zip member's compressed copy is not needed any more
            _unlink(self._done.pop(source))
        return self._done[unzipped]

    def release(self, item: Item) -> None:
        """Remove an item's temporary copies early (its report is written; the bytes are not needed)."""
        for key in _keys(item):
            p = self._done.pop(key, None)
            if p is not None:
                _unlink(p)

    def _tmpdir(self) -> Path:
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix=".progjar-unpack-", dir=self.tmp_parent))
        return self._tmp

    def _gunzip(self, src: Path) -> Path:
        """Decompress a gzip file into the temporary folder under the zip members' limits."""
        def broken(e: Exception) -> Problem:  # gzip.BadGzipFile is an OSError; a cut file, EOFError
            return Problem("gzip-broken", {"why": _one_line(e) or type(e).__name__})

        return self._copy_counted(lambda: gzip.open(src, "rb"), ".cap", max(src.stat().st_size, 1),
                                  (OSError, EOFError, zlib.error), broken)

    def _copy(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, ext: str) -> Path:
        """Copy one member into the temporary folder under a name of our own, counting every byte."""
        problem = _member_problem(info)
        if problem:
            raise ArchiveError(problem)

        def broken(e: Exception) -> Problem:  # zipfile: "File ... is encrypted, password required"
            code = "zip-member-unreadable" if isinstance(e, RuntimeError) else "zip-member-damaged"
            return Problem(code, {"why": _one_line(e)})

        return self._copy_counted(lambda: zf.open(info), ext, max(info.compress_size, 1),
                                  (RuntimeError, zipfile.BadZipFile, EOFError, OSError, NotImplementedError,
                                   ValueError), broken)

    def _copy_counted(self, open_src: Callable[[], typing.BinaryIO], ext: str, compressed: int,
                      errors: tuple[type[Exception], ...], broken: Callable[[Exception], Problem]) -> Path:
        """Copy what ``open_src`` reads into the temporary folder under a name of our own, counting
        the bytes really read (never a header's word for them) against the limits: one file's size,
        the run's total and the expansion ratio over ``compressed``. ``errors`` while reading become
        ``broken(e)``; nothing half-written is left behind."""
        self._n += 1
        dst = self._tmpdir() / f"{self._n:05d}{ext}"
        total_left = self.max_total - self.copied
        written = 0
        try:
            with open_src() as src, open(dst, "xb") as out:
                while True:
                    chunk = src.read(1 << 20)
                    if not chunk:
                        break
                    written += len(chunk)
                    if written > MAX_MEMBER_BYTES:
                        raise ArchiveError(Problem("zip-member-size", {"size": written, "limit": MAX_MEMBER_BYTES}))
                    if written > total_left:
                        raise ArchiveError(Problem("zip-total", {"limit": self.max_total}))
                    if written > RATIO_FLOOR and written > MAX_RATIO * compressed:
                        raise ArchiveError(Problem("zip-bomb", {"ratio": MAX_RATIO}))
                    out.write(chunk)
        except ArchiveError:
            _unlink(dst)
            raise
        except errors as e:
            _unlink(dst)
            raise ArchiveError(broken(e)) from None
        self.copied += written
        return dst


def _keys(item: Item) -> tuple[tuple, tuple]:
    """An item's temporary copies by what they hold, stable for the run (never an Item's own id,
    which a freed and re-made Item could reuse): (the zip member copied, the same decompressed)."""
    # a ZipInfo lives as long as its open zip, which the Unpacker keeps to the end
    source = ("zip", id(item._info)) if item._path is None else ("file", str(item._path))
    return source, ("gunzip", *source)


def _member_problem(info: zipfile.ZipInfo) -> Optional[Problem]:
    """What the zip's own header already says against a member (copying checks again, counting)."""
    if info.flag_bits & 0x1:
        return Problem("zip-encrypted")
    if info.file_size > MAX_MEMBER_BYTES:
        return Problem("zip-member-size", {"size": info.file_size, "limit": MAX_MEMBER_BYTES})
    if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        return Problem("zip-bomb", {"ratio": MAX_RATIO})
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
        return Problem("zip-method", {"method": info.compress_type})
    return None


def _sniff_file(p: Path) -> bool:
    try:
        with open(p, "rb") as f:
            return _capture_inside(f)
    except OSError:
        return False


def _sniff_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    try:
        with zf.open(info) as f:
            return _capture_inside(f)
    except (zipfile.BadZipFile, RuntimeError, EOFError, OSError, NotImplementedError, ValueError, zlib.error):
        return False


def _is_gzip(p: Path) -> bool:
    try:
        with open(p, "rb") as f:
            return f.read(2) == GZIP_MAGIC
    except OSError:
        return False


def is_gzip_capture(path: str | os.PathLike[str]) -> bool:
    """A gzip-compressed pcap or pcapng (Wireshark's "Compress with gzip"), by its first bytes."""
    return _is_gzip(Path(path)) and _sniff_file(Path(path))


def _unlink(p: Path) -> None:
    try:
        p.unlink()
    except OSError:
        pass


def _one_line(e: object) -> str:
    return " ".join(str(e).split())[:200]


def is_zip_file(path: str | os.PathLike[str]) -> bool:
    """A zip by its first bytes (a member, or the end record of an empty zip), whatever its name."""
    try:
        with open(path, "rb") as f:
            return f.read(4) in (b"PK\x03\x04", b"PK\x05\x06")
    except OSError:
        return False
