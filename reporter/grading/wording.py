"""The class page's, the gradebook's and the Moodle feedback's words, in English and Indonesian.

Kept with class grading rather than with the report renderers: a report never shows these, and
the two catalogues change for different reasons. Indonesian is written as a lecturer writes course
material: formal and natural, Wireshark's menu names and "frame" left as they are, "berkas
tangkapan" for a capture file, numbers the Indonesian way (1.234,5) through ``number``.

Placeholders are ``str.format`` fields; numbers are formatted by the caller with ``Words.num``.
"""
from __future__ import annotations

from typing import Any

from reporter.assignments.wording import Say, number, say
from reporter.reading import filekind
from reporter.reading.archive import PROBLEMS

CLASS_EN: dict[str, str] = {
    # the class page
    "title": "Class summary", "student": "Student", "score": "Score", "captures": "Captures",
    "rtt": "Handshake RTT (ms)", "dns": "DNS latency (ms)", "wait": "Later client's wait (s)",
    "h_rtt": "RTT (ms)", "h_dns": "DNS (ms)", "h_wait": "Wait (s)",
    "warnings": "Warnings", "flags": "To check", "similar": "Similar to",
    "rates": "Pass rates per task", "dist": "Distributions (one value per student)",
    "rtt_c": "Handshake RTT, median per student (ms)", "dns_c": "DNS latency, median per student (ms)",
    "wait_c": "Longest wait of a later client, per student (s)",
    "outliers": "To check, per student", "pairs": "Similar captures: evidence to review, never a verdict",
    "none": "none", "errors": "Unreadable or damaged captures", "sortnote": "Click a column header to sort.",
    "students": "students", "no_data": "no data", "assignment": "Assignment", "report": "report",
    "mixed": "The captures were judged as several assignments ({counts}); this table shows {a}. "
             "Run again with --assignment to judge every capture as one assignment.",
    "filter": "Show", "f_all": "every student", "f_flagged": "students with something to check",
    "f_similar": "students with a similar capture", "f_notpass": "{t} not passed", "f_shown": "{n} of {m} shown",
    "warn_note": "Warnings count what may change a result; information such as ARP frames is not counted.",
    "pass": "pass", "partial": "partial", "fail": "fail", "absent": "absent",
    "serial": "serial", "concurrent": "concurrent",
    # flags ("To check")
    "no-aaaa": "only A queried, no AAAA", "no-lab-traffic": "no lab traffic (wrong interface?)",
    "loopback-only": "only loopback traffic (captured on lo?)",
    "no-lab-traffic-loopback": "no lab traffic, only loopback to port(s) {ports} (captured on lo?)",
    "no-frames": "a capture without any frame",
    "no-lab-traffic-dns": "only DNS lookups, no TCP connection",
    "no-lab-traffic-ports": "nothing on the assignment's port(s) {lab_ports}, only on port(s) {ports}",
    "service-elsewhere": "{seen} instead of the assignment's port(s) {lab_ports}: judge it there with {options}",
    "off-window": "captured {hours} h away from the class median", "many-anomalies": "{n} TCP anomalies",
    "crafted": "packets look made by a tool, not a kernel: {hints}",
    "unreadable": "{n} file(s) could not be read", "no-captures": "no capture handed in",
    "no-captures-others": "no capture handed in, only {n} other file(s): {files}",
    "not-captures": "{n} file(s) named like a capture but not one",
    "damaged": "{n} capture(s) cut or damaged (read up to the damage)",
    "other-assignment": "{n} capture(s) judged as {ids}, not {a}",
    # similarity, in plain words: what is shared, and what it usually means
    "sim_identical": "the same file, byte for byte: one capture handed in twice",
    "sim_content": "the same frames saved again (another format or shifted times): one capture re-saved",
    "sim_shift": "its start moved by {s} s",
    "sim_isn": "the same TCP initial sequence numbers in {n} connection(s): a copied capture, or a re-saved one",
    "sim_tsval": "the same TCP timestamps in {n} connection(s): a copied capture, or a re-saved one",
    "sim_dns": "the same DNS query ids in {n} lookup(s): a copied capture, or, with few of them, chance",
    "sim_ports": "the same client port numbers in {n} connection(s): a copied capture, or, with few of them, chance",
    # crafted-packet hints
    "h_ipid_zero": "the IPv4 id is 0 in all {n} packets",
    "h_ipid_seq": "{ip} numbers its IPv4 ids 1, 2, 3… across {n} connections",
    "h_csum_zero": "the TCP checksum is zero in all {n} segments",
    "h_odd_ttl": "an unusual IP TTL or hop limit ({ttl})",
    "h_round_isn": "round or tiny TCP initial sequence numbers",
    "h_same_isn": "one initial sequence number starts several connections",
    "h_regular": "{n} of {m} gaps between frames are exactly {ms} ms",
    # the gradebook (summary.csv)
    "c_student": "student", "c_id": "moodle id", "c_score": "score", "c_verdicts": "verdicts",
    "c_captures": "captures", "c_errors": "files with problems", "c_warnings": "warnings", "c_flags": "to check",
    "c_similar": "similar to", "c_report": "report",
    # Moodle feedback comments
    "fb_head": "{a}: score {score} of 100.", "fb_task": "{t} {status}: {reason}", "fb_fix": "What to change: {fix}",
    "fb_allpass": "Every task passes.", "fb_none": "No capture (pcap or pcapng) was handed in.",
    "fb_none_others": "No capture (pcap or pcapng) was handed in, only {n} other file(s): {files}. Hand in the "
                      "capture file Wireshark saves (File > Save As, .pcapng).",
    "fb_unreadable": "{file} could not be read: {why}", "fb_not_capture": "{file} is not a capture: {why}",
    "not_capture": "not a capture: {why}",
    "fb_other": "{file} was judged as {other}, not as {a}.",
    # the score rule, on the combined report's cover
    "score_rule": "Per task: pass 1, partial 0.5, fail or absent 0; {weights}; scaled to 100.",
    "w_equal": "every task weighs the same", "w_given": "weights {w}",
}

