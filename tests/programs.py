"""Start the lab programs of servers/ on loopback for tests: any free port, logs in a file, stopped by PID."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT

SERVERS = ROOT / "servers"


class Program:
    """A server from servers/ on 127.0.0.1 port 0; its log goes to a file so a chatty server never blocks."""

    def __init__(self, tmp: Path, script: str, *args: str, cwd: Path | None = None) -> None:
        self.log = tmp / f"{Path(script).stem}-{time.monotonic_ns()}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen([sys.executable, "-u", str(SERVERS / script), "--bind", "127.0.0.1",
                                          "--port", "0", *args], stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=cwd or tmp)
        self.port = int(self.wait_for(r"starting up on 127\.0\.0\.1 port (\d+)").group(1))
        self.wait_for(r"waiting for (a connection|connections)")

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 10) -> re.Match:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = re.search(pattern, self.text())
            if m:
                return m
            assert self.proc.poll() is None, f"server exited early: {self.text()}"
            time.sleep(0.02)
        raise AssertionError(f"server never logged /{pattern}/: {self.text()}")

    def connect(self, timeout: float = 5) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def children(self) -> list[int]:
        """PIDs of the server's own child processes (a process pool's workers)."""
        kids = []
        for task in Path(f"/proc/{self.proc.pid}/task").glob("*"):
            try:
                kids += [int(x) for x in (task / "children").read_text().split()]
            except OSError:
                pass
        return kids

    def stop(self) -> None:
        """SIGTERM (the server ends its pool in order); SIGKILL it and its workers, by PID, if it hangs."""
        if self.proc.poll() is None:
            kids = self.children()
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            for pid in kids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.proc.wait(10)


def start_fixture(tmp_path: Path):
    """Body of a fixture: yields start(script, *args) and stops every program it started, by PID."""
    started: list[Program] = []

    def start(script: str, *args: str, cwd: Path | None = None) -> Program:
        p = Program(tmp_path, script, *args, cwd=cwd)
        started.append(p)
        return p

    try:
        yield start
    finally:
        for p in started:
            p.stop()


def run_client(script: str, *args: str, timeout: float = 60, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SERVERS / script), *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, cwd=cwd)


def recv_until(s: socket.socket, marker: bytes, limit: int = 1 << 27) -> bytes:
    """Read until `marker` has arrived (or the peer closed); returns everything read."""
    data = b""
    while marker not in data and len(data) < limit:
        part = s.recv(65536)
        if not part:
            break
        data += part
    return data


def recv_all(s: socket.socket) -> bytes:
    """Read until the peer closes."""
    data = b""
    while True:
        part = s.recv(65536)
        if not part:
            return data
        data += part


def one_error_line(stderr: str, program: str) -> str:
    """The single `program: reason` line a failing client must print (and no traceback)."""
    assert "Traceback" not in stderr, stderr
    lines = [l for l in stderr.splitlines() if l.startswith(f"{program}:")]
    assert len(lines) == 1, stderr
    return lines[0]
