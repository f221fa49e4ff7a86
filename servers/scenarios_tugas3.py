"""Tugas 3 in the lab: the file server on mesin1 (progjar4a protocol). Every command in turn, two clients at
once, and the lecturer's recv(32) server answering one long request with one ERROR per chunk."""
from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Optional

from servers.labcore import SERVER, Lab, logged, progress
from servers.netlab import LabError

FILE_PORT = 6666
SCENARIOS = ("tugas3-commands", "tugas3-concurrent", "tugas3-legacy")
CAPTURES = {s: f"{s}.pcap" for s in SCENARIOS}
FILES = ()


def text_file(title: str, size: int) -> bytes:
    """A deterministic text file of exactly `size` bytes (readable in Follow TCP Stream after base64 decoding)."""
    lines, n = [], 0
    while sum(map(len, lines)) < size:
        n += 1
        lines.append(f"{n:03d} Pemrograman Jaringan - Tugas 3 - {title} - baris ke-{n}\n".encode())
    return b"".join(lines)[:size - 1] + b"\n"


def file_facts(name: str, content: bytes) -> dict:
    return {"name": name, "bytes": len(content), "sha256": hashlib.sha256(content).hexdigest()}


def put(folder: Path, name: str, content: bytes) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(content)
    return file_facts(name, content)


def client(lab: Lab, host: str, *args: str):
    return lab.program(host, "file_client.py", ["--server", SERVER, *args], cwd=lab.machine_dir(host))


def server(lab: Lab, *args: str):
    proc = lab.program("mesin1", "file_server.py", list(args), cwd=lab.machine_dir("mesin1"))
    proc.wait_for(r"waiting for connections", 10)
    return proc


def listed(step: dict) -> list[str]:
    return logged(step, r"^- (.+)$")


def commands(lab: Lab) -> dict:
    served = put(lab.fresh_dir("mesin1", "files"), "catatan.txt", text_file("catatan di server", 1500))
    sent = put(lab.machine_dir("mesin2"), "laporan.txt", text_file("laporan yang diunggah", 3000))

    def body():
        progress(f"tugas3-commands: file_server.py on mesin1:{FILE_PORT}; LIST, UPLOAD, LIST, GET, DELETE, LIST "
                 "from mesin2")
        srv = server(lab, "--max-clients", "6")
        plan = [("LIST", ["list"]), ("UPLOAD", ["upload", "laporan.txt"]), ("LIST", ["list"]),
                ("GET", ["get", "laporan.txt", "-o", "laporan-salinan.txt"]), ("DELETE", ["delete", "laporan.txt"]),
                ("LIST", ["list"])]
        steps, requests = [], []
        for command, args in plan:
            step = lab.finish(client(lab, "mesin2", *args), 20)
            steps.append(step)
            request = {"command": command, "status": "OK"}
            if command == "LIST":
                request["data"] = listed(step)
            else:
                request["file"] = sent
            requests.append(request)
        copy = (lab.machine_dir("mesin2") / "laporan-salinan.txt").read_bytes()
        if file_facts("laporan.txt", copy) != sent:
            raise LabError("tugas3-commands: the downloaded laporan.txt differs from the uploaded one")
        expected = {
            "assignment": "tugas3", "server": f"{SERVER}:{FILE_PORT}", "client": steps[0]["address"],
            "tasks": {"T1": "pass", "T2": "pass", "T3": "pass", "T4": "pass", "T5": "pass"},
            "connections": len(plan), "requests": requests, "files": {"served": served, "uploaded": sent},
            "terminator": "every request and every reply ends with \\r\\n\\r\\n",
        }
        return [lab.finish(srv, 15), *steps], expected, (
            f"One command per connection from mesin2 to the file server on port {FILE_PORT}: LIST (catatan.txt), "
            f"UPLOAD laporan.txt (3000 bytes, as base64), LIST now shows it, GET brings it "
            "back (same sha256), DELETE, and the last LIST no longer shows it. Each request and each JSON reply "
            "ends with \\r\\n\\r\\n.")
    return lab.scenario("tugas3-commands", CAPTURES["tugas3-commands"], "mesin1", "eth0", body)


