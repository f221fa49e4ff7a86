"""The time server and client of Tugas 2 on loopback: every line answered once, whole, whatever its
segmentation; QUIT closes; bad, huge and broken clients cannot hurt it; serial mode serves one at a time."""
from __future__ import annotations

import re
import signal
import socket
import struct
import threading
import time
from pathlib import Path

import pytest

from tests.programs import one_error_line, recv_all, run_client, start_fixture

JAM = re.compile(rb"JAM ([01]\d|2[0-3]):[0-5]\d:[0-5]\d\r\n")


@pytest.fixture
def start(tmp_path: Path):
    yield from start_fixture(tmp_path)


def read_line(s: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        part = s.recv(1)
        if not part:
            break
        data += part
    return data


def nothing_arrives(s: socket.socket, wait: float) -> bool:
    s.settimeout(wait)
    try:
        return s.recv(100) == b"never"
    except socket.timeout:
        return True
    finally:
        s.settimeout(5)


def seconds_of(reply: bytes) -> int:
    h, m, sec = (int(x) for x in reply[4:12].split(b":"))
    return h * 3600 + m * 60 + sec


def test_time_reply_is_the_local_clock_and_quit_closes(start) -> None:
    server = start("time_server.py")
    with server.connect() as s:
        before = time.localtime()
        s.sendall(b"TIME\r\n")
        reply = read_line(s)
        assert JAM.fullmatch(reply), reply
        now = before.tm_hour * 3600 + before.tm_min * 60 + before.tm_sec
        assert (seconds_of(reply) - now) % 86400 <= 2, "the server's local time, within 2 s"
        s.sendall(b"QUIT\r\n")
        assert recv_all(s) == b"", "QUIT: no reply, the server closes"
    server.wait_for(r"QUIT: closing")


def test_twenty_clients_at_once_are_all_answered(start) -> None:
    server = start("time_server.py", "--max-clients", "20")
    socks = [server.connect() for _ in range(20)]
    replies: list = [None] * 20
    try:
        def ask(i: int) -> None:
            socks[i].sendall(b"TIME\r\n")
            replies[i] = read_line(socks[i])

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(15)
        assert all(r is not None and JAM.fullmatch(r) for r in replies), replies
        for s in socks:  # every connection is still open and served
            s.sendall(b"QUIT\r\n")
            assert recv_all(s) == b""
    finally:
        for s in socks:
            s.close()
    assert server.proc.wait(10) == 0
    assert len(re.findall(r"connection from", server.text())) == 20


def test_a_line_cut_into_single_bytes_is_answered_once_when_complete(start) -> None:
    server = start("time_server.py")
    with server.connect() as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for byte in b"TIME\r":
            s.sendall(bytes([byte]))
            assert nothing_arrives(s, 0.1), f"no reply before the line is complete (after {bytes([byte])!r})"
        s.sendall(b"\n")
        assert JAM.fullmatch(read_line(s))
        assert nothing_arrives(s, 0.3), "exactly one reply"
        s.sendall(b"TIME\r\nTI")  # one and a half lines in one segment
        assert JAM.fullmatch(read_line(s))
        assert nothing_arrives(s, 0.2)
        s.sendall(b"ME\n")  # a bare \n ends a line too
        assert JAM.fullmatch(read_line(s))


def test_bytewise_client_sends_one_byte_per_segment_and_checks_replies(start) -> None:
    server = start("time_server.py")
    p = run_client("time_client.py", "--port", str(server.port), "--bytewise", "--requests", "TIME,HELLO,QUIT",
                   "--interval", "0.05", "--byte-pause", "0.01")
    assert p.returncode == 0, p.stderr
    assert len(re.findall(r"received 'JAM \d\d:\d\d:\d\d'", p.stderr)) == 1
    assert "received 'ERROR unknown request'" in p.stderr
    assert "server closed the connection after QUIT" in p.stderr
    log = server.text()
    assert "'TIME' -> 'JAM" in log and "'HELLO' -> 'ERROR unknown request'" in log


def test_unknown_empty_and_garbage_lines_get_an_error_reply(start) -> None:
    server = start("time_server.py")
    with server.connect() as s:
        for line in (b"HELLO\r\n", b"\r\n", b"time\r\n", b"\xff\xfe\x00garbage\r\n", b"TIME NOW\r\n"):
            s.sendall(line)
            assert read_line(s) == b"ERROR unknown request\r\n", line
        s.sendall(b"TIME\n")
        assert JAM.fullmatch(read_line(s))


def test_a_huge_line_gets_an_error_and_the_connection_closes(start) -> None:
    server = start("time_server.py", "--max-line", "1024")
    with server.connect() as s:
        s.sendall(b"A" * 100_000)  # never a newline
        assert recv_all(s) == b"ERROR line too long\r\n", "the reason, then the server closes"
    server.wait_for(r"without a newline: closing")
    with server.connect() as s:  # the server is still there for the next client
        s.sendall(b"TIME\r\n")
        assert JAM.fullmatch(read_line(s))
    assert server.proc.poll() is None


def test_resets_and_vanished_clients_do_not_stop_the_server(start) -> None:
    server = start("time_server.py")
    rude = server.connect()
    rude.sendall(b"TIM")
    rude.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    rude.close()  # RST in the middle of a line
    gone = server.connect()
    gone.sendall(b"TIME\r\nTI")
    gone.close()  # leaves without reading its reply, mid-line
    server.wait_for(r"gone: ConnectionResetError")
    p = run_client("time_client.py", "--port", str(server.port), "--interval", "0")
    assert p.returncode == 0, p.stderr
    assert server.proc.poll() is None
    assert len(re.findall(r"connection from", server.text())) == 3


def test_serial_mode_answers_the_second_client_only_after_the_first_quits(start) -> None:
    server = start("time_server.py", "--mode", "serial")
    first, second = server.connect(), server.connect()  # both handshakes complete (kernel backlog)
    try:
        first.sendall(b"TIME\r\n")
        assert JAM.fullmatch(read_line(first))
        second.sendall(b"TIME\r\n")
        assert nothing_arrives(second, 0.8), "queued behind the first client"
        first.sendall(b"TIME\r\n")
        assert JAM.fullmatch(read_line(first)), "the first client is still being served"
        first.sendall(b"QUIT\r\n")
        assert recv_all(first) == b""
        second.settimeout(5)
        assert JAM.fullmatch(read_line(second)), "served once the first has quit"
    finally:
        first.close()
        second.close()


def test_lecturer_format(start) -> None:
    server = start("time_server.py", "--format", "lecturer")
    with server.connect() as s:
        s.sendall(b"TIME\r\n")
        assert re.fullmatch(rb"JAM \d\d-\d\d-\d{4} \d\d:\d\d:\d\d\r\n", read_line(s))
        s.sendall(b"HELLO\r\n")
        assert read_line(s) == b"ERROR\r\n"
    p = run_client("time_client.py", "--port", str(server.port), "--format", "lecturer", "--interval", "0")
    assert p.returncode == 0, p.stderr


def fake_server(behaviour) -> tuple[socket.socket, threading.Thread]:
    """A one-client server on loopback whose replies are given by behaviour(connection)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(10)
            try:
                behaviour(conn)
            except OSError:
                pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return listener, t


@pytest.mark.parametrize("behaviour, reason", [
    (lambda c: (read_line(c), c.sendall(b"JAM 25:61:00\r\n")), "bad reply to 'TIME': 'JAM 25:61:00'"),
    (lambda c: (read_line(c), time.sleep(3)), "no reply from 127.0.0.1:"),
    (lambda c: read_line(c), "no reply to 'TIME': the server closed the connection"),
    (lambda c: [(read_line(c), c.sendall(b"JAM 10:00:00\r\n")) for _ in range(3)],
     "QUIT did not close the connection"),
])
def test_client_names_what_went_wrong(behaviour, reason) -> None:
    listener, t = fake_server(behaviour)
    with listener:
        p = run_client("time_client.py", "--port", str(listener.getsockname()[1]), "--requests", "TIME,TIME,QUIT",
                       "--interval", "0", "--timeout", "1", timeout=20)
        t.join(10)
    assert p.returncode == 1
    assert reason in one_error_line(p.stderr, "time_client"), p.stderr


def test_client_usage_errors() -> None:
    p = run_client("time_client.py", "--requests", "QUIT,TIME", timeout=20)
    assert p.returncode == 2
    assert "QUIT only as the last one" in one_error_line(p.stderr, "time_client")


def test_sigterm_stops_a_serial_server_with_a_client_connected(start) -> None:
    server = start("time_server.py", "--mode", "serial")
    idle = server.connect()
    try:
        server.wait_for(r"connection from")
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(10) == 0
    finally:
        idle.close()
    assert "shutting down" in server.text() and "Traceback" not in server.text()