CLASS_ID: dict[str, str] = {
    # halaman kelas
    "title": "Ringkasan kelas", "student": "Mahasiswa", "score": "Nilai", "captures": "Berkas tangkapan",
    "rtt": "RTT handshake (ms)", "dns": "Latensi DNS (ms)", "wait": "Waktu tunggu klien berikutnya (detik)",
    "h_rtt": "RTT (ms)", "h_dns": "DNS (ms)", "h_wait": "Tunggu (detik)",
    "warnings": "Peringatan", "flags": "Perlu diperiksa", "similar": "Mirip dengan",
    "rates": "Persentase kelulusan per tugas", "dist": "Sebaran (satu nilai per mahasiswa)",
    "rtt_c": "RTT handshake, median per mahasiswa (ms)", "dns_c": "Latensi DNS, median per mahasiswa (ms)",
    "wait_c": "Waktu tunggu terlama klien berikutnya, per mahasiswa (detik)",
    "outliers": "Hal yang perlu diperiksa per mahasiswa",
    "pairs": "Berkas tangkapan yang mirip: bahan untuk diperiksa, bukan keputusan",
    "none": "tidak ada", "errors": "Berkas tangkapan yang rusak atau tidak dapat dibaca",
    "sortnote": "Klik judul kolom untuk mengurutkan.", "students": "mahasiswa", "no_data": "tidak ada data",
    "assignment": "Penugasan", "report": "laporan",
    "mixed": "Berkas tangkapan dinilai sebagai beberapa tugas yang berbeda ({counts}); tabel ini menampilkan {a}. "
             "Jalankan ulang dengan --assignment agar semua berkas tangkapan dinilai sebagai satu tugas.",
    "filter": "Tampilkan", "f_all": "semua mahasiswa", "f_flagged": "mahasiswa yang perlu diperiksa",
    "f_similar": "mahasiswa dengan berkas tangkapan yang mirip", "f_notpass": "{t} belum terpenuhi",
    "f_shown": "{n} dari {m} ditampilkan",
    "warn_note": "Kolom peringatan hanya menghitung hal yang dapat mengubah hasil; informasi seperti frame ARP "
                 "tidak dihitung.",
    "pass": "terpenuhi", "partial": "sebagian", "fail": "gagal", "absent": "tidak ditemukan",
    "serial": "serial", "concurrent": "konkuren",
    # tanda untuk diperiksa
    "no-aaaa": "hanya kueri A, tanpa AAAA", "no-lab-traffic": "tidak ada lalu lintas lab (salah memilih antarmuka?)",
    "loopback-only": "hanya lalu lintas loopback (direkam pada lo?)",
    "no-lab-traffic-loopback": "tidak ada lalu lintas praktikum, hanya loopback ke port {ports} (direkam pada lo?)",
    "no-frames": "berkas tangkapan tanpa satu frame pun",
    "no-lab-traffic-dns": "hanya kueri DNS, tanpa koneksi TCP",
    "no-lab-traffic-ports": "tidak ada lalu lintas pada port tugas ({lab_ports}), hanya pada port {ports}",
    "service-elsewhere": "{seen}, bukan pada port tugas ({lab_ports}): nilai di sana dengan {options}",
    "off-window": "waktu perekamannya berselisih {hours} jam dari median kelas", "many-anomalies": "{n} anomali TCP",
    "crafted": "paket tampaknya dibuat dengan alat, bukan oleh kernel: {hints}",
    "unreadable": "{n} berkas tidak dapat dibaca", "no-captures": "tidak mengumpulkan berkas tangkapan",
    "no-captures-others": "tidak mengumpulkan berkas tangkapan, hanya {n} berkas lain: {files}",
    "not-captures": "{n} berkas dinamai seperti berkas tangkapan, padahal bukan",
    "damaged": "{n} berkas tangkapan terpotong atau rusak (dibaca sampai bagian yang rusak)",
    "other-assignment": "{n} berkas tangkapan dinilai sebagai {ids}, bukan {a}",
    # kemiripan, dengan kata-kata biasa
    "sim_identical": "berkasnya sama persis, byte demi byte: satu berkas tangkapan dikumpulkan dua kali",
    "sim_content": "frame-nya sama, hanya disimpan ulang (format lain atau waktu digeser): satu berkas tangkapan "
                   "yang disimpan ulang",
    "sim_shift": "awalnya bergeser {s} detik",
    "sim_isn": "nomor urut awal (ISN) TCP yang sama pada {n} koneksi: berkas tangkapan yang disalin, atau yang "
               "disimpan ulang",
    "sim_tsval": "timestamp TCP yang sama pada {n} koneksi: berkas tangkapan yang disalin, atau yang disimpan ulang",
    "sim_dns": "ID kueri DNS yang sama pada {n} kueri: berkas tangkapan yang disalin, atau, bila hanya sedikit, "
               "kebetulan",
    "sim_ports": "nomor port klien yang sama pada {n} koneksi: berkas tangkapan yang disalin, atau, bila hanya "
                 "sedikit, kebetulan",
    # petunjuk paket buatan
    "h_ipid_zero": "ID IPv4 bernilai 0 pada semua {n} paket",
    "h_ipid_seq": "{ip} memberi ID IPv4 berurutan 1, 2, 3… pada {n} koneksi",
    "h_csum_zero": "checksum TCP bernilai nol pada semua {n} segmen",
    "h_odd_ttl": "TTL atau hop limit IP yang tidak lazim ({ttl})",
    "h_round_isn": "nomor urut awal TCP yang bulat atau sangat kecil",
    "h_same_isn": "satu nomor urut awal dipakai untuk memulai beberapa koneksi",
    "h_regular": "{n} dari {m} jeda antar-frame tepat {ms} ms",
    # buku nilai (summary.csv)
    "c_student": "mahasiswa", "c_id": "id moodle", "c_score": "nilai", "c_verdicts": "kesimpulan",
    "c_captures": "berkas tangkapan", "c_errors": "berkas bermasalah", "c_warnings": "peringatan",
    "c_flags": "perlu diperiksa", "c_similar": "mirip dengan", "c_report": "laporan",
    # komentar umpan balik di Moodle
    "fb_head": "{a}: nilai {score} dari 100.", "fb_task": "{t} {status}: {reason}",
    "fb_fix": "Yang perlu diperbaiki: {fix}",
    "fb_allpass": "Semua tugas terpenuhi.", "fb_none": "Tidak ada berkas tangkapan (pcap atau pcapng) yang dikumpulkan.",
    "fb_none_others": "Tidak ada berkas tangkapan (pcap atau pcapng) yang dikumpulkan, hanya {n} berkas lain: "
                      "{files}. Kumpulkan berkas tangkapan yang disimpan Wireshark (File > Save As, .pcapng).",
    "fb_unreadable": "{file} tidak dapat dibaca: {why}", "fb_not_capture": "{file} bukan berkas tangkapan: {why}",
    "not_capture": "bukan berkas tangkapan: {why}",
    "fb_other": "{file} dinilai sebagai {other}, bukan sebagai {a}.",
    # aturan nilai, pada sampul laporan gabungan
    "score_rule": "Per tugas: terpenuhi 1, sebagian 0,5, gagal atau tidak ditemukan 0; {weights}; dikonversi ke skala 100.",
    "w_equal": "bobot setiap tugas sama", "w_given": "bobot {w}",
}