def concurrent(lab: Lab) -> dict:
    served = put(lab.fresh_dir("mesin1", "files"), "buku.txt", text_file("buku di server", 8000))
    sent = put(lab.machine_dir("mesin2"), "tugas-mesin2.txt", text_file("unggahan lambat dari mesin2", 8000))

    def body():
        progress("tugas3-concurrent: a slow UPLOAD from mesin2 (4 KB/s, about 3 s) and a GET from mesin3 meanwhile")
        srv = server(lab, "--max-clients", "2")
        slow = client(lab, "mesin2", "--rate", "4000", "upload", "tugas-mesin2.txt")
        srv.wait_for(r"UPLOAD tugas-mesin2.txt", 10)
        time.sleep(0.5)
        fast = client(lab, "mesin3", "get", "buku.txt")
        steps = [lab.finish(fast, 20), lab.finish(slow, 30)]
        steps.insert(0, lab.finish(srv, 15))
        expected = {
            "assignment": "tugas3", "server": f"{SERVER}:{FILE_PORT}",
            "tasks": {"T2": "pass", "T5": "pass", "T6": "pass"},  # T3 needs a later LIST: not in this capture
            "verdict": "concurrent",
            "connections": [{"client": steps[2]["address"], "command": "UPLOAD", "file": sent, "status": "OK"},
                            {"client": steps[1]["address"], "command": "GET", "file": served, "status": "OK"}],
            "overlap": "mesin3's GET is answered while mesin2's UPLOAD is still arriving",
        }
        return steps, expected, (
            "Two clients at once: mesin2 uploads tugas-mesin2.txt slowly (--rate 4000 bytes/s, about 3 s); half a "
            "second in, mesin3 asks GET buku.txt and gets its reply at once, while mesin2's base64 is still "
            "arriving. The pool serves both connections at the same time.")
    return lab.scenario("tugas3-concurrent", CAPTURES["tugas3-concurrent"], "mesin1", "eth0", body)


def legacy(lab: Lab) -> dict:
    lab.fresh_dir("mesin1", "files")
    sent = put(lab.machine_dir("mesin2"), "pesan.txt", text_file("pesan pendek", 300))
    request_bytes = len("UPLOAD pesan.txt ") + 4 * ((len(text_file("", 300)) + 2) // 3)
    chunks = -(-request_bytes // 32)

    def body():
        progress("tugas3-legacy: file_server.py --legacy-recv32 (the lecturer's loop); LIST, then a "
                 f"{request_bytes}-byte UPLOAD without terminator")
        srv = server(lab, "--legacy-recv32", "--max-clients", "2")
        short = lab.finish(client(lab, "mesin2", "--no-terminator", "--drain", "1", "list"), 20)
        long = lab.finish(client(lab, "mesin2", "--no-terminator", "--drain", "1", "upload", "pesan.txt"), 20,
                          expect_rc=1)
        if f"(and {chunks - 1} more replies to the same request)" not in long["log"][-1]:
            raise LabError(f"tugas3-legacy: expected {chunks} replies to the UPLOAD: {long['log'][-1]}")
        expected = {
            "assignment": "tugas3", "server": f"{SERVER}:{FILE_PORT}", "server_variant": "lecturer recv(32) loop",
            "tasks": {"T1": "pass", "T5": "fail"},
            "requests": [{"command": "LIST", "bytes": 4, "replies": 1, "status": "OK"},
                         {"command": "UPLOAD", "file": sent, "bytes": request_bytes, "replies": chunks,
                          "status": "ERROR"}],
            "terminator": "none from the client (like file_client_cli.py); replies end with \\r\\n\\r\\n",
        }
        return [lab.finish(srv, 15), short, long], expected, (
            "The lecturer's server loop (progjar4a file_server.py): every recv(32) chunk is run as a command of "
            "its own. LIST fits in one chunk and is answered OK; the "
            f"{request_bytes}-byte UPLOAD of pesan.txt (sent without terminator, like file_client_cli.py) gets "
            f"{chunks} ERROR replies, one per 32-byte chunk, and the file is not stored.")
    return lab.scenario("tugas3-legacy", CAPTURES["tugas3-legacy"], "mesin1", "eth0", body)


def run(lab: Lab, scenario: str, server_mode: Optional[str]) -> list[dict]:
    chosen = SCENARIOS if scenario == "all" else (scenario,)
    return [{"tugas3-commands": commands, "tugas3-concurrent": concurrent, "tugas3-legacy": legacy}[s](lab)
            for s in chosen]
