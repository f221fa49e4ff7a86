"""The Wireshark versions the plugin is tested on, and how tshark/sharkd are run so the plugin is
really loaded, as root too.

Versions: 4.0 (Lua 5.2; Debian 12) and 4.4 / 4.6 (Lua 5.4; Debian 13 / 14), what students install.
Each comes from this machine's own tshark when it is that version, otherwise from a chroot that
.ci/wireshark-chroots.sh builds (`make deps` as root) under /var/cache/progjar-lab/wireshark.

Root: Wireshark decides once, at start-up, whether to run the user's Lua at all. When it was started
with special privileges (on Linux: real or effective uid or gid 0; environment variables such as
WIRESHARK_DATA_DIR are then ignored too), it loads personal plugins, the personal init.lua and
`-X lua_script:` only if the *global* init.lua sets `run_user_scripts_when_superuser = true`
(epan/wslua/init_wslua.c). 4.0 ships a global init.lua that does; 4.2 and later ship none, so as root
they skip the plugin without a word and tshark exits 0. Changing the global init.lua would change
the machine (or differ between host and chroots), so when root every tshark/sharkd here runs as
`nobody` (setpriv; inside the chroot for 4.4/4.6) with a private HOME, on copies of the files it
reads in a private folder that `nobody` owns, removed afterwards. No mounts: nothing to leak.

Loaded or not, never a silent skip: every run that asks for the plugin also loads a probe script
that writes a line to stderr; a run without that line raises. The probe proves user scripts ran;
a progjar.lua that fails to load says "Lua: ..." on stderr, which tests.conftest.tshark rejects;
and `Wireshark.prove_plugin` (once per version) checks `-G protocols` lists progjar.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "dissector" / "progjar.lua"

# Wireshark version -> the Debian suite that packages it (keep in step with .ci/wireshark-chroots.sh)
VERSIONS = {"4.0": "bookworm", "4.4": "trixie", "4.6": "forky"}
IDS = [f"ws{v}" for v in VERSIONS]
CHROOTS = Path(os.environ.get("PROGJAR_WS_CHROOTS", "/var/cache/progjar-lab/wireshark"))
# every version from its chroot, also the one this machine has (as .ci/wireshark-chroots.sh with the
# same variable builds them): tries the set-up of a host that lacks 4.0, e.g. Debian 13
ALL_CHROOTS = bool(os.environ.get("PROGJAR_WS_ALL"))
NOBODY = 65534  # uid and gid of nobody/nogroup on Debian, on the host and in every chroot
SYSPATH = "/usr/sbin:/usr/bin:/sbin:/bin"
PROBE_LINE = "progjar-test: user scripts ran"
PROBE_LUA = f'io.stderr:write("{PROBE_LINE}\\n")\n'
PERSONAL_PLUGINS = Path(".local/lib/wireshark/plugins")  # under HOME, Wireshark 4.x on Linux
# tshark options whose value is a file it reads (the files are copied where tshark can read them)
_FILE_OPTS = {"-r"}


def as_bool(text: str) -> bool | None:
    """A boolean field as tshark prints it: `1`/`0` up to 4.2, `True`/`False` from 4.4 (also in
    sharkd's filter strings); empty when the field is absent."""
    t = text.strip()
    if t in ("1", "True"):
        return True
    if t in ("0", "False"):
        return False
    if t == "":
        return None
    raise ValueError(f"not a boolean as tshark prints one: {text!r}")


def protocols(g_protocols: str) -> set[tuple[str, str, str]]:
    """`tshark -G protocols` as (name, short name, filter name); 4.4+ add enabled/heuristic columns."""
    return {tuple(line.split("\t")[:3]) for line in g_protocols.splitlines() if line.count("\t") >= 2}


def _version_of(cmd: list[str]) -> str | None:
    try:
        p = subprocess.run([*cmd, "--version"], capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL, env={"PATH": SYSPATH, "LANG": "C.UTF-8"}, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"TShark \(Wireshark\) (\d+\.\d+\.\d+)", p.stdout)
    return m.group(1) if m else None


@dataclass(frozen=True)
class Wireshark:
    """One Wireshark version's tshark/sharkd: this machine's own (root None) or a chroot's."""

    id: str                    # ws4.0, ws4.4, ws4.6
    version: str               # as tshark --version says, e.g. 4.4.19
    root: Path | None = None   # chroot folder, None = this machine
    home: Path | None = field(default=None, compare=False)  # the HOME tests prepare (plugins, profiles)
    keep_root: bool = False    # run as root even when we are (only to show what that does)

    @property
    def unprivileged(self) -> bool:
        """Whether runs drop to nobody (we are root, and Wireshark would skip user scripts)."""
        return os.geteuid() == 0 and not self.keep_root

    def with_home(self, home: Path) -> "Wireshark":
        return replace(self, home=home)

    def require(self, tool: str) -> None:
        """Fail (or skip locally) when this version lacks a tool, e.g. sharkd."""
        there = (self.root / "usr" / "bin" / tool).exists() if self.root else shutil.which(tool) is not None
        if not there:
            _unavailable(f"Wireshark {self.version} ({self.id}) has no {tool}")

    @contextmanager
    def stage(self) -> Iterator["Stage"]:
        """A private folder tshark can read (inside the chroot, owned by nobody when root), removed
        on leaving, also when a test fails."""
        base = self.root / "tmp" if self.root else Path(tempfile.gettempdir())
        d = Path(tempfile.mkdtemp(prefix="progjar-ws-", dir=base))
        try:
            yield Stage(self, d)
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def run(self, tool: str, args: list[str], *, timeout: float = 120, input: str | None = None,
            plugins: bool = False) -> subprocess.CompletedProcess:
        """Run `tool` (tshark, sharkd) with args; the files of `-r` and `-X lua_script:` are copied
        in first and the arguments pointed at the copies."""
        with self.stage() as st:
            return st.run(tool, st.args(args), timeout=timeout, input=input, plugins=plugins)

    def prove_plugin(self) -> None:
        """The plugin registers in this version, run as the tests run it: `-G protocols` lists it."""
        p = self.run("tshark", ["-G", "protocols", "-X", f"lua_script:{PLUGIN}"], timeout=120)
        if ("Progjar Lab", "PROGJAR", "progjar") not in protocols(p.stdout):
            raise AssertionError(f"tshark {self.version} ({self.id}) does not list the progjar protocol: "
                                 f"the plugin did not load. stderr: {p.stderr.strip()[:500]}")


@dataclass
class Stage:
    """Files copied where one Wireshark run can read them; paths as that tshark sees them."""

    ws: Wireshark
    dir: Path
    _copies: dict = field(default_factory=dict)

    def inside(self, p: Path) -> str:
        """The path `p` (under the stage) has for tshark: chroot paths start at the chroot."""
        return "/" + str(p.relative_to(self.ws.root)) if self.ws.root else str(p)

    def file(self, src: Path | str) -> str:
        """Copy a file in (once) and return its path for tshark."""
        src = Path(src)
        if src not in self._copies:
            d = self.dir / "files" / str(len(self._copies))
            d.mkdir(parents=True)
            shutil.copy2(src, d / src.name)
            self._copies[src] = self.inside(d / src.name)
        return self._copies[src]

    def args(self, args: list[str]) -> list[str]:
        out, take = [], False
        for a in args:
            if take:
                out.append(self.file(a))
            elif a.startswith("lua_script:"):
                out.append("lua_script:" + self.file(a.split(":", 1)[1]))
            else:
                out.append(a)
            take = a in _FILE_OPTS
        return out

    def run(self, tool: str, args: list[str], *, timeout: float = 120, input: str | None = None,
            plugins: bool = False, stdout: IO[bytes] | None = None) -> subprocess.CompletedProcess:
        """Run `tool` here. A run that loads the plugin (`-X lua_script:` in args, or `plugins=True`
        for the personal plugin folder of the HOME) must show the probe's line on stderr. `stdout`:
        a file for big outputs (then the result's stdout is None)."""
        home = self.dir / "home"
        if home.exists():
            shutil.rmtree(home)
        if self.ws.home is not None and self.ws.home.exists():
            if self.dir.resolve().is_relative_to(self.ws.home.resolve()):
                raise ValueError(f"HOME {self.ws.home} holds the stage folder: give a private folder")
            shutil.copytree(self.ws.home, home, symlinks=True)
        else:
            home.mkdir()
        probe = plugins or any(a.startswith("lua_script:") for a in args)
        if probe:
            (self.dir / "probe.lua").write_text(PROBE_LUA)
            if plugins:
                d = home / PERSONAL_PLUGINS
                d.mkdir(parents=True, exist_ok=True)
                shutil.copy2(self.dir / "probe.lua", d / "zz-progjar-test-probe.lua")
            if any(a.startswith("lua_script:") for a in args):
                last = max(i for i, a in enumerate(args) if a.startswith("lua_script:"))
                args = [*args[:last + 1], "-X", "lua_script:" + self.inside(self.dir / "probe.lua"), *args[last + 1:]]
        env = {"HOME": self.inside(home), "XDG_CONFIG_HOME": self.inside(home / ".config"), "PATH": SYSPATH,
               "LANG": "C.UTF-8", "TZ": "UTC"}
        if self.ws.unprivileged:
            for dirpath, dirnames, filenames in os.walk(self.dir):
                for n in (dirpath, *(os.path.join(dirpath, x) for x in dirnames + filenames)):
                    os.lchown(n, NOBODY, NOBODY)
            cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", tool, *args]
        else:
            cmd = [tool, *args]
            env = {**os.environ, **env, "PATH": os.environ.get("PATH", SYSPATH)}
        if self.ws.root:
            cmd = ["chroot", str(self.ws.root), *cmd]
        p = subprocess.run(cmd, stdout=subprocess.PIPE if stdout is None else stdout, stderr=subprocess.PIPE,
                           text=True, errors="replace", env=env, timeout=timeout, check=False, input=input,
                           stdin=None if input is not None else subprocess.DEVNULL)
        if probe:
            if PROBE_LINE not in p.stderr:
                raise AssertionError(
                    f"{tool} {self.ws.version} ({self.ws.id}) did not run the user's Lua scripts, so the "
                    f"plugin was not loaded (running as uid {os.geteuid() if not self.ws.unprivileged else NOBODY}); "
                    f"stderr: {p.stderr.strip()[:500]}")
            p.stderr = "".join(l for l in p.stderr.splitlines(keepends=True) if PROBE_LINE not in l)
        return p


_resolved: dict[str, Wireshark] = {}


def host() -> Wireshark | None:
    """This machine's tshark, whatever its version (None if there is none)."""
    if "host" not in _resolved:
        exe = shutil.which("tshark")
        v = _version_of([exe]) if exe else None
        if v is None:
            return None
        _resolved["host"] = Wireshark(f"ws{v.rsplit('.', 1)[0]}", v)
    return _resolved["host"]


def _unavailable(msg: str) -> None:
    from tests.conftest import IN_CI  # the shared policy: skip locally, fail in CI

    if IN_CI:
        pytest.fail(msg)
    pytest.skip(msg)


def get(ws_id: str) -> Wireshark:
    """The Wireshark for a test parameter (ws4.0, ws4.4, ws4.6), proven to load the plugin; skips
    (locally) or fails (in CI) when that version is not installed."""
    if ws_id in _resolved:
        return _resolved[ws_id]
    want = ws_id.removeprefix("ws")
    h = host()
    if h is not None and h.id == ws_id and not ALL_CHROOTS:
        ws = h
    else:
        suite = VERSIONS[want]
        root, stamp, error = CHROOTS / suite, CHROOTS / f"{suite}.stamp", CHROOTS / f"{suite}.error"
        if not stamp.is_file() or not (root / "usr" / "bin" / "tshark").exists():
            why = error.read_text().strip() if error.is_file() else f"no chroot in {root}"
            _unavailable(f"Wireshark {want} ({suite}) not installed: {why}; run `make deps` as root "
                         f"(.ci/wireshark-chroots.sh)")
        if os.geteuid() != 0:
            _unavailable(f"Wireshark {want} is in a chroot ({root}): running it needs root (CI runs as root)")
        version = _version_of(["chroot", str(root), "tshark"])
        if version is None or not version.startswith(want + "."):
            pytest.fail(f"the {suite} chroot's tshark is {version}, not {want}.x: rebuild it with "
                        f".ci/wireshark-chroots.sh (or update VERSIONS)")
        ws = Wireshark(ws_id, version, root)
    ws.prove_plugin()
    _resolved[ws_id] = ws
    return ws
