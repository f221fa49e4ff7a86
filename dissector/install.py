"""`progjar dissector install|uninstall|path`: put the plugin and the "progjar" profile where
Wireshark looks for them, without clobbering anything that is not ours.

Wireshark itself is asked where its personal folders are (`tshark -G folders`), because they
differ by version and platform; without tshark the documented defaults are used (4.0+: Lua
plugins in ~/.local/lib/wireshark/plugins on Linux and macOS, %APPDATA%\\Wireshark\\plugins on
Windows; configuration in $XDG_CONFIG_HOME/wireshark or ~/.config/wireshark, %APPDATA%\\Wireshark).
Our copy of progjar.lua is recognised by the marker on its first line, so a student's own
progjar.lua is reported, never deleted, and uninstall removes only what install wrote.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLUGIN = HERE / "progjar.lua"
PROFILE = HERE / "profile"
PROFILE_NAME = "progjar"
MARKER = "PROGJAR-LAB WIRESHARK PLUGIN"
PROFILE_STAMP = ".progjar-lab-profile"  # written into the installed profile: "this folder is ours"


@dataclass
class Folders:
    """Wireshark's personal folders: where a Lua plugin and a configuration profile go."""

    lua_plugins: Path
    config: Path
    source: str  # "tshark -G folders" or "defaults"

    @property
    def plugin_file(self) -> Path:
        return self.lua_plugins / "progjar.lua"

    @property
    def profile_dir(self) -> Path:
        return self.config / "profiles" / PROFILE_NAME

    @property
    def profile_stamp(self) -> Path:
        return self.profile_dir / PROFILE_STAMP


def _default_folders() -> Folders:
    home = Path(os.path.expanduser("~"))
    if sys.platform.startswith("win"):
        appdata = Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming") / "Wireshark"
        return Folders(appdata / "plugins", appdata, "defaults")
    xdg = os.environ.get("XDG_CONFIG_HOME")
    config = (Path(xdg) if xdg else home / ".config") / "wireshark"
    return Folders(home / ".local" / "lib" / "wireshark" / "plugins", config, "defaults")


def parse_folders(text: str) -> dict[str, str]:
    """`tshark -G folders` output ("Personal Lua Plugins:\\t/path") as a dict."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and value.strip() and key.strip() not in out:
            out[key.strip()] = value.strip()
    return out


def find_folders() -> Folders:
    """Ask tshark (it knows its version's layout); fall back to the documented defaults."""
    tshark = shutil.which("tshark")
    if tshark:
        try:
            p = subprocess.run([tshark, "-G", "folders"], capture_output=True, text=True, timeout=30,
                               stdin=subprocess.DEVNULL, check=False)
            f = parse_folders(p.stdout)
            lua, conf = f.get("Personal Lua Plugins"), f.get("Personal configuration")
            if p.returncode == 0 and lua and conf:
                return Folders(Path(lua), Path(conf), "tshark -G folders")
        except (OSError, subprocess.TimeoutExpired):
            pass
    return _default_folders()


def is_ours(path: Path) -> bool:
    """True when the file is a copy of our plugin (the marker sits in its first lines)."""
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as fh:
            head = fh.read(400)
    except OSError:
        return False
    return MARKER in head


def _declares_progjar(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return '"progjar"' in text and "Proto" in text


def other_copies(folders: Folders) -> list[Path]:
    """Lua files in the personal plugin folders (Wireshark also loads their subfolders) other than
    our plugin_file that register a `progjar` protocol: two would clash at start-up."""
    found: list[Path] = []
    root = folders.lua_plugins
    if not root.is_dir():
        return found
    for p in sorted(root.rglob("*.lua")):
        if p == folders.plugin_file:
            continue
        if is_ours(p) or _declares_progjar(p):
            found.append(p)
    return found


def profile_files() -> list[Path]:
    return sorted(p for p in PROFILE.iterdir() if p.is_file() and not p.name.startswith("."))


def install(folders: Folders) -> int:
    target = folders.plugin_file
    if target.exists() and not is_ours(target):
        print(f"progjar dissector: {target} exists and is not ours; move it away first", file=sys.stderr)
        return 1
    prof = folders.profile_dir
    if prof.exists() and not folders.profile_stamp.exists():
        print(f"progjar dissector: {prof} exists and was not made by us; rename it first", file=sys.stderr)
        return 1
    status = 0
    for old in other_copies(folders):
        if is_ours(old):
            old.unlink()
            print(f"removed an older copy: {old}")
        else:
            print(f"warning: {old} also declares a 'progjar' protocol; Wireshark cannot load both "
                  "(remove or rename it)", file=sys.stderr)
            status = 1
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PLUGIN, target)
    print(f"plugin:  {target}")
    prof.mkdir(parents=True, exist_ok=True)
    names = []
    for f in profile_files():
        shutil.copyfile(f, prof / f.name)
        names.append(f.name)
        print(f"profile: {prof / f.name}")
    folders.profile_stamp.write_text("\n".join(names) + "\n", encoding="utf-8")
    print(f"In Wireshark: Edit > Configuration Profiles > {PROFILE_NAME} (or `wireshark -C {PROFILE_NAME}`); "
          f"filter with `progjar`")
    return status


def uninstall(folders: Folders) -> int:
    removed = 0
    target = folders.plugin_file
    if target.exists():
        if is_ours(target):
            target.unlink()
            print(f"removed {target}")
            removed += 1
        else:
            print(f"left {target} alone: it is not the progjar-lab plugin", file=sys.stderr)
    prof, stamp = folders.profile_dir, folders.profile_stamp
    if stamp.exists():
        for name in stamp.read_text(encoding="utf-8").split():
            p = prof / name
            if p.is_file() and "/" not in name and "\\" not in name:
                p.unlink()
                print(f"removed {p}")
                removed += 1
        stamp.unlink()
        try:
            prof.rmdir()  # only when Wireshark added nothing of the user's own there
        except OSError:
            print(f"kept {prof}: it holds files Wireshark or you added")
    if not removed:
        print("nothing to remove: the progjar plugin is not installed")
    return 0


def show_path(folders: Folders) -> int:
    state = "installed" if is_ours(folders.plugin_file) else "not installed"  # False when missing
    print(f"plugin:  {folders.plugin_file} ({state})")
    pstate = "installed" if folders.profile_stamp.exists() else "not installed"
    print(f"profile: {folders.profile_dir} ({pstate})")
    for other in other_copies(folders):
        print(f"also:    {other} declares 'progjar' too")
    return 0


def dissector_command(action: str, folders: Folders | None = None) -> int:
    """Entry point of `progjar dissector ACTION`; exit status as DESIGN.md says."""
    folders = folders or find_folders()
    if action == "install":
        return install(folders)
    if action == "uninstall":
        return uninstall(folders)
    if action == "path":
        return show_path(folders)
    print(f"progjar dissector: unknown action {action!r} (install, uninstall, path)", file=sys.stderr)
    return 2
