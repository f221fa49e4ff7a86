"""Shared test policy: what a test needs (root, tshark, ...) is required in CI and skipped, with the
reason, only on a developer machine that truly lacks it."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests import wireshark
from tests.wireshark import Wireshark

ROOT = Path(__file__).resolve().parent.parent
SAMPLES_ROOT = ROOT / "samples"  # one folder per assignment, each with its manifest
SAMPLES = SAMPLES_ROOT / "tugas1"  # the Tugas 1 captures most tests are built on
ALL_SAMPLES = sorted(SAMPLES_ROOT.rglob("*.pcap*"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_tool(*names: str) -> None:
    """Skip (locally) or fail (in CI) when a command-line tool is missing."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        msg = f"needs {', '.join(missing)} (run `make deps` as root to install)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)


def require_root() -> None:
    if os.geteuid() != 0:
        if IN_CI:
            pytest.fail("needs root (network namespaces); CI runs as root")
        pytest.skip("needs root (network namespaces)")


def tshark(args: list[str], home: Path | Wireshark, timeout: float = 120, check_lua: bool = True,
           plugins: bool = False) -> subprocess.CompletedProcess:
    """Run tshark with a private HOME (so no installed plugin copy interferes).

    `home` is a folder (this machine's tshark, run as we are: for tshark as an oracle, without the
    plugin) or a tests.wireshark.Wireshark with its HOME (a given version, run so that it loads user
    Lua scripts also when we are root, and raising if it did not: see tests/wireshark.py; `plugins`
    when the plugin is expected from the HOME's personal plugin folder rather than `-X lua_script:`).

    tshark exits 0 even when a Lua plugin fails to load: it only says "tshark: Lua: syntax
    error ..." or "Lua: Error during loading" on stderr (4.0 to 4.6), so stderr is checked here.
    An error raised while the plugin dissects a frame never reaches stderr: it becomes the frame's
    `_ws.lua.error` field, which tests ask for themselves (test_dissector).
    """
    if isinstance(home, Wireshark):
        p = home.run("tshark", args, timeout=timeout, plugins=plugins)
        where = f"tshark {home.version}"
    else:
        assert not any(a.startswith("lua_script:") for a in args), \
            "the plugin runs through tests.wireshark (as root, 4.4+ would skip it without a word)"
        require_tool("tshark")
        env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
        p = subprocess.run(["tshark", *args], capture_output=True, text=True, env=env, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        where = "tshark"
    err = "\n".join(l for l in p.stderr.splitlines() if "Running as user" not in l and l.strip())
    assert p.returncode == 0, f"{where} {' '.join(args)} failed: {err}"
    if check_lua:
        assert "Lua" not in err and "lua" not in err, f"Lua error from {where}: {err}"
    return p


@pytest.fixture
def tshark_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


@pytest.fixture(scope="module", params=wireshark.IDS)
def ws(request, tmp_path_factory) -> Wireshark:
    """The plugin's tests run on each Wireshark version students may have (tests/wireshark.py),
    each with a private HOME, the plugin proven to load in it (as root too)."""
    return wireshark.get(request.param).with_home(tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return SAMPLES


# Tugas 1's lab ports as the catalogue gives them to the TCP analysis (port -> service)
LAB_SERVICES = {10000: "echo", 32444: "file-echo"}
