"""The file server and client of Tugas 3 / the ETS on loopback: every command, names that escape the root
refused, many clients on both pools, a 100 MB file through bounded memory, and the lecturer's recv(32) bug."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import signal
import socket
import struct
import threading
import time
from pathlib import Path

import pytest

from tests.programs import one_error_line, recv_all, recv_until, run_client, start_fixture

END = b"\r\n\r\n"


@pytest.fixture
def start(tmp_path: Path):
    yield from start_fixture(tmp_path)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    r.mkdir()
    return r


def ask(server, request: bytes, end: bytes = END) -> dict:
    """One request on its own connection; the reply must be one JSON object and one terminator."""
    with server.connect() as s:
        s.sendall(request + end)
        data = recv_until(s, END)
        s.shutdown(socket.SHUT_WR)
        rest = recv_all(s)
    assert data.endswith(END) and data.count(END) == 1 and rest == b"", (data[:200], rest[:200])
    return json.loads(data[:-4])


def client(server, *args: str, cwd: Path | None = None, timeout: float = 120):
    return run_client("file_client.py", "--port", str(server.port), *args, cwd=cwd, timeout=timeout)


def test_every_command_with_the_lecturers_reply_keys(start, root: Path) -> None:
    server = start("file_server.py", "--root", str(root))
    assert ask(server, b"LIST") == {"status": "OK", "data": []}
    content = os.urandom(3000)
    up = ask(server, b"UPLOAD donal.bin " + base64.b64encode(content))
    assert up == {"status": "OK", "data": "donal.bin uploaded", "data_namafile": "donal.bin", "data_size": 3000,
                  "data_sha256": hashlib.sha256(content).hexdigest()}
    assert (root / "donal.bin").read_bytes() == content
    assert ask(server, b"list") == {"status": "OK", "data": ["donal.bin"]}, "commands are case-insensitive"
    got = ask(server, b"GET donal.bin")
    assert list(got) == ["status", "data_namafile", "data_size", "data_file"]
    assert got["status"] == "OK" and got["data_namafile"] == "donal.bin" and got["data_size"] == 3000
    assert base64.b64decode(got["data_file"]) == content
    assert ask(server, b"DELETE donal.bin") == {"status": "OK", "data": "donal.bin deleted",
                                                "data_namafile": "donal.bin"}
    assert ask(server, b"LIST") == {"status": "OK", "data": []}
    assert ask(server, b"GET donal.bin")["status"] == "ERROR"
    assert ask(server, b"HELLO world") == {"status": "ERROR", "data": "request tidak dikenali"}
    assert ask(server, b"UPLOAD x.bin") == {"status": "ERROR", "data": "data_file missing"}
    assert ask(server, b"UPLOAD x.bin QUJD$$==")["status"] == "ERROR"
    assert ask(server, b"UPLOAD x.bin QUJDRA")["data"].startswith("data_file is not valid base64")
    assert sorted(os.listdir(root)) == [], "failed uploads leave nothing behind"


def test_the_client_commands_end_to_end(start, root: Path, tmp_path: Path) -> None:
    server = start("file_server.py", "--root", str(root))
    src = tmp_path / "berkas.pdf"
    src.write_bytes(os.urandom(70_000))
    p = client(server, "upload", str(src))
    assert p.returncode == 0 and "confirmed by the server" in p.stderr, p.stderr
    p = client(server, "list")
    assert p.returncode == 0 and p.stdout.splitlines() == ["daftar file:", "- berkas.pdf"]
    p = client(server, "get", "berkas.pdf", "-o", str(tmp_path / "copy.pdf"))
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "copy.pdf").read_bytes() == src.read_bytes()
    assert hashlib.sha256(src.read_bytes()).hexdigest() in p.stderr
    p = client(server, "delete", "berkas.pdf")
    assert p.returncode == 0 and not (root / "berkas.pdf").exists()
    p = client(server, "get", "berkas.pdf", "-o", str(tmp_path / "again.pdf"))
    assert p.returncode == 1
    assert "GET berkas.pdf: server says ERROR" in one_error_line(p.stderr, "file_client")
    assert not list(tmp_path.glob("again.pdf*")), "a failed download leaves no file"


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a/b", "a\\b", "..", ".hidden", "x..y", "nul\x00x"])
def test_names_that_could_leave_the_root_are_refused(start, root: Path, tmp_path: Path, name: str) -> None:
    server = start("file_server.py", "--root", str(root))
    (tmp_path / "x").write_text("outside")
    raw = name.encode()
    for request in (b"GET " + raw, b"DELETE " + raw, b"UPLOAD " + raw + b" " + base64.b64encode(b"pwned")):
        answer = ask(server, request)
        assert answer["status"] == "ERROR", (request, answer)
        assert "not allowed" in answer["data"]
    assert (tmp_path / "x").read_text() == "outside"
    assert os.listdir(root) == []
    assert {p.name for p in tmp_path.iterdir() if not p.name.endswith(".log")} == {"root", "x"}


def test_a_symlink_inside_the_root_is_not_followed(start, root: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("secret")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    server = start("file_server.py", "--root", str(root))
    assert ask(server, b"GET link.txt")["status"] == "ERROR"
    assert ask(server, b"LIST")["data"] == [], "only regular files are listed"


def test_request_ends_at_terminator_eof_or_idle_pause(start, root: Path) -> None:
    server = start("file_server.py", "--root", str(root), "--idle-end", "0.5")
    with server.connect() as s:  # two requests on one connection, in one segment
        s.sendall(b"LIST" + END + b"GET nope.txt" + END)
        data = recv_until(s, b"nope.txt", 1 << 16)
        data += recv_until(s, END) if data.count(END) < 2 else b""
        assert data.count(END) == 2 and b'"OK"' in data.split(END)[0] and b'"ERROR"' in data.split(END)[1]
    with server.connect() as s:  # no terminator, the client shuts its sending side: EOF ends the request
        s.sendall(b"LIST")
        s.shutdown(socket.SHUT_WR)
        assert json.loads(recv_all(s)[:-4]) == {"status": "OK", "data": []}
    with server.connect() as s:  # no terminator, no EOF (the lecturer's client): the pause ends it
        t0 = time.monotonic()
        s.sendall(b"LIST")
        reply = recv_until(s, END)
        assert json.loads(reply[:-4])["status"] == "OK"
        assert 0.4 < time.monotonic() - t0 < 3
    with server.connect() as s:  # a short request that never ends is refused
        s.sendall(b"GET " + b"a" * 10_000)
        answer = json.loads(recv_until(s, END)[:-4])
        assert answer == {"status": "ERROR", "data": "request longer than 4096 bytes"}


@pytest.mark.parametrize("pool", ["thread", "process"])
def test_fifty_clients_at_once(start, root: Path, tmp_path: Path, pool: str) -> None:
    server = start("file_server.py", "--root", str(root), "--pool", pool, "--workers", "5")
    p = client(server, "stress", "--operation", "upload,download", "--size", "64KB", "--clients", "50",
               "--files-dir", str(tmp_path / "src"), "--json", str(tmp_path / "t.json"))
    assert p.returncode == 0, p.stderr
    rows = json.loads((tmp_path / "t.json").read_text())["rows"]
    assert [(r["operation"], r["clients"], r["successes"], r["failures"]) for r in rows] == [
        ("upload", 50, 50, 0), ("download", 50, 50, 0)]
    assert (root / "stress-64KB.bin").read_bytes() == (tmp_path / "src" / "stress-64KB.bin").read_bytes()
    assert len(re.findall(r"connection from", server.text())) >= 100
    assert "internal error" not in server.text()


def vm_hwm_kb(pid: int) -> int:
    m = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(m.group(1))


@pytest.mark.slow
@pytest.mark.parametrize("pool", ["thread", "process"])
def test_a_100_mb_file_both_ways_in_bounded_memory(start, root: Path, tmp_path: Path, pool: str) -> None:
    size = 100 * 1000 * 1000
    src = tmp_path / "big.bin"
    sha = hashlib.sha256()
    with open(src, "wb") as f:
        for _ in range(100):
            block = os.urandom(size // 100)
            sha.update(block)
            f.write(block)
    server = start("file_server.py", "--root", str(root), "--pool", pool, "--workers", "2")
    p = client(server, "upload", str(src))
    assert p.returncode == 0, p.stderr
    assert f"{size} bytes, sha256 {sha.hexdigest()}, confirmed by the server" in p.stderr
    peaks = {pid: vm_hwm_kb(pid) for pid in [server.proc.pid, *server.children()]}
    assert max(peaks.values()) < 60_000, f"server peak RSS (kB) during a 100 MB upload: {peaks}"
    p = client(server, "get", "big.bin", "-o", str(tmp_path / "back.bin"))
    assert p.returncode == 0, p.stderr
    assert f"{size} bytes, sha256 {sha.hexdigest()}" in p.stderr
    peaks = {pid: vm_hwm_kb(pid) for pid in [server.proc.pid, *server.children()]}
    assert max(peaks.values()) < 60_000, f"server peak RSS (kB) after the 100 MB download: {peaks}"
    assert os.path.getsize(tmp_path / "back.bin") == size


def test_legacy_recv32_answers_every_chunk_of_one_request(start, root: Path) -> None:
    server = start("file_server.py", "--root", str(root), "--legacy-recv32")
    request = b"UPLOAD catatan.txt " + base64.b64encode(b"Pemrograman Jaringan, ETS. " * 11)
    assert len(request) > 400
    with server.connect() as s:
        s.sendall(request)  # like file_client_cli.py: no terminator
        s.settimeout(1.5)
        data = b""
        try:
            while data.count(END) < 13:
                part = s.recv(65536)
                if not part:
                    break
                data += part
        except socket.timeout:
            pass
    replies = [json.loads(r) for r in data.split(END)[:-1]]
    assert len(replies) == -(-len(request) // 32) == 13, "one reply per 32-byte chunk"
    assert all(r["status"] == "ERROR" for r in replies), replies
    assert ask(server, b"LIST") == {"status": "OK", "data": []}, "a request of one chunk works"


def test_the_client_reports_extra_replies(start, root: Path, tmp_path: Path) -> None:
    server = start("file_server.py", "--root", str(root), "--legacy-recv32")
    src = tmp_path / "catatan.txt"
    src.write_bytes(b"Pemrograman Jaringan, ETS. " * 11)
    p = client(server, "--no-terminator", "--drain", "1", "upload", str(src))
    assert p.returncode == 1
    line = one_error_line(p.stderr, "file_client")
    assert "UPLOAD catatan.txt: server says ERROR" in line
    assert line.endswith("(and 12 more replies to the same request)"), "415 bytes: 13 chunks of 32, 13 replies"
    p = client(server, "--no-terminator", "--drain", "1", "list")
    assert p.returncode == 0, p.stderr


def test_server_survives_a_reset_mid_upload_and_keeps_no_partial_file(start, root: Path) -> None:
    server = start("file_server.py", "--root", str(root))
    rude = server.connect()
    rude.sendall(b"UPLOAD half.bin " + base64.b64encode(os.urandom(300_000)))
    rude.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    rude.close()
    server.wait_for(r"gone: ConnectionResetError|closed \('127")
    assert ask(server, b"LIST") == {"status": "OK", "data": []}
    assert os.listdir(root) == [], "no partial or temporary file is left"
    assert server.proc.poll() is None


@pytest.mark.parametrize("pool", ["thread", "process"])
def test_sigterm_with_a_client_connected_stops_cleanly(start, root: Path, pool: str) -> None:
    server = start("file_server.py", "--root", str(root), "--pool", pool, "--workers", "2")
    idle = server.connect()
    try:
        idle.sendall(b"LIS")  # half a request: the worker sits in recv()
        server.wait_for(r"connection from")
        time.sleep(0.2)
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(10) == 0
        assert recv_all(idle) == b"", "the open connection is closed, not left hanging"
    finally:
        idle.close()
    assert "shutting down" in server.text() and "Traceback" not in server.text()


def test_process_pool_worker_sends_its_fin_while_others_are_connected(start, root: Path) -> None:
    server = start("file_server.py", "--root", str(root), "--pool", "process", "--workers", "3")
    other = server.connect()  # an open connection the workers may hold copies of
    try:
        other.sendall(b"LI")
        with server.connect() as s:
            s.sendall(b"LIST" + END)
            assert json.loads(recv_until(s, END)[:-4])["status"] == "OK"
            s.shutdown(socket.SHUT_WR)
            s.settimeout(3)
            assert recv_all(s) == b"", "the server's FIN arrives"
    finally:
        other.close()


def test_pool_processes_do_not_outlive_a_killed_server(start, root: Path) -> None:
    server = start("file_server.py", "--root", str(root), "--pool", "process", "--workers", "3")
    assert ask(server, b"LIST")["status"] == "OK"
    workers = server.children()
    assert workers, "the pool has started its processes"
    server.proc.kill()  # kill -9: no chance to end the pool in order
    server.proc.wait(5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in workers):
        time.sleep(0.1)
    assert not any(Path(f"/proc/{p}").exists() for p in workers), "orphaned pool processes exit by themselves"


def test_stress_table_and_its_files(start, root: Path, tmp_path: Path) -> None:
    server = start("file_server.py", "--root", str(root), "--workers", "2")
    p = client(server, "stress", "--operation", "upload,download", "--size", "1KB,20KB", "--clients", "1,3",
               "--pool", "process", "--files-dir", str(tmp_path / "src"), "--csv", str(tmp_path / "t.csv"),
               "--json", str(tmp_path / "t.json"))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["operation", "file", "size", "clients", "time", "(s)", "time/client", "(s)",
                                "throughput/client", "(B/s)", "successes", "failures"]
    cells = [l.split() for l in lines[1:]]
    assert [(c[0], c[1], c[2], c[-2], c[-1]) for c in cells] == [
        ("upload", "1KB", "1", "1", "0"), ("upload", "1KB", "3", "3", "0"), ("upload", "20KB", "1", "1", "0"),
        ("upload", "20KB", "3", "3", "0"), ("download", "1KB", "1", "1", "0"), ("download", "1KB", "3", "3", "0"),
        ("download", "20KB", "1", "1", "0"), ("download", "20KB", "3", "3", "0")]
    csv_lines = (tmp_path / "t.csv").read_text().splitlines()
    assert csv_lines[0].startswith("operation,file_size,file_size_label,clients,") and len(csv_lines) == 9
    rows = json.loads((tmp_path / "t.json").read_text())["rows"]
    assert all(r["total_time_s"] > 0 and r["throughput_per_client_Bps"] > 0 for r in rows)
    assert (tmp_path / "src" / "stress-20KB.bin").stat().st_size == 20 * 1024


def test_stress_counts_failures_and_exits_1(start, root: Path, tmp_path: Path) -> None:
    server = start("file_server.py", "--root", str(root), "--legacy-recv32")
    p = client(server, "stress", "--operation", "upload", "--size", "2KB", "--clients", "2",
               "--files-dir", str(tmp_path / "src"), "--json", str(tmp_path / "t.json"))
    assert p.returncode == 1
    assert "2 transfers failed; first: upload 2KB: UPLOAD stress-2KB.bin: server says ERROR" in one_error_line(
        p.stderr, "file_client")
    row = json.loads((tmp_path / "t.json").read_text())["rows"][0]
    assert (row["successes"], row["failures"]) == (0, 2)


def fake_server(replies: bytes) -> tuple[socket.socket, threading.Thread]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(10)
            try:
                recv_until(conn, END)
                conn.sendall(replies)
                if not replies:
                    time.sleep(2)  # silent: the client must time out
            except OSError:
                pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return listener, t


@pytest.mark.parametrize("replies, reason", [
    (b'{"status": "OK", "data_namafile": "a.txt", "data_size": 5, "data_file": "QUJD"}' + END,
     "GET a.txt: decoded 3 bytes, the server announced 5"),
    (b'{"status": "OK", "data_namafile": "a.txt", "data_file": "QUJ"}' + END, "not valid base64"),
    (b'{"status": "OK", "data_namafile": "a.txt", "data_file": "QUJD', "the server closed the connection before"),
    (b'not json' + END, "reply is not JSON"),
    (b"", "timed out after 1.0 s"),
])
def test_client_names_what_went_wrong(tmp_path: Path, replies: bytes, reason: str) -> None:
    listener, t = fake_server(replies)
    with listener:
        p = run_client("file_client.py", "--port", str(listener.getsockname()[1]), "--timeout", "1", "get", "a.txt",
                       cwd=tmp_path, timeout=20)
        t.join(10)
    assert p.returncode == 1
    assert reason in one_error_line(p.stderr, "file_client"), p.stderr
    assert not list(tmp_path.glob("a.txt*")), "nothing written"
