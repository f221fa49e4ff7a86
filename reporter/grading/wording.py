"""The class page's and the gradebook's words, in the grader's language (English and Indonesian).

Kept with class grading rather than with the report renderers: a report never shows these, and
the two catalogues change for different reasons. ``reporter.render.i18n.Lang`` reads them.
"""
from __future__ import annotations

# The class summary page (reporter/classpage.py) and the gradebook's flags, in the grader's language.
CLASS_EN: dict[str, str] = {
    "title": "Class summary", "student": "Student", "verdict": "T4 verdict", "captures": "Captures",
    "rtt": "Handshake RTT (ms)", "dns": "DNS latency (ms)", "wait": "T4 wait (s)", "warnings": "Warnings",
    "flags": "To check", "similar": "Similar to", "rates": "Pass rates per task",
    "dist": "Distributions (one value per student)", "rtt_c": "Handshake RTT, median per student (ms)",
    "dns_c": "DNS latency, median per student (ms)", "wait_c": "T4: longest wait of a later client (s)",
    "outliers": "Outliers", "pairs": "Similar captures: evidence to review, never a verdict",
    "none": "none", "errors": "Unreadable or damaged captures", "sortnote": "Click a column header to sort.",
    "students": "students", "no_data": "no data",
    "pass": "pass", "partial": "partial", "fail": "fail", "absent": "absent",
    "serial": "serial", "concurrent": "concurrent",
    "no-aaaa": "only A queried, no AAAA", "no-lab-traffic": "no lab traffic (wrong interface?)",
    "loopback-only": "only loopback traffic (captured on lo?)",
    "off-window": "captured {hours} h from the class median", "many-anomalies": "{n} TCP anomalies",
    "crafted": "packets look crafted: {hints}", "unreadable": "{n} unreadable capture(s)",
    "no-captures": "no capture handed in",
    "identical-file": "identical file", "same-content": "same frames, re-saved or time-shifted",
    "shared-values": "shared random-per-run values", "shift": "start shifted by {s} s",
    "isn": "TCP ISNs", "tsval": "TCP timestamps", "mac": "client MACs", "tuple": "client IP:port",
    "dnsid": "DNS ids", "shares": "shares",
}

CLASS_ID: dict[str, str] = {
    "title": "Ringkasan kelas", "student": "Mahasiswa", "verdict": "Putusan T4", "captures": "Tangkapan",
    "rtt": "RTT jabat tangan (ms)", "dns": "Latensi DNS (ms)", "wait": "Tunggu T4 (detik)",
    "warnings": "Peringatan", "flags": "Perlu dicek", "similar": "Mirip dengan",
    "rates": "Tingkat kelulusan per tugas", "dist": "Sebaran (satu nilai per mahasiswa)",
    "rtt_c": "RTT jabat tangan TCP, median per mahasiswa (ms)",
    "dns_c": "Latensi DNS, median per mahasiswa (ms)", "wait_c": "T4: tunggu terlama klien berikutnya (detik)",
    "outliers": "Pencilan", "pairs": "Tangkapan yang mirip: bukti untuk diperiksa, bukan vonis",
    "none": "tidak ada", "errors": "Tangkapan yang rusak atau tak terbaca",
    "sortnote": "Klik judul kolom untuk mengurutkan.", "students": "mahasiswa", "no_data": "tidak ada data",
    "pass": "lulus", "partial": "sebagian", "fail": "gagal", "absent": "tidak ada",
    "serial": "serial", "concurrent": "bersamaan",
    "no-aaaa": "hanya kueri A, tanpa AAAA", "no-lab-traffic": "tidak ada lalu lintas lab (antarmuka salah?)",
    "loopback-only": "hanya lalu lintas loopback (ditangkap di lo?)",
    "off-window": "ditangkap {hours} jam dari median kelas", "many-anomalies": "{n} anomali TCP",
    "crafted": "paket tampak dibuat dengan alat: {hints}", "unreadable": "{n} tangkapan tak terbaca",
    "no-captures": "tidak ada tangkapan yang dikumpulkan",
    "identical-file": "berkas identik", "same-content": "frame sama, disimpan ulang atau digeser waktunya",
    "shared-values": "nilai acak per sesi yang sama", "shift": "awal bergeser {s} detik",
    "isn": "ISN TCP", "tsval": "timestamp TCP", "mac": "MAC klien", "tuple": "IP:port klien",
    "dnsid": "id DNS", "shares": "berbagi",
}

CLASS_CATALOGUES = {"en": CLASS_EN, "id": CLASS_ID}
