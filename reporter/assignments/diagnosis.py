"""Why a capture shows none of the assignment's traffic: what it holds instead, and the likely cause.

Why: a capture taken on the wrong interface, or of a server listening on another port, used to
give four "absent" tasks and nothing else, so the student could not tell a wrong capture from
missing work. The diagnosis reads only the report model (connections, lookups, warnings, and
the tasks' facts) with the catalogue's ports in effect, so batch grading of cached JSON and a
fresh report say the same. It runs after the rubric (the pipeline calls it after choose()), and
adds one model warning, code "no-lab-traffic", whose facts the renderers say in the reader's
language (``warning_text``).
"""
from __future__ import annotations

from collections import Counter
from typing import Any, Optional

from reporter.assignments import Assignment
from reporter.assignments.wording import Say, say
from reporter.model import Report, Warning
from reporter.reading.packet import is_loopback

CODE = "no-lab-traffic"
MAX_PORTS = 6  # server ports listed with their connection counts; more are summed up as "…"

# One sentence per kind: what the capture holds, the likely cause and what to do.
WORDING: dict[str, Say] = {
    "no-frames": Say(
        "The capture holds no frames at all. Likely cause: it was stopped or saved before any packet came, or a "
        "capture filter matched nothing. Capture again on the server's interface (eth0 of mesin-1, or the lab "
        "bridge) while the clients run, and save it after the traffic (File > Save As, .pcapng).",
        "Tangkapan ini tidak memuat frame sama sekali. Kemungkinan penyebabnya: perekaman dihentikan atau disimpan "
        "sebelum ada paket yang datang, atau filter penangkapan tidak cocok dengan paket apa pun. Tangkap ulang "
        "paket pada antarmuka server (eth0 di mesin-1, atau bridge praktikum) selama klien berjalan, lalu simpan "
        "setelah lalu lintasnya selesai (File > Save As, .pcapng)."),
    "dns-only": Say(
        "The capture holds no lab traffic for this assignment: only {dns:,} DNS lookup(s) and no TCP connection, "
        "while the assignment's server is on port(s) {lab_ports}. Likely cause: the capture ran while only a name "
        "lookup ran, or on an interface the lab traffic does not cross. Capture on the server's interface (eth0 of "
        "mesin-1, or the lab bridge) while the clients run.",
        "Tangkapan ini tidak memuat lalu lintas praktikum untuk tugas ini: hanya {dns:,} kueri DNS dan tidak ada "
        "koneksi TCP, padahal server tugas ini berada pada port {lab_ports}. Kemungkinan penyebabnya: perekaman "
        "berlangsung ketika hanya pencarian nama yang berjalan, atau pada antarmuka yang tidak dilalui lalu lintas "
        "praktikum. Tangkap paket pada antarmuka server (eth0 di mesin-1, atau bridge praktikum) selama klien "
        "berjalan."),
    "no-ip": Say(
        "The capture holds no lab traffic: none of its {packets:,} frames belongs to a TCP connection or a DNS lookup "
        "({non_ip:,} of them are not IP at all, such as ARP). Likely cause: the capture ran on an interface the lab "
        "traffic does not cross, or while no lab program was running. Capture on the server's interface (eth0 of "
        "mesin-1, or the lab bridge) while the clients run.",
        "Tangkapan ini tidak memuat lalu lintas praktikum: tidak satu pun dari {packets:,} frame-nya termasuk koneksi "
        "TCP atau kueri DNS ({non_ip:,} di antaranya bahkan bukan IP, misalnya ARP). Kemungkinan penyebabnya: paket "
        "ditangkap pada antarmuka yang tidak dilalui lalu lintas praktikum, atau ketika program praktikum tidak "
        "berjalan. Tangkap paket pada antarmuka server (eth0 di mesin-1, atau bridge praktikum) selama klien "
        "berjalan."),
    "loopback": Say(
        "The capture holds no lab traffic: its {tcp:,} TCP connection(s) all stay on the loopback interface "
        "(127.0.0.1 or ::1), to server port(s) {ports} (port and number of connections); none goes to the lab's ports ({lab_ports}). "
        "Likely cause: the capture ran on lo while the lab programs talk over the network. Capture on eth0 (or on "
        "any) instead, and check the port the server listens on.",
        "Tangkapan ini tidak memuat lalu lintas praktikum: {tcp:,} koneksi TCP di dalamnya semuanya berada di "
        "antarmuka loopback (127.0.0.1 atau ::1), ke port server {ports} (port dan jumlah koneksi); tidak ada yang "
        "menuju port praktikum ({lab_ports}). Kemungkinan penyebabnya: paket ditangkap pada lo, padahal program praktikum "
        "berkomunikasi lewat jaringan. Tangkap paket pada eth0 (atau any), dan periksa port yang dipakai server."),
    "other-ports": Say(
        "The capture holds no lab traffic: its {tcp:,} TCP connection(s) go to server port(s) {ports} (port and "
        "number of connections), none to the lab's ports ({lab_ports}). Likely cause: the server listens on another port, or the "
        "capture holds other programs' traffic. If your server ran on one of these ports, make the report again with "
        "--port SERVICE=PORT, and in Wireshark add it to the plugin's preference (Edit → Preferences → Protocols → "
        "PROGJAR).",
        "Tangkapan ini tidak memuat lalu lintas praktikum: {tcp:,} koneksi TCP di dalamnya menuju port server "
        "{ports} (port dan jumlah koneksi), tidak ada yang ke port praktikum ({lab_ports}). Kemungkinan penyebabnya: server "
        "mendengarkan pada port lain, atau tangkapan ini berisi lalu lintas program lain. Jika server Anda berjalan "
        "pada salah satu port tersebut, buat ulang laporan dengan --port LAYANAN=PORT; di Wireshark, tambahkan port itu "
        "pada preferensi plugin (Edit → Preferences → Protocols → PROGJAR)."),
    "service-elsewhere": Say(
        "The capture holds no connection to the lab's ports ({lab_ports}), but the lab's service was seen on another "
        "port: {seen}. Likely cause: the server ran on that port. Make the report again with {options} to judge it "
        "there, and in Wireshark add the port to the plugin's preference (Edit → Preferences → Protocols → "
        "PROGJAR); the assignment itself asks for port(s) {lab_ports}.",
        "Tangkapan ini tidak memuat koneksi ke port praktikum ({lab_ports}), tetapi layanan praktikum terlihat di "
        "port lain: {seen}. Kemungkinan penyebabnya: server berjalan pada port itu. Buat ulang laporan dengan "
        "{options} agar dinilai di sana, dan di Wireshark tambahkan port itu pada preferensi plugin (Edit → "
        "Preferences → Protocols → PROGJAR); tugas ini sendiri meminta port {lab_ports}."),
}


