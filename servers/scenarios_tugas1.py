"""Tugas 1 in the lab: DNS lookups (T1), the echo (T2), a file echoed (T3), two clients vs one server (T4)."""
from __future__ import annotations

import hashlib
import re
import time
from typing import Optional

from servers.echo_client import LAB_MESSAGE
from servers.labcore import SERVER, Lab, progress
from servers.netlab import BRIDGE, DNS_ADDRESS, DNS_NAME, MACHINES, SWITCH_NS, Proc

ECHO_PORT, FILE_PORT = 10000, 32444
T3_FILE = "t3-file.txt"
SCENARIOS = ("t1", "t2", "t3", "t4")
CAPTURES = {"t1": "t1-dns.pcapng", "t2": "t2-echo.pcap", "t3": "t3-file.pcap",
            "t4-serial": "t4-serial.pcap", "t4-thread": "t4-thread.pcap"}
FILES = (T3_FILE,)  # copied next to the captures


def t3_file_bytes() -> bytes:
    """The text file of task 3: deterministic, a few KB, so it needs several segments and can be checked."""
    abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    lines = [f"{i:03d} Pemrograman Jaringan - Tugas 1 - isi berkas untuk echo di port {FILE_PORT} {abc[i % 26] * 8}\n"
             for i in range(1, 61)]
    return "".join(lines).encode()


def echo(lab: Lab, port: int, mode: str, clients: dict[str, list[str]]) -> tuple[list[dict], Proc]:
    """Server on mesin1, the given clients started together; every program must succeed."""
    server = lab.program("mesin1", "echo_server.py", ["--port", str(port), "--backlog", "1", "--mode", mode,
                                                       "--max-clients", str(len(clients))])
    server.wait_for(r"waiting for a connection", 10)
    running = [lab.program(host, "echo_client.py", ["--server", SERVER, "--port", str(port), *extra])
               for host, extra in clients.items()]
    steps = [lab.finish(c, 60) for c in running]
    return [lab.finish(server, 15), *steps], server


def t1(lab: Lab) -> dict:
    def body():
        before = len(lab.dns.lines())
        steps = []
        for host in ("mesin1", "mesin2"):
            progress(f"t1: socket_info.py on {host}")
            steps.append(lab.finish(lab.program(host, "socket_info.py", []), 20))
        time.sleep(0.3)
        steps.append({"host": "dns", "address": MACHINES["dns"], "command": "dnsmasq (lab DNS server)",
                      "pid": lab.dns.popen.pid, "log": lab.dns.lines()[before:]})
        answers = {"A": [DNS_ADDRESS], "AAAA": []}
        expected = {"task": "T1", "status": "pass", "tcp_connections": 0,
                    "dns": [{"client": MACHINES[h], "server": MACHINES["dns"], "name": DNS_NAME, "qtype": t,
                             "rcode": "NOERROR", "answers": answers[t]}
                            for h in ("mesin1", "mesin2") for t in ("A", "AAAA")]}
        return steps, expected, ("socket_info.py on mesin1 then mesin2: getaddrinfo('www.its.ac.id', 80) "
                                 "sends an A and an AAAA query each; A answered 103.94.189.5, AAAA NOERROR "
                                 "without data. No TCP at all.")
    return lab.scenario("t1", CAPTURES["t1"], SWITCH_NS, BRIDGE, body)


def t2(lab: Lab) -> dict:
    def body():
        progress(f"t2: echo_server.py on mesin1:{ECHO_PORT}, echo_client.py on mesin2")
        steps, _ = echo(lab, ECHO_PORT, "serial", {"mesin2": []})
        expected = {"task": "T2", "status": "pass", "client": MACHINES["mesin2"], "server": f"{SERVER}:{ECHO_PORT}",
                    "request_bytes": len(LAB_MESSAGE), "echo_segments": [32, 14], "first_fin_by": "client",
                    "message": LAB_MESSAGE}
        return steps, expected, ("Echo on port 10000: handshake, the 46-byte lab message in one segment, the "
                                 "echo as 32 + 14 bytes (server recv(32)), client closes first. Captured "
                                 "with tcpdump -i any: Linux cooked v2 (SLL2).")
    return lab.scenario("t2", CAPTURES["t2"], "mesin1", "any", body)


def t3(lab: Lab) -> dict:
    content = t3_file_bytes()
    path = lab.workdir / T3_FILE
    path.write_bytes(content)

    def body():
        progress(f"t3: {len(content)}-byte file echoed on mesin1:{FILE_PORT}")
        steps, _ = echo(lab, FILE_PORT, "serial", {"mesin2": ["--file", str(path)]})
        steps[1]["command"] = steps[1]["command"].replace(str(path), T3_FILE)
        expected = {"task": "T3", "status": "pass", "client": MACHINES["mesin2"], "server": f"{SERVER}:{FILE_PORT}",
                    "file": T3_FILE, "request_bytes": len(content), "sha256": hashlib.sha256(content).hexdigest()}
        return steps, expected, (f"File echo on port 32444: {T3_FILE} ({len(content)} bytes) sent in several "
                                 "full-size segments, echoed back in many small ones; both directions equal "
                                 "the file.")
    return lab.scenario("t3", CAPTURES["t3"], "mesin1", "eth0", body)


def t4(lab: Lab, mode: str) -> dict:
    def body():
        progress(f"t4 ({mode}): clients on mesin2 and mesin3 at once, 3 sends 3 s apart (about "
                 f"{'12' if mode == 'serial' else '6'} s)")
        repeat = ["--repeat", "3", "--interval", "3"]
        steps, server = echo(lab, ECHO_PORT, mode, {"mesin2": repeat, "mesin3": repeat})
        order = [m.group(1) for line in server.lines() if (m := re.search(r"connection from \('([\d.]+)'", line))]
        verdict = "serial" if mode == "serial" else "concurrent"
        expected = {"task": "T4", "status": "pass", "verdict": verdict, "server_mode": mode,
                    "clients": [MACHINES["mesin2"], MACHINES["mesin3"]], "served_order": order,
                    "second_client_wait": "> 2 s, after the first client's FIN" if mode == "serial"
                    else "< 0.5 s"}
        if mode == "serial":
            shows = ("Two clients against the single-threaded server (listen(1)): the second one's handshake "
                     "completes at once and its data is ACKed, but its first echo only comes after the first "
                     "client has closed (about 6 s later).")
        else:
            shows = "The same two clients against the threaded server: both are echoed at once, interleaved."
        return steps, expected, shows
    return lab.scenario(f"t4-{mode}", CAPTURES[f"t4-{mode}"], "mesin1", "eth0", body)


def run(lab: Lab, scenario: str, server_mode: Optional[str]) -> list[dict]:
    """`all` captures both T4 modes; `t4` alone runs --server-mode (serial by default)."""
    if scenario == "all":
        return [t1(lab), t2(lab), t3(lab), t4(lab, "serial"), t4(lab, "thread")]
    if scenario == "t4":
        return [t4(lab, server_mode or "serial")]
    return [{"t1": t1, "t2": t2, "t3": t3}[scenario](lab)]
