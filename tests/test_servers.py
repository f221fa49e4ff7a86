"""The lab programs on loopback: the echo is exact, nothing is lost, failures say why in one line.

Everything runs on 127.0.0.1 with ephemeral ports; every server started here is stopped by PID.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from servers.echo_client import LAB_MESSAGE
from tests.programs import Program
from tests.conftest import ROOT

SERVERS = ROOT / "servers"


class Server(Program):
    """echo_server.py on 127.0.0.1, any free port, its log in a file (tests/programs.py)."""

    def __init__(self, tmp: Path, *args: str) -> None:
        super().__init__(tmp, "echo_server.py", *args)


@pytest.fixture
def start_server(tmp_path: Path):
    started: list[Server] = []

    def start(*args: str) -> Server:
        s = Server(tmp_path, *args)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def client(port: int, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SERVERS / "echo_client.py"), "--server", "127.0.0.1",
                           "--port", str(port), *args], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def recv_exactly(s: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        part = s.recv(n - len(data))
        if not part:
            break
        data += part
    return data


def test_lab_message_is_echoed_as_32_and_14(start_server) -> None:
    server = start_server("--max-clients", "1")
    p = client(server.port)
    assert p.returncode == 0, p.stderr
    assert "echo complete: 46 bytes ok" in p.stderr
    assert server.proc.wait(10) == 0
    log = server.text()
    assert f"received {LAB_MESSAGE[:32].encode()!r}" in log and f"received {LAB_MESSAGE[32:].encode()!r}" in log
    assert "connection from ('127.0.0.1'" in log and "sending back data" in log
    assert "after echoing 46 bytes" in log


def test_one_megabyte_file_comes_back_whole(start_server, tmp_path: Path) -> None:
    server = start_server("--max-clients", "1")
    data = os.urandom(1 << 20)
    f = tmp_path / "big.bin"
    f.write_bytes(data)
    p = client(server.port, "--file", str(f))
    assert p.returncode == 0, p.stderr
    assert f"echo complete: {len(data)} bytes ok" in p.stderr
    assert server.proc.wait(10) == 0
    assert f"after echoing {len(data)} bytes" in server.text()


def test_repeat_uses_one_connection_with_pauses(start_server) -> None:
    server = start_server("--max-clients", "1")
    t0 = time.monotonic()
    p = client(server.port, "--repeat", "3", "--interval", "0.2")
    elapsed = time.monotonic() - t0
    assert p.returncode == 0, p.stderr
    assert p.stderr.count("echo complete: 46 bytes ok") == 3
    assert elapsed >= 0.4
    assert server.proc.wait(10) == 0
    assert len(re.findall(r"^\S+ connection from \(", server.text(), re.M)) == 1
    assert "after echoing 138 bytes" in server.text()


def _echo_on_all(socks: list[socket.socket], wait: float) -> list[bool]:
    """Send a distinct message on every open connection at once; which ones get their exact echo back?"""
    ok = [False] * len(socks)

    def one(i: int) -> None:
        msg = f"client {i:02d} {LAB_MESSAGE}".encode()
        try:
            socks[i].settimeout(wait)
            socks[i].sendall(msg)
            ok[i] = recv_exactly(socks[i], len(msg)) == msg
        except OSError:
            pass

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(socks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(wait + 5)
    return ok


def test_thread_mode_serves_twenty_clients_at_once(start_server) -> None:
    server = start_server("--mode", "thread", "--backlog", "32", "--max-clients", "20")
    socks = [connect(server.port) for _ in range(20)]
    try:
        assert all(_echo_on_all(socks, wait=10)), "every open connection is echoed while the others stay open"
    finally:
        for s in socks:
            s.close()
    assert server.proc.wait(10) == 0
    assert len(re.findall(r"^\S+ connection from \(", server.text(), re.M)) == 20


def test_serial_mode_keeps_the_second_client_waiting(start_server) -> None:
    server = start_server("--mode", "serial", "--max-clients", "2")
    first, second = connect(server.port), connect(server.port)  # both handshakes complete (kernel backlog)
    try:
        ok = _echo_on_all([first, second], wait=1.0)
        assert ok == [True, False]
        first.close()
        msg = f"client 01 {LAB_MESSAGE}".encode()
        second.settimeout(5)
        assert recv_exactly(second, len(msg)) == msg, "served once the first client has closed"
    finally:
        first.close()
        second.close()
    assert server.proc.wait(10) == 0


def test_server_survives_a_reset_and_a_vanished_client(start_server) -> None:
    server = start_server()
    rude = connect(server.port)
    rude.sendall(b"x" * 4000)
    rude.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    rude.close()  # RST while the server is echoing
    gone = connect(server.port)
    gone.sendall(LAB_MESSAGE.encode())
    gone.close()  # leaves without reading its echo
    p = client(server.port)
    assert p.returncode == 0, p.stderr
    assert server.proc.poll() is None
    log = server.text()
    assert len(re.findall(r"^\S+ connection from \(", log, re.M)) == 3
    assert re.search(r"gone: (ConnectionResetError|BrokenPipeError)", log), "the reset was noticed and survived"


def test_refused_connection_is_one_clear_line() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there
    p = client(port, timeout=20)
    assert p.returncode == 1
    err = [l for l in p.stderr.splitlines() if l.startswith("echo_client:")]
    assert len(err) == 1 and "connection refused" in err[0] and "Traceback" not in p.stderr


def test_corrupted_echo_is_a_mismatch(start_server) -> None:
    server = start_server("--corrupt-offset", "5", "--max-clients", "1")
    p = client(server.port)
    assert p.returncode == 1
    assert "echo_client: echo mismatch at byte 5" in p.stderr
    assert "Traceback" not in p.stderr


def test_silent_server_times_out(tmp_path: Path) -> None:
    with socket.socket() as listener:  # the kernel completes the handshake, nobody ever answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        t0 = time.monotonic()
        p = client(listener.getsockname()[1], "--timeout", "0.5", timeout=20)
    assert p.returncode == 1
    assert "echo_client: timed out after 0.5 s" in p.stderr
    assert time.monotonic() - t0 < 10


def test_short_echo_is_reported() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def half_echo() -> None:
            conn, _ = listener.accept()
            with conn:
                data = recv_exactly(conn, 46)
                conn.sendall(data[:20])

        t = threading.Thread(target=half_echo, daemon=True)
        t.start()
        p = client(listener.getsockname()[1], "--timeout", "5", timeout=20)
        t.join(5)
    assert p.returncode == 1
    assert "echo_client: short echo: server closed after 20 of 46 bytes" in p.stderr


def test_sigterm_stops_the_server_cleanly(start_server) -> None:
    server = start_server()
    idle = connect(server.port)  # a client connected and idle: the serial server sits in recv()
    try:
        server.wait_for(r"connection from")
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(10) == 0
    finally:
        idle.close()
    assert "shutting down" in server.text()
    assert "Traceback" not in server.text()


def test_socket_info_prints_timeouts_and_addresses() -> None:
    # a numeric host: nothing is looked up in the machine's resolver
    p = subprocess.run([sys.executable, str(SERVERS / "socket_info.py"), "--host", "127.0.0.1"],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "timeout: None" and lines[1] == "timeout: 10.0"
    assert "AF_INET 127.0.0.1 port 80" in lines


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    p = client(1, "--file", str(tmp_path / "nope.txt"), timeout=20)
    assert p.returncode == 2
    assert p.stderr.strip() == f"echo_client: cannot read {tmp_path / 'nope.txt'}: No such file or directory"