def _count_in(report: Report, code: str) -> int:
    """The frame count a reading warning states ("4 frame(s) carry no IPv4/IPv6 ...")."""
    return next((w.count() for w in report.warnings if w.code == code), 0)


def _port_counts(ports: Counter) -> list[str]:
    """'5000 (3)' per server port, busiest first; more than MAX_PORTS end in '…'."""
    top = sorted(ports.items(), key=lambda kv: (-kv[1], kv[0]))
    out = [f"{p} ({n})" for p, n in top[:MAX_PORTS]]
    return out + ["…"] if len(top) > MAX_PORTS else out


def _seen_elsewhere(report: Report, a: Assignment, ports: dict[str, int]) -> dict[str, int]:
    """service -> port where the assignment's service was seen off its port: said by a task's facts
    (a rubric that found the service elsewhere states `service` and `seen_port`) or by a connection
    recognised by content (its `service` set while its port is not the service's port in effect)."""
    names = {s.name for s in a.services}
    seen: dict[str, int] = {}
    for t in report.tasks:
        svc, port = t.facts.get("service"), t.facts.get("seen_port")
        if svc in names and isinstance(port, int):
            seen.setdefault(svc, port)
    for c in report.connections:
        if c.service in names and c.server.port != ports.get(c.service):
            seen.setdefault(c.service, c.server.port)
    return seen


def diagnose(report: Report, a: Assignment, ports: dict[str, int], host: str) -> Optional[Warning]:
    """The "no-lab-traffic" warning when the capture holds no connection to the assignment's TCP
    ports in effect and no lookup of `host` (for an assignment with a DNS service); else None."""
    tcp_ports = {ports[s.name] for s in a.services if s.transport == "tcp" and s.name in ports}
    has_dns = any(s.framing == "dns" for s in a.services)
    if any(c.server.port in tcp_ports for c in report.connections):
        return None
    wanted = host.lower().rstrip(".")
    if has_dns and any(d.name.lower().rstrip(".") == wanted for d in report.dns):
        return None
    lab_ports = sorted(tcp_ports)
    facts: dict[str, Any] = {"packets": report.capture.packets, "tcp": len(report.connections),
                             "dns": len(report.dns), "lab_ports": lab_ports}
    elsewhere = _seen_elsewhere(report, a, ports)
    if elsewhere:
        kind = "service-elsewhere"
        facts["seen"] = [f"{svc} (port {port})" for svc, port in elsewhere.items()]
        facts["options"] = [f"--port {svc}={port}" for svc, port in elsewhere.items()]
    elif not report.connections:
        if report.dns and has_dns:  # lookups of other names only: T1 names them; nothing else to diagnose
            return None
        kind = "dns-only" if report.dns else "no-ip" if report.capture.packets else "no-frames"
        facts["non_ip"] = _count_in(report, "non-ip")
    else:
        counts = Counter(c.server.port for c in report.connections)
        facts["ports"] = _port_counts(counts)
        loop = all(is_loopback(c.client.ip) and is_loopback(c.server.ip) for c in report.connections)
        kind = "loopback" if loop else "other-ports"
    facts["kind"] = kind
    return Warning(CODE, say(WORDING[kind], facts), None, "warning", facts)


def warning_text(w: Warning, lang: str) -> Optional[str]:
    """A diagnosis warning in the reader's language from its facts (None for any other warning, or
    facts this version cannot say)."""
    if w.code != CODE:
        return None
    text = WORDING.get(str(w.facts.get("kind")))
    if text is None:
        return None
    try:
        return say(text, w.facts, lang)
    except (KeyError, IndexError, ValueError):
        return None