CLASS_CATALOGUES = {"en": CLASS_EN, "id": CLASS_ID}

# Why a hand-in's file could not be read (reporter/reading/archive.py PROBLEMS says them in English).
ARCHIVE_ID: dict[str, str] = {
    "folder-unreadable": "folder tidak dapat dibaca: {why}",
    "unreadable": "tidak dapat dibaca: {why}",
    "zip-broken": "bukan zip yang dapat dibaca ({why})",
    "zip-members": "zip berisi {n:,} entri, melebihi batas {limit:,}",
    "zip-climbs": "ditolak: jalurnya keluar dari zip (..)",
    "zip-absolute": "ditolak: jalurnya absolut",
    "zip-nul": "ditolak: namanya memuat byte NUL",
    "zip-symlink": "ditolak: tautan simbolis",
    "zip-depth": "zip di dalam zip di dalam zip: hanya satu tingkat zip bersarang yang dibuka",
    "zip-encrypted": "dienkripsi (dilindungi kata sandi) di dalam zip sehingga tidak dapat dibaca; mintalah "
                     "berkas tanpa kata sandi",
    "zip-member-size": "ditolak: {size:,} byte setelah didekompresi, melebihi batas {limit:,}",
    "zip-bomb": "ditolak: ukurannya mengembang lebih dari {ratio} kali (zip bomb?)",
    "zip-method": "dikompresi dengan metode {method} yang tidak dapat dibaca di sini; buat ulang zip-nya dengan "
                  "alat yang umum",
    "zip-total": "ditolak: isi semua zip pada proses ini melebihi {limit:,} byte",
    "zip-member-damaged": "anggota zip rusak ({why})",
    "zip-member-unreadable": "tidak dapat dibaca: {why}",
    "gzip-broken": "bukan berkas gzip yang dapat dibaca ({why})",
}


# A handed-in file that is not a capture: what it is instead (reporter/reading/filekind.py KINDS).
NOT_A_CAPTURE = "not-a-capture"
_SAVE_AS_ID = "kumpulkan berkas tangkapan yang disimpan Wireshark (File > Save As, .pcapng)"
NOT_CAPTURE_ID: dict[str, str] = {
    "empty": "berkas kosong",
    "gzip": "berkas terkompresi gzip yang isinya bukan pcap atau pcapng",
    "gzip-broken": "berkas gzip yang tidak dapat didekompresi (rusak atau terpotong)",
    "image": "gambar {format}, mungkin tangkapan layar; " + _SAVE_AS_ID,
    "pdf": "dokumen PDF; selain laporan, " + _SAVE_AS_ID,
    "office": "zip atau dokumen Office (docx, xlsx, pptx); " + _SAVE_AS_ID,
    "archive": "arsip {format} yang tidak dapat dibuka di sini; " + _SAVE_AS_ID + ", atau zip-nya",
    "other-capture": "berkas tangkapan berformat {format}, yang tidak dapat dibaca di sini; buka di Wireshark "
                     "lalu simpan sebagai pcapng (File > Save As)",
    "export": "hasil ekspor Wireshark berformat {format} (File > Export Packet Dissections) yang tidak memuat "
              "paket untuk dianalisis; " + _SAVE_AS_ID,
    "html": "halaman HTML; " + _SAVE_AS_ID,
    "text": "berkas teks yang diawali \u201c{start}\u201d; " + _SAVE_AS_ID,
    "unknown": "format berkasnya tidak dikenal (empat byte pertamanya {magic})",
}


def not_capture_text(facts: dict, lang: str) -> str | None:
    """What a handed-in file is instead of a capture, in the grader's language (facts: NOT_A_CAPTURE's)."""
    kind = facts.get("kind")
    if kind not in filekind.KINDS:
        return None
    try:
        return (NOT_CAPTURE_ID if lang == "id" else filekind.KINDS)[kind].format(**facts)
    except (KeyError, IndexError, ValueError):
        return None


def problem_text(code: str | None, facts: dict, english: str, lang: str) -> str:
    """A hand-in problem in the grader's language; problems without a code keep their English text."""
    if code == NOT_A_CAPTURE:
        why = not_capture_text(facts, lang)
        return english if why is None else Words(lang).t("not_capture", why=why)
    if code in PROBLEMS and code in ARCHIVE_ID:
        try:
            return say(Say(PROBLEMS[code], ARCHIVE_ID[code]), facts, lang)
        except (KeyError, IndexError, ValueError):
            return english
    return english


class Words:
    """One language of the class catalogue: ``t(key, **fields)`` and numbers the language's way."""

    def __init__(self, lang: str) -> None:
        if lang not in CLASS_CATALOGUES:
            raise ValueError(f"unknown language {lang!r} (en or id)")
        self.lang = lang
        self.cat = CLASS_CATALOGUES[lang]

    def t(self, key: str, **fields: Any) -> str:
        text = self.cat.get(key, key)
        try:
            return text.format(**fields) if fields else text
        except (KeyError, IndexError, ValueError):
            return text

    def num(self, x: float, spec: str = ",") -> str:
        """1,234.5 in English, 1.234,5 in Indonesian (one decimal separator per language)."""
        return number(x, spec, self.lang)

    def score(self, x: float) -> str:
        """A score as the class page, gradebook and feedback show it: up to two decimals, no trailing zeros."""
        return self.num(x, ",.2f").rstrip("0").rstrip(".,")
